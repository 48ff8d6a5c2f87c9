"""The PHI audit's scanner (mi_warehouse.audit.phi) over hand-made database folders: findings name
the place and the kind, never the value; UIDs, pseudonyms, shifted dates and numbers are not
findings; hidden folders and non-Parquet files are read too."""

from __future__ import annotations

import base64
import datetime as dt
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from mi_warehouse.audit.identifiers import Identifiers
from mi_warehouse.audit.phi import scan, scan_location
from mi_warehouse.cli import main
from mi_warehouse.config import load_settings

PID, OTHER_PID = "HX-771204", "HX-550913"
NAME = "Thistlewood^Evander"
KEY = "a3f09c1d2b7e4f6a8c0d1e2f3a4b5c6d"  # a hex pseudonym


def ids() -> Identifiers:
    i = Identifiers()
    i.add(PID, "PatientID")
    i.add(OTHER_PID, "PatientID")
    i.add_name(NAME)
    i.add_date(PID, "20140307", "StudyDate")
    i.add_date(OTHER_PID, "20150611", "StudyDate")
    i.link(KEY, PID)
    return i


def put(db: Path, rel: str, **columns) -> Path:
    path = db / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(columns), path)
    return path


def header(**elements) -> str:
    return json.dumps({tag: elem for tag, elem in elements.items()})


def clean_header() -> str:
    return header(**{
        "00100020": {"vr": "LO", "Value": [KEY]},
        "00100010": {"vr": "PN", "Value": [{"Alphabetic": "5e0c2d9a77b1f3e4a6c8d0b2e4f6a8c0"}]},
        "0020000D": {"vr": "UI", "Value": ["1.2.826.0.1.3680043.8.498.771204.20140307"]},
        "00080020": {"vr": "DA", "Value": ["20140125"]},  # shifted
        "0008103E": {"vr": "LO", "Value": ["AX T1 POST 3mm"]},
    })


def findings(db: Path, identifiers: Identifiers | None = None):
    return scan_location("file://" + str(db), identifiers or ids())


def test_planted_id_in_a_nested_tag_is_found_by_tag_path_not_value(tmp_path):
    nested = {"00081052": {"vr": "SQ", "Value": [{"00401101": {"vr": "SQ", "Value": [
        {"00080100": {"vr": "SH", "Value": [PID]}, "00080104": {"vr": "LO", "Value": ["Evander THISTLEWOOD"]}}]}}]}}
    put(tmp_path, "dicom_metadata/study_year=2014/000001_0", patient_key=[KEY],
        header_json=[json.dumps({**json.loads(clean_header()), **nested})])
    found = findings(tmp_path)
    assert {(f.table, f.column, f.tag, f.kind) for f in found} == {
        ("dicom_metadata", "header_json", "00081052[0].00401101[0].00080100", "PatientID"),
        ("dicom_metadata", "header_json", "00081052[0].00401101[0].00080104", "PatientName"),
    }
    assert all(f.file == "dicom_metadata/study_year=2014/000001_0" for f in found)
    by_tag = {f.tag: f.count for f in found}
    assert by_tag["00081052[0].00401101[0].00080104"] == 2  # family and given name, any case
    shown = repr(found) + "".join(f.where for f in found)
    assert PID not in shown and "Thistlewood" not in shown.title()


def test_clean_file_uids_pseudonyms_shifted_dates_and_numbers_are_not_findings(tmp_path):
    put(tmp_path, "dicom_metadata/study_year=2014/000002_0", patient_key=[KEY], header_json=[clean_header()],
        study_uid=["1.2.826.0.1.3680043.8.498.771204"], study_date=[dt.date(2014, 1, 25)],
        file_size=[48213377], image_uri=["mi-image:1.2.826.0.1.3680043.8.498.771204.1"],
        message=["file ends after 48213377 bytes"])
    assert findings(tmp_path) == []


