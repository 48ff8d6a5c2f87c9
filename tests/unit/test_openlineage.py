"""OpenLineage events written to a file: START then COMPLETE, or FAIL with the error."""

import json

import pytest

from mi_warehouse.config import load_settings
from mi_warehouse.runtime.lineage import Emitter


def events(path):
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_disabled_unless_configured(tmp_path):
    assert not Emitter(load_settings(tmp_path, env={})).enabled


def test_start_complete_and_fail_with_datasets(tmp_path):
    out = tmp_path / "ol.jsonl"
    em = Emitter(load_settings(tmp_path, env={"MIW_OPENLINEAGE_FILE": str(out)}))
    with em.run("infer.m", "inf-1", ["mi.cohort", ("file://host", "/data/dicom")], ["mi.predictions"]):
        pass
    with pytest.raises(RuntimeError):
        with em.run("load", "run-2", [], ["mi.dicom_metadata"]):
            raise RuntimeError("server went away")
    ev = events(out)
    assert [e["eventType"] for e in ev] == ["START", "COMPLETE", "START", "FAIL"]
    assert ev[0]["run"]["runId"] == ev[1]["run"]["runId"] != ev[2]["run"]["runId"]
    assert (ev[0]["job"]["namespace"], ev[0]["job"]["name"]) == ("mi-warehouse", "infer.m")
    assert {(d["namespace"], d["name"]) for d in ev[0]["inputs"]} == {
        ("hive://127.0.0.1:10000", "mi.cohort"), ("file://host", "/data/dicom")}
    assert ev[1]["outputs"][0]["name"] == "mi.predictions"
    assert ev[3]["run"]["facets"]["errorMessage"]["message"] == "server went away"


def test_an_endpoint_that_is_down_is_a_warning_not_a_failure(tmp_path):
    import socket

    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    em = Emitter(load_settings(tmp_path, env={"MIW_OPENLINEAGE_URL": f"http://127.0.0.1:{port}"}))
    ran = []
    with em.run("load", "run-3", [], ["mi.dicom_metadata"]) as run:
        ran.append(True)
    assert ran == [True]
    assert [w.split(" event")[0] for w in run.warnings] == ["OpenLineage START", "OpenLineage COMPLETE"]
    assert all(f"127.0.0.1:{port}" in w and "\n" not in w for w in run.warnings)
