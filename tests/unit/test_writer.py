"""The bucketed writer without an engine: layout, sort order, spills, appends, crash left-overs."""

import datetime as dt

import pyarrow.parquet as pq

from mi_warehouse.loaders.writer import BucketedWriter
from mi_warehouse.serde.hive_hash import bucket_id, bucket_id_from_file_name


def row(i: int, patient: int, month: int) -> dict:
    return {"patient_key": f"p{patient:04d}", "study_uid": f"1.2.{i % 7}", "sop_instance_uid": f"1.2.3.{i}",
            "study_date": dt.date(2024, month, 1), "header_json": "{}", "pixel_spacing": [0.5, 0.5],
            "study_year": 2024, "study_month": month, "modality": "CT"}


def full(r: dict) -> dict:
    from mi_warehouse.serde.catalog import COLUMNS

    return {**{c.name: None for c in COLUMNS}, **r}


def write(tmp_path, name, rows, memory_limit):
    w = BucketedWriter((tmp_path / name).as_uri(), tmp_path / f"{name}-staging", 4, 1, memory_limit=memory_limit)
    for i in range(0, len(rows), 50):
        w.stage([full(r) for r in rows[i:i + 50]])
    result = w.commit()
    w.discard_staging()
    return result


def by_bucket(root):
    """{(partition folder, bucket): sorted rows} over all of a bucket's files (base and copies)."""
    out = {}
    for f in sorted(root.rglob("*")):
        if f.is_file():
            key = (str(f.parent.relative_to(root)), bucket_id_from_file_name(f.name))
            out.setdefault(key, []).extend(pq.read_table(f).to_pylist())
    return {k: sorted(v, key=lambda r: r["sop_instance_uid"]) for k, v in out.items()}


def test_spilled_staging_writes_the_same_files_as_memory(tmp_path):
    rows = [row(i, i % 37, 1 + i % 3) for i in range(400)]
    a = write(tmp_path, "mem", rows, 10**9)
    b = write(tmp_path, "spill", rows, 1)  # spill after every batch: buckets gathered from many spills
    assert a.rows_added == b.rows_added == 400 and a.partitions == b.partitions
    assert a.files_written == b.files_written  # one file per touched bucket, however many spills
    assert by_bucket(tmp_path / "mem") == by_bucket(tmp_path / "spill")
    assert {str(f.relative_to(tmp_path / "mem")) for f in (tmp_path / "mem").rglob("*") if f.is_file()} == \
        {str(f.relative_to(tmp_path / "spill")) for f in (tmp_path / "spill").rglob("*") if f.is_file()}
    for f in (tmp_path / "spill").rglob("*"):
        if f.is_file():
            t = pq.read_table(f).to_pydict()
            assert list(zip(t["patient_key"], t["study_uid"])) == sorted(zip(t["patient_key"], t["study_uid"]))
            assert {bucket_id([k], ["string"], 4, 1) for k in t["patient_key"]} == {bucket_id_from_file_name(f.name)}


def test_append_adds_copy_files_never_rewrites_and_skips_rows_present(tmp_path):
    first = [row(i, i % 5, 1) for i in range(40)]
    write(tmp_path, "t", first, 10**9)
    before = {f: (f.stat().st_mtime_ns, f.read_bytes()) for f in (tmp_path / "t").rglob("*") if f.is_file()}
    assert before and all(f.name.endswith("_0") for f in before)
    again = write(tmp_path, "t", first[:10] + [row(i, i % 5, 1) for i in range(40, 60)], 10**9)
    assert again.rows_already_present == 10 and again.rows_added == 20
    files = [f for f in (tmp_path / "t").rglob("*") if f.is_file()]
    assert {f: (f.stat().st_mtime_ns, f.read_bytes()) for f in before} == before  # old files untouched
    new = [f for f in files if f not in before]
    assert new and all(f.name.endswith("_0_copy_1") for f in new)
    assert all(bucket_id_from_file_name(f.name) == bucket_id_from_file_name(f.name.split("_copy_")[0]) for f in new)
    assert sum(pq.read_metadata(f).num_rows for f in files) == 60
    write(tmp_path, "t", [row(i, i % 5, 1) for i in range(60, 70)], 10**9)
    assert any(f.name.endswith("_0_copy_2") for f in (tmp_path / "t").rglob("*"))


def test_next_bucket_file_follows_hives_copy_names():
    from mi_warehouse.loaders.writer import copy_number, next_bucket_file

    assert next_bucket_file(3, []) == "000003_0"
    assert next_bucket_file(3, ["000003_0"]) == "000003_0_copy_1"
    assert next_bucket_file(3, ["000003_0", "000003_0_copy_9", "000003_0_copy_2"]) == "000003_0_copy_10"
    assert [copy_number(n) for n in ("000003_0", "000003_0_copy_12")] == [0, 12]


def test_stale_hidden_temporaries_are_removed(tmp_path):
    write(tmp_path, "t", [row(1, 1, 1)], 10**9)
    (bucket_file,) = [f for f in (tmp_path / "t").rglob("*") if f.is_file()]
    stale = bucket_file.parent / f".{bucket_file.name}.tmp-dead1234"
    stale.write_bytes(b"half a file")
    write(tmp_path, "t", [row(2, 1, 1)], 10**9)
    assert not stale.exists()


def test_only_buckets_a_killed_run_left_pending_are_checked(tmp_path):
    from mi_warehouse.loaders.ledger import Ledger

    first = [row(i, i % 5, 1) for i in range(40)]
    write(tmp_path, "t", first, 10**9)
    ledger = Ledger((tmp_path / "phi").as_uri())
    assert ledger.pending_buckets() == set()
    w = BucketedWriter((tmp_path / "t").as_uri(), tmp_path / "s", 4, 1)
    w.stage([full(r) for r in first[:10]])  # a re-run of rows already committed
    ledger.mark_pending("run-killed", w.touched())
    assert ledger.pending_buckets() == set(w.touched())
    assert w.commit(check_buckets=ledger.pending_buckets()).rows_already_present == 10  # found, not doubled
    w2 = BucketedWriter((tmp_path / "t").as_uri(), tmp_path / "s2", 4, 1)
    w2.stage([full(r) for r in first[:10]])
    assert w2.commit(check_buckets=set()).rows_added == 10  # unchecked buckets read nothing of what is there
    ledger.clear_pending("run-killed")
    assert ledger.pending_buckets() == set()
