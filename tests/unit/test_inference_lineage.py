"""inference.lineage.checked_lineage: the checksum check and the partitions the run read."""

from __future__ import annotations

import json

import pytest

from mi_warehouse.config import load_settings
from mi_warehouse.engine.connection import Result
from mi_warehouse.errors import NoPredictions
from mi_warehouse.inference.lineage import checked_lineage

COLS = ["sop_instance_uid", "model_sha256", "registry_sha256", "partitions_read"]


class FakeSession:
    def __init__(self, rows):
        self.rows, self.sql = rows, ""

    def execute(self, sql):
        self.sql = sql
        return Result(COLS, self.rows)


def test_checksum_match_and_mismatch_and_partitions(tmp_path):
    parts = json.dumps(["study_year=2020/study_month=1/modality=CR"])
    session = FakeSession([("1.2", "aa", "aa", parts), ("1.2", "aa", "bb", None)])
    rows = checked_lineage(session, load_settings(tmp_path, env={}), "1.2")
    assert [r["checksum_matches"] for r in rows] == [True, False]
    assert [len(r["partitions"]) for r in rows] == [1, 0]
    assert "p.sop_instance_uid = '1.2'" in session.sql


def test_no_predictions_says_what_to_do(tmp_path):
    with pytest.raises(NoPredictions, match="no predictions for image 9.9: check the SOP Instance UID"):
        checked_lineage(FakeSession([]), load_settings(tmp_path, env={}), "9.9")
