"""`mi-warehouse load` through the real engine: accounting, buckets, de-identification, re-runs."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
from collections import defaultdict
from pathlib import Path

import pyarrow.parquet as pq
import pydicom
import pytest

from mi_warehouse.config import load_settings
from mi_warehouse.engine.connection import connect
from mi_warehouse.loaders.load import LoadOptions, run_load
from mi_warehouse.synth import generate
from mi_warehouse.migrations.runner import Migrator
from mi_warehouse.serde.hive_hash import bucket_id, bucket_id_from_file_name

from ..conftest import REPO
from ..corpus import PYDICOM_DATA, make_bad_inputs, synth_files


@pytest.fixture(scope="module")
def loaded(server_env, tmp_path_factory):
    """A fresh database with a synthetic corpus plus the bad-input corpus loaded once."""
    root = tmp_path_factory.mktemp("corpus")
    generate(root / "synth", patients=24, seed=11, image_size=32)
    good = synth_files(root / "synth")
    expect = make_bad_inputs(root, good[0])
    env = dict(server_env, MIW_DATABASE=f"ld_{os.getpid()}", MIW_PHI_DATABASE=f"ld_{os.getpid()}_phi")
    settings = load_settings(REPO, env=env)
    session = connect(settings)
    Migrator(session, settings).apply()
    summary = run_load(session, settings, [str(root)], LoadOptions(workers=2, batch_rows=100, keep_phi_map=True))
    yield {"root": root, "good": good, "expect": expect, "settings": settings, "session": session,
           "summary": summary}
    session.close()


def q(session, sql):
    return session.execute(sql).rows


def located(settings) -> str:
    """dicom_metadata rows with the real file location (`path`) from the PHI database."""
    return (f"(SELECT m.*, l.image_uri AS path FROM {settings.database}.dicom_metadata m "
            f"JOIN {settings.phi_database}.image_locations l ON m.sop_instance_uid = l.sop_instance_uid) x")


def errors_located(settings) -> str:
    """load_errors with the real paths put back (the core database holds path-free references)."""
    return f"{settings.phi_database}.load_errors_located"


def test_every_file_is_loaded_or_in_load_errors(loaded):
    s, db, root = loaded["session"], loaded["settings"].database, loaded["root"]
    on_disk = {"file://" + str(p) for p in root.rglob("*") if p.is_file()}
    in_table = {r[0] for r in q(s, f"SELECT path FROM {located(loaded['settings'])}")}
    refs = q(s, f"SELECT count(*) FROM {db}.dicom_metadata WHERE image_uri = concat('mi-image:', sop_instance_uid)")
    assert refs[0][0] == len(in_table)  # no file paths (they may hold PHI) in the de-identified table
    errors = {r[0]: r[1] for r in q(s, f"SELECT path, error_class FROM {errors_located(loaded['settings'])} "
                                       "WHERE severity = 'error'")}
    assert in_table.isdisjoint(errors)
    assert in_table | set(errors) == on_disk
    summary = loaded["summary"]
    assert summary.files_seen == len(on_disk)
    assert summary.loaded == len(in_table) and summary.errors + summary.duplicates == len(errors)
    run = q(s, f"SELECT files_seen, files_loaded, errors, duplicates, status FROM {db}.load_runs")
    assert run == [(len(on_disk), len(in_table), summary.errors, summary.duplicates, "succeeded")]
    assert q(s, f"SELECT count(*), count(DISTINCT sop_instance_uid) FROM {db}.dicom_metadata")[0] == \
        (len(in_table), len(in_table))


def test_bad_inputs_are_classified(loaded):
    s, db = loaded["session"], loaded["settings"].database
    errors = {r[0]: (r[1], r[2], r[3]) for r in
              q(s, f"SELECT path, error_class, message, first_path FROM {errors_located(loaded['settings'])} "
                   "WHERE severity = 'error'")}
    rows = {r[0]: r[1:] for r in q(s, f"SELECT path, study_year, modality, slice_thickness "
                                      f"FROM {located(loaded['settings'])}")}
    for path, (outcome, cls) in loaded["expect"].items():
        uri = "file://" + str(path)
        if outcome == "error":
            assert uri in errors, path.name
            if cls:
                assert errors[uri][0] == cls, (path.name, errors[uri])
            assert "\n" not in errors[uri][1] and errors[uri][1]
        elif outcome == "loaded":
            assert uri in rows, (path.name, errors.get(uri))
        else:
            assert (uri in rows) != (uri in errors), path.name
    bad = loaded["root"] / "bad"
    assert rows["file://" + str(bad / "no_study_date.dcm")][0] == 0  # explicit unknown partition
    assert rows["file://" + str(bad / "no_modality.dcm")][1] == "UNKNOWN"
    assert errors["file://" + str(loaded["root"] / "zz_later" / "duplicate_copy.dcm")][2] == "file://" + str(loaded["good"][0])
    warn = q(s, f"SELECT message FROM {errors_located(loaded['settings'])} WHERE severity = 'warning' "
                f"AND path = 'file://{bad / 'invalid_values.dcm'}'")
    text = " ".join(r[0] for r in warn)
    assert "StudyDate (00080020)" in text and "SliceThickness (00180050)" in text and "InstanceNumber" in text


def test_buckets_and_sort_order_as_hive_expects(loaded):
    settings = loaded["settings"]
    table_dir = settings.local_storage_dir / settings.database / "dicom_metadata"
    files = [p for p in table_dir.rglob("*") if p.is_file()]
    assert files and all(not p.name.startswith((".", "_")) for p in files)  # nothing hidden left
    per_partition = defaultdict(list)
    for f in files:
        b = bucket_id_from_file_name(f.name)
        assert 0 <= b < settings.buckets, f.name
        per_partition[f.parent].append(b)
        t = pq.read_table(f).to_pydict()
        keys = list(zip(t["patient_key"], t["study_uid"]))
        assert keys == sorted(keys)
        assert {bucket_id([k], ["string"], settings.buckets, 1) for k in t["patient_key"]} == {b}
        assert pq.ParquetFile(f).metadata.row_group(0).column(0).statistics.has_min_max
    for parent, buckets in per_partition.items():
        assert len(buckets) == len(set(buckets)), f"one file per bucket in {parent}"
        assert "study_year=" in str(parent) and "modality=" in str(parent)
    parts = {r[0] for r in q(loaded["session"], f"SHOW PARTITIONS {settings.database}.dicom_metadata")}
    assert {str(p.relative_to(table_dir)) for p in per_partition} == parts


def test_queries_by_partition_answer(loaded):
    s, db = loaded["session"], loaded["settings"].database
    years = q(s, f"SELECT study_year, count(*) FROM {db}.dicom_metadata GROUP BY study_year")
    y = max(years, key=lambda r: r[1])[0]
    by_mod = q(s, f"SELECT modality, count(*) FROM {db}.dicom_metadata WHERE study_year = {y} GROUP BY modality")
    assert sum(r[1] for r in by_mod) == dict(years)[y]
    st = q(s, f"SELECT get_json_object(header_json, '$.00180050.Value[0]'), slice_thickness "
              f"FROM {db}.dicom_metadata WHERE modality = 'CT' AND slice_thickness IS NOT NULL LIMIT 5")
    assert st and all(float(a) == b for a, b in st)


def test_no_phi_in_any_file_under_the_table(loaded):
    settings = loaded["settings"]
    phi = set()
    originals = {}
    for p in loaded["good"]:
        ds = pydicom.dcmread(p, stop_before_pixels=True)
        for v in (ds.PatientID, str(ds.PatientName), ds.get("AccessionNumber", ""), ds.get("InstitutionName", "")):
            if v and len(str(v)) >= 4:
                phi.add(str(v))
        name = str(ds.PatientName)
        for part in name.replace("=", "^").split("^"):
            if len(part) >= 4:
                phi.add(part)
        originals[ds.SOPInstanceUID] = (ds.PatientID, ds.StudyDate, ds.StudyInstanceUID)
    table_dir = settings.local_storage_dir / settings.database / "dicom_metadata"
    text = []
    for f in table_dir.rglob("*"):
        if f.is_file():
            text.append(json.dumps(pq.read_table(f).to_pylist(), default=str, ensure_ascii=False))
            text.append(f.read_bytes().decode("latin-1"))
    blob = "\n".join(text)
    leaked = sorted(v for v in phi if v in blob)
    assert not leaked, f"PHI found under {table_dir}: {leaked[:5]}"
    assert "PatientBirthDate" not in blob and '"00100030"' not in blob


def test_dates_shift_per_patient_and_intervals_survive(loaded):
    s, db = loaded["session"], loaded["settings"].database
    rows = q(s, f"SELECT sop_instance_uid, patient_key, study_date FROM {db}.dicom_metadata "
                f"WHERE study_year > 0")
    orig = {}
    for p in loaded["good"]:
        ds = pydicom.dcmread(p, stop_before_pixels=True)
        orig[ds.SOPInstanceUID] = dt.datetime.strptime(ds.StudyDate, "%Y%m%d").date()
    shifts = defaultdict(set)
    for sop, key, d in rows:
        if sop in orig:
            shifts[key].add((dt.date.fromisoformat(str(d)) - orig[sop]).days)
    assert shifts and all(len(v) == 1 for v in shifts.values())  # one offset per patient
    assert all(-365 <= next(iter(v)) <= -1 for v in shifts.values())
    assert len({next(iter(v)) for v in shifts.values()}) > 1  # offsets differ between patients


def test_phi_map_only_in_phi_database(loaded):
    s, settings = loaded["session"], loaded["settings"]
    n_patients = q(s, f"SELECT count(DISTINCT patient_key) FROM {settings.database}.dicom_metadata")[0][0]
    mapped = q(s, f"SELECT count(DISTINCT patient_key), count(DISTINCT patient_id) "
                  f"FROM {settings.phi_database}.patient_map")[0]
    assert mapped[0] == mapped[1] == n_patients


def test_rerun_adds_nothing(loaded):
    s, settings = loaded["session"], loaded["settings"]
    db = settings.database
    before = q(s, f"SELECT count(*) FROM {db}.dicom_metadata")[0][0]
    errors_before = q(s, f"SELECT count(*) FROM {db}.load_errors")[0][0]
    again = run_load(s, settings, [str(loaded["root"])], LoadOptions(workers=1))
    assert again.loaded == 0 and again.errors == 0 and again.skipped == again.files_seen
    assert q(s, f"SELECT count(*) FROM {db}.dicom_metadata")[0][0] == before
    assert q(s, f"SELECT count(*) FROM {db}.load_errors")[0][0] == errors_before
    assert q(s, f"SELECT count(*) FROM {db}.load_runs")[0][0] == 2


def test_charsets_decode_to_the_right_unicode(session, tmp_path):
    settings = session.settings
    Migrator(session, settings).apply()
    src = PYDICOM_DATA / "charset_files"
    run_load(session, settings, [str(src)], LoadOptions(workers=1, deid=False))
    rows = q(session, f"SELECT image_uri, header_json FROM {settings.database}.dicom_metadata")
    assert len(rows) >= 10
    checked = 0
    for uri, header in rows:
        ds = pydicom.dcmread(uri[7:], stop_before_pixels=True)
        if "PatientName" not in ds or not ds.PatientName:
            continue
        model = json.loads(header)
        got = model["00100010"]["Value"][0].get("Alphabetic", "")
        assert got == ds.PatientName.alphabetic, uri
        checked += 1
    assert checked >= 8
    names = " ".join(json.loads(h)["00100010"]["Value"][0].get("Alphabetic", "") for _, h in rows
                     if "00100010" in json.loads(h) and json.loads(h)["00100010"].get("Value"))
    assert "Люкceмбypг" in names  # chrRuss.dcm, ISO_IR 144: Cyrillic with Latin look-alikes


def test_bucket_hash_v1_matches_the_engine(session):
    db = session.settings.database
    session.execute(f"CREATE DATABASE IF NOT EXISTS {db}")
    session.execute(f"CREATE TABLE {db}.bprobe (k STRING) CLUSTERED BY (k) INTO 7 BUCKETS STORED AS PARQUET")
    keys = [f"patient-{i}" for i in range(60)] + ["", "Müller", "日本語テキスト", "Trino rocks", "a" * 33]
    values = ", ".join("(" + ("'" + k.replace("'", "\\'") + "'") + ")" for k in keys)
    session.execute(f"INSERT INTO {db}.bprobe VALUES {values}")
    loc = [r for r in session.execute(f"DESCRIBE FORMATTED {db}.bprobe").rows if str(r[0]).startswith("Location")]
    path = Path(loc[0][1].replace("file:", "", 1))
    seen = 0
    for f in path.iterdir():
        if f.name.startswith((".", "_")):
            continue
        b = bucket_id_from_file_name(f.name)
        for k in pq.read_table(f).column("k").to_pylist():
            assert bucket_id([k], ["string"], 7, 1) == b, (k, f.name)
            seen += 1
    assert seen == len(keys)


def test_load_emits_openlineage_events_when_configured(env_for, cli, tmp_path):
    generate(tmp_path / "d", patients=1, seed=3, image_size=32)
    events = tmp_path / "ol.jsonl"
    env = env_for(MIW_OPENLINEAGE_FILE=events)
    assert cli(["apply"], env).returncode == 0
    r = cli(["load", str(tmp_path / "d"), "--workers", "1"], env)
    assert r.returncode == 0, r.stderr
    ev = [json.loads(x) for x in events.read_text().splitlines()]
    assert [e["eventType"] for e in ev] == ["START", "COMPLETE"] and ev[0]["job"]["name"] == "load"
    assert any(o["name"] == f"{env['MIW_DATABASE']}.dicom_metadata" for o in ev[1]["outputs"])
    source = ev[0]["inputs"][0]  # a path-free reference: the path may hold PHI
    assert source["name"].startswith("mi-file:") and str(tmp_path) not in json.dumps(ev)
    refs = cli(["sql", f"SELECT uri FROM {env['MIW_PHI_DATABASE']}.file_refs WHERE ref = '{source['name']}'",
                "--format", "csv"], env)
    assert str(tmp_path / "d") in refs.stdout, refs.stderr


def test_spark_engine_loads_the_same_rows_as_the_local_loader(server_env, tmp_path):
    """`load --engine spark` in local mode: same files, same accounting, same rows as the local loader."""
    generate(tmp_path / "d", patients=5, seed=12, image_size=32)
    (tmp_path / "d" / "junk.txt").write_text("not dicom")
    results = {}
    for engine in ("local", "spark"):
        env = dict(server_env, MIW_DATABASE=f"sp_{engine}_{os.getpid()}", MIW_PHI_DATABASE=f"sp_{engine}_{os.getpid()}_p")
        settings = load_settings(REPO, env=env)
        with connect(settings) as s:
            Migrator(s, settings).apply()
            summary = run_load(s, settings, [str(tmp_path / "d")],
                               LoadOptions(workers=1, engine=engine, spark_master="local[2]"))
            rows = s.execute(f"SELECT sop_instance_uid, patient_key, study_date, modality, header_json "
                             f"FROM {settings.database}.dicom_metadata").rows
            errors = s.execute(f"SELECT path, error_class FROM {settings.database}.load_errors").rows
            again = run_load(s, settings, [str(tmp_path / "d")], LoadOptions(engine=engine, spark_master="local[2]"))
        results[engine] = (sorted(tuple(map(str, r)) for r in rows), sorted(errors), summary.loaded, again.skipped)
    assert results["spark"] == results["local"]
    on_disk = sum(1 for p in (tmp_path / "d").rglob("*") if p.is_file())
    assert results["spark"][2] == on_disk - 2  # all but labels.csv and junk.txt
    assert results["spark"][3] == on_disk  # the re-run skips every file


def test_no_raw_path_anywhere_in_the_core_database(loaded):
    """Paths hold PatientIDs and dates: not in load_errors, load_runs, the ledger or any hidden file."""
    settings, root = loaded["settings"], str(loaded["root"])
    core = settings.local_storage_dir / settings.database
    leaks = [p for p in core.rglob("*") if p.is_file() and root.encode() in _parquet_text(p)]
    assert leaks == []
    phi = settings.local_storage_dir / settings.phi_database
    assert any(root.encode() in _parquet_text(p) for p in (phi / "_ledger").rglob("*.parquet"))
    s = loaded["session"]
    assert q(s, f"SELECT sources FROM {settings.database}.load_runs")[0][0].startswith("mi-file:")
    assert q(s, f"SELECT DISTINCT uri FROM {settings.phi_database}.file_refs WHERE kind = 'source'") == [(root,)]


def _parquet_text(path) -> bytes:
    """A file's bytes, with Parquet columns decompressed (snappy pages would hide a path)."""
    raw = path.read_bytes()
    if path.suffix == ".parquet" or raw[:4] == b"PAR1":
        try:
            return raw + str(pq.read_table(path).to_pylist()).encode()
        except Exception:  # a hidden temporary or another non-Parquet file: its bytes are what there is
            return raw
    return raw