def test_dates_are_checked_against_the_rows_patient(tmp_path):
    # OTHER_PID's original date in a row of PID is a shifted date that happens to coincide
    put(tmp_path, "dicom_metadata/a/000003_0", patient_key=[KEY, KEY], study_date=[dt.date(2015, 6, 11),
                                                                                   dt.date(2014, 3, 7)])
    found = findings(tmp_path)
    assert [(f.column, f.kind, f.count) for f in found] == [("study_date", "StudyDate", 1)]
    # text of no known patient is checked against every patient's dates, in every spelling
    (tmp_path / "notes.txt").write_text("seen 11/06/2015 and 2014-03-07 and 2015.06.11; not 20140308\n")
    assert [(f.table, f.column, f.kind, f.count) for f in findings(tmp_path) if f.file == "notes.txt"] == \
        [("-", "(text)", "StudyDate", 3)]


def test_hidden_and_underscore_folders_and_file_names_are_scanned(tmp_path):
    put(tmp_path, "_ledger/run1.parquet", path=[f"file:///data/raw/{PID}/20140307/x.dcm"], size=[10])
    (tmp_path / "_work" / ".staging").mkdir(parents=True)
    (tmp_path / "_work" / ".staging" / ".batch.tmp-1").write_text(f"row for {PID}\n")
    (tmp_path / ".trash").mkdir()
    (tmp_path / ".trash" / f"{PID}.json").write_text("{}")
    got = {(f.table, f.file, f.column, f.kind) for f in findings(tmp_path)}
    assert ("_ledger", "_ledger/run1.parquet", "path", "PatientID") in got
    assert ("_ledger", "_ledger/run1.parquet", "path", "StudyDate") in got
    assert ("_work", "_work/.staging/.batch.tmp-1", "(text)", "PatientID") in got
    assert (".trash", f".trash/{PID}.json", "(file name)", "PatientID") in got


def test_identifier_patterns(tmp_path):
    put(tmp_path, "load_errors/e.parquet", patient_key=[None],
        message=["call +1 555 204 7781 or (555) 204-7781, write e.vander@mail.example, chart 40817263"],
        sizes=[12], note=["series 1.2.840.10008.5.1.4 of 512 x 512, 2048 slices; run 20260101T101500-ab12cd34; "
                          "ContentDate (00080023): not a valid DA; key 3f1234567c0d1e2f3a4b5c6d7e8f9a0b; "
                          "part-00000-08134076-c51d-43bc-b23b-4eb91afe7a60-c000.snappy.parquet; "
                          # a UUID whose middle groups read like a phone number (a CI run found this one)
                          "part-00000-a7b67235-1755-4428-9679-f8e8ece9a340-c000.snappy.parquet; "
                          # run ids whose 8 hex digits are all decimal (about one in 43)
                          "run 20261202T045225-12345678, infer-20261202T045225-90817263.parquet"])
    got = {(f.column, f.kind): f.count for f in findings(tmp_path)}
    assert got == {("message", "phone pattern"): 2, ("message", "e-mail pattern"): 1,
                   ("message", "digit-run pattern (MRN-like)"): 1}


def test_inline_binary_values_are_decoded(tmp_path):
    un = base64.b64encode(f"OID-1\\{PID}".encode()).decode()
    put(tmp_path, "dicom_metadata/b/000004_0", patient_key=[KEY],
        header_json=[header(**{"00101000": {"vr": "UN", "InlineBinary": un}})])
    assert [(f.tag, f.kind) for f in findings(tmp_path)] == [("00101000", "PatientID")]


def test_short_name_components_are_not_searched_alone(tmp_path):
    i = Identifiers()
    i.add_name("Okonkwo^Li^^Dr")
    (tmp_path / "t.txt").write_text("Li and Dr are everywhere; okonkwo is not\n")
    assert [(f.kind, f.count) for f in scan_location(str(tmp_path), i)] == [("PatientName", 1)]
    assert "li" not in i.words and "dr" not in i.words


def test_a_parquet_file_that_cannot_be_read_is_a_finding(tmp_path):
    (tmp_path / "dicom_metadata").mkdir()
    (tmp_path / "dicom_metadata" / ".000001_0.tmp-1").write_bytes(b"PAR1" + b"\x00" * 40)
    assert [f.kind for f in findings(tmp_path)] == ["unreadable Parquet (not checked)"]


