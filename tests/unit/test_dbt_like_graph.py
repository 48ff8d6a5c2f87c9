"""DAG order, cycles and selection semantics."""

from __future__ import annotations

import pytest

from mi_warehouse.dbt_like.errors import DependencyCycle, SelectorError
from mi_warehouse.dbt_like.graph import Graph

#   src_a   src_b
#     \     /   \
#     joined    other
#      /   \
#   mart1  mart2      lonely
PARENTS = {
    "src_a": [], "src_b": [], "joined": ["src_b", "src_a"], "other": ["src_b"],
    "mart1": ["joined"], "mart2": ["joined", "other"], "lonely": [],
}
TAGS = {"mart1": ["daily"], "mart2": ["daily", "pii"], "other": ["pii"]}


@pytest.fixture()
def g() -> Graph:
    return Graph(PARENTS, tags=TAGS)


def test_order_is_topological_and_deterministic(g):
    order = g.order()
    assert order == ["lonely", "src_a", "src_b", "joined", "mart1", "other", "mart2"]
    for n, ps in PARENTS.items():
        assert all(order.index(p) < order.index(n) for p in ps)
    assert Graph(dict(reversed(list(PARENTS.items()))), tags=TAGS).order() == order


def test_maps(g):
    assert g.children["src_b"] == ("joined", "other")
    assert g.ancestors("mart2") == {"joined", "other", "src_a", "src_b"}
    assert g.descendants("src_b") == {"joined", "other", "mart1", "mart2"}


@pytest.mark.parametrize("selector, expected", [
    (None, ["lonely", "src_a", "src_b", "joined", "mart1", "other", "mart2"]),
    ("", ["lonely", "src_a", "src_b", "joined", "mart1", "other", "mart2"]),
    ("joined", ["joined"]),
    ("+joined", ["src_a", "src_b", "joined"]),
    ("joined+", ["joined", "mart1", "mart2"]),
    ("+joined+", ["src_a", "src_b", "joined", "mart1", "mart2"]),
    ("tag:pii", ["other", "mart2"]),
    ("+tag:pii", ["src_a", "src_b", "joined", "other", "mart2"]),
    ("tag:daily lonely", ["lonely", "mart1", "mart2"]),
    (["mart1", "other+"], ["mart1", "other", "mart2"]),
    ("  mart1   mart1 ", ["mart1"]),
])
def test_selection(g, selector, expected):
    assert g.select(selector) == expected


@pytest.mark.parametrize("selector, message", [
    ("nope", "no model named nope"),
    ("+nope+", "no model named nope"),
    ("tag:weekly", "no model is tagged weekly"),
    ("path:models/x", "is not a selector"),
    ("a,b", "is not a selector"),
    ("++a", "is not a selector"),
    ([3], "is not a selector string"),
])
def test_bad_selectors(g, selector, message):
    with pytest.raises(SelectorError, match=message):
        g.select(selector)


def test_cycle_detection_reports_the_cycle_only():
    with pytest.raises(DependencyCycle) as e:
        Graph({"a": ["b"], "b": ["c"], "c": ["b"], "d": ["a"]},
              origins={"a": "models/a.sql", "b": "models/b.sql", "c": "models/x/c.sql"})
    assert str(e.value) in ("dependency cycle: models/b.sql -> models/x/c.sql -> models/b.sql",
                            "dependency cycle: models/x/c.sql -> models/b.sql -> models/x/c.sql")