def test_a_load_with_another_key_or_mixed_deid_is_refused(session, tmp_path):
    from mi_warehouse.loaders.key_check import KeyMismatch

    settings = session.settings
    Migrator(session, settings).apply()
    generate(tmp_path / "a", patients=2, seed=3, image_size=32)
    run_load(session, settings, [str(tmp_path / "a")], LoadOptions(workers=1))
    fp = q(session, f"SELECT key_fingerprint, deid_method FROM {settings.database}.load_runs")[0]
    assert fp[0].startswith("hmac-sha256:") and "Basic Application Level Confidentiality Profile" in fp[1]
    assert settings.key_file not in fp[0] and Path(settings.key_file).read_text().strip()[:16] not in fp[0]

    other = tmp_path / "other.key"
    other.write_text("ab" * 32 + "\n")
    other_settings = dataclasses.replace(settings, key_file=str(other))
    with pytest.raises(KeyMismatch, match=r"is not the key earlier loads into .* used"):
        run_load(session, other_settings, [str(tmp_path / "a")], LoadOptions(workers=1))
    missing = dataclasses.replace(settings, key_file=str(tmp_path / "gone.key"))
    with pytest.raises(KeyMismatch, match="is missing, but earlier loads"):
        run_load(session, missing, [str(tmp_path / "a")], LoadOptions(workers=1))
    assert not (tmp_path / "gone.key").exists()  # never silently created anew
    with pytest.raises(KeyMismatch, match="would mix identified rows"):
        run_load(session, settings, [str(tmp_path / "a")], LoadOptions(workers=1, deid=False))
    assert q(session, f"SELECT count(*) FROM {settings.database}.load_runs")[0][0] == 1
