"""The statistics macros of sql/macros/metrics.sql that have no engine function behind them,
rendered with Jinja and evaluated in Python, against scipy: the two-sided normal p-value
(Marsaglia's series; neither Hive nor Spark has a normal CDF). McNemar's statistic and the
other statistics are checked through the engine in tests/integration/test_models_warehouse.py."""

from __future__ import annotations

import math
import re
from pathlib import Path

import jinja2
import pytest
from scipy import stats

SQL = Path(__file__).resolve().parents[2] / "sql" / "macros"


def _module():
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    env.filters.update(number=repr, sqlstring=repr, ident=str)
    text = (SQL / "util.sql").read_text() + (SQL / "metrics.sql").read_text()
    return env.from_string(text).module


def _python(sql: str) -> str:
    """The few SQL functions these macros use, as Python."""
    out = re.sub(r"CAST\('([^']*)' AS DOUBLE\)", r"float('\1')", sql)
    out = re.sub(r"CAST\(([^()]+?) AS DOUBLE\)", r"float(\1)", out)
    for sql_name, py in (("greatest", "max"), ("least", "min"), ("power", "pow"), ("pi()", "math.pi"),
                         ("exp(", "math.exp("), ("sqrt(", "math.sqrt("), ("abs(", "abs(")):
        out = out.replace(sql_name, py)
    return out


@pytest.mark.parametrize("z", [0.0, 1e-6, 0.5, 1.0, 1.959963984540054, 2.5, 3.3, 4.0, 5.5, 6.5, 7.25, 8.0])
def test_two_sided_normal_p_value_matches_scipy(z):
    expr = _python(str(_module().normal_two_sided_p("a")))
    got = eval(expr, {"math": math, "a": z})
    assert abs(got - 2 * stats.norm.sf(z)) < 1e-13
    assert 0.0 <= got <= 1.0
