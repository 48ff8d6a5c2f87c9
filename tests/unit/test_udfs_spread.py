"""How `infer` spreads the TRANSFORM script over a node: instances and decode pools, and the
HiveQL that asks each engine for that many script instances."""

from __future__ import annotations

import re

import pytest

from mi_warehouse.inference.sql import InferPlan, Spread, node_spread


def plan(engine: str, instances: int) -> InferPlan:
    return InferPlan(run_id="r-1", model_name="m", model_version="1.0.0", db="mi", phi_db="mi_phi",
                     cohort="mi.c", work_location="/w", command="python x", instances=instances,
                     engine=engine)


def test_cpu_node_one_instance_per_core_gpu_node_one_per_gpu():
    assert node_spread(2) == Spread(2, 0)
    assert node_spread(16, gpus=1) == Spread(1, 15)
    assert node_spread(16, gpus=8) == Spread(8, 1)
    assert node_spread(0) == Spread(1, 0)
    assert Spread(2, 0).script_args() == ["--decode-processes", "0", "--prefetch", "4"]
    assert Spread(1, 15).script_args()[-1] == "17"  # a batch in flight per decode process


def test_spark_plan_repartitions_the_todo_rows_into_n_tasks():
    p = plan("spark", 3)
    stmts = p.statements()
    transform = stmts[p.TRANSFORM_STATEMENT]
    assert p.TRANSFORM_STATEMENT == 2 and "SELECT TRANSFORM" in transform
    assert "SELECT /*+ REPARTITION(3) */ q.* FROM (" in transform
    assert not any(s.startswith("SET ") for s in stmts)
    assert "REPARTITION" not in plan("spark", 0).statements()[2]


def test_hive_plan_distributes_over_n_reducers_and_resets_the_setting():
    p = plan("hive", 4)
    stmts = p.statements()
    i = p.TRANSFORM_STATEMENT
    assert stmts[i - 2:i] == ["SET hive.tez.auto.reducer.parallelism=false",
                              "SET mapreduce.job.reduces=4"]
    assert re.search(r"\) q\n  DISTRIBUTE BY q.sop_instance_uid\n  \) todo", stmts[i])
    assert stmts[i + 1] == "SET mapreduce.job.reduces=-1" and "/*+" not in stmts[i]
    assert len(stmts) == 5 + 3


def test_hive_variant_parses_with_hives_own_parser():
    from mi_warehouse.dbt_like.hive_parser import HiveParserUnavailable, check_sql

    statements = [s for s in plan("hive", 2).statements() if not s.startswith("SET ")]
    try:
        problems = check_sql(statements)
    except HiveParserUnavailable as exc:
        pytest.skip(f"Hive's parser is not reachable here: {exc}")
    assert problems == []