@pytest.fixture()
def warehouse(tmp_path):
    """Settings whose storage root holds a core database and a PHI database written by hand."""
    root = tmp_path / "data"
    settings = load_settings(tmp_path, env={"MIW_HOME": str(tmp_path / "home"), "MIW_STORAGE_ROOT": f"file://{root}",
                                            "MIW_DATABASE": "core", "MIW_PHI_DATABASE": "core_phi"})
    put(root / "core", "dicom_metadata/s/000001_0", patient_key=[KEY], header_json=[clean_header()])
    put(root / "core_phi", "image_locations/r.parquet", sop_instance_uid=["1.2.3"],
        image_uri=[f"file:///data/raw/{PID}/20140307/ACC4411_0.dcm"])
    return settings, root


def test_scan_reads_the_phi_database_and_says_when_the_map_is_empty(warehouse):
    settings, root = warehouse
    notes: list[str] = []
    assert scan(settings, log=notes.append) == []
    assert len(notes) == 1 and "patient_map is empty" in notes[0] and "--keep-phi-map" in notes[0]
    put(root / "core_phi", "patient_map/r.parquet", patient_key=[KEY], patient_id=[PID], patient_name=[NAME],
        date_shift_days=pa.array([-41], pa.int32()))
    put(root / "core", "load_runs/r.parquet", sources=["/data/raw"], bytes=[1],
        note=[f"loaded /data/raw/{PID}/20140307/ACC4411_0.dcm for evander"])
    notes.clear()
    got = {(f.table, f.column, f.kind) for f in scan(settings, log=notes.append)}
    assert notes == []
    assert got == {("load_runs", "note", "file path"), ("load_runs", "note", "PatientID"),
                   ("load_runs", "note", "path component"), ("load_runs", "note", "PatientName")}


def test_cli_prints_places_not_values_and_exits_1(warehouse, monkeypatch):
    settings, root = warehouse
    for k, v in {"MIW_HOME": str(settings.home), "MIW_STORAGE_ROOT": settings.storage_root,
                 "MIW_DATABASE": "core", "MIW_PHI_DATABASE": "core_phi"}.items():
        monkeypatch.setenv(k, v)
    runner = CliRunner()
    args = ["--project-dir", str(settings.project_dir), "audit", "phi"]
    clean = runner.invoke(main, args)
    assert clean.exit_code == 0, clean.output
    assert "no identifiers found" in clean.output and "patient_map is empty" in clean.output
    (root / "core" / "_work").mkdir()
    (root / "core" / "_work" / "log").write_text(f"/data/raw/{PID}/20140307/ACC4411_0.dcm\n")
    leak = runner.invoke(main, args)
    assert leak.exit_code == 1
    assert "_work/log" in leak.output and "file path" in leak.output and "path component" in leak.output
    assert "2 finding(s)" in leak.output
    assert PID not in leak.output and "ACC4411" not in leak.output


def test_a_missing_database_is_a_one_line_error(tmp_path, monkeypatch):
    monkeypatch.setenv("MIW_HOME", str(tmp_path))
    monkeypatch.setenv("MIW_STORAGE_ROOT", f"file://{tmp_path}/nowhere")
    r = CliRunner().invoke(main, ["--project-dir", str(tmp_path), "audit", "phi"])
    assert r.exit_code == 1 and "no core database at" in r.output and "mi-warehouse apply" in r.output


def test_parquet_metadata_and_orc_files_are_read(tmp_path):
    from pyarrow import orc

    table = pa.table({"note": ["clean"]}).replace_schema_metadata({"source": f"/raw/{PID}/20140307"})
    (tmp_path / "t").mkdir()
    pq.write_table(table, tmp_path / "t" / "a.parquet")
    orc.write_table(pa.table({"patient_key": [KEY], "note": [f"for {PID}"]}), str(tmp_path / "t" / "b.orc"))
    got = {(f.file, f.column, f.kind) for f in findings(tmp_path)}
    assert got == {("t/a.parquet", "(parquet metadata)", "PatientID"), ("t/a.parquet", "(parquet metadata)", "StudyDate"),
                   ("t/b.orc", "note", "PatientID")}
