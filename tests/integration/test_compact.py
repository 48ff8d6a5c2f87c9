"""Appends write Hive-named copy files that the engine reads as their bucket; `compact` merges them,
and a compaction killed after any step leaves every row readable exactly once, then finishes."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from mi_warehouse.loaders.compact import BadPartition, run_compact
from mi_warehouse.loaders.load import LoadOptions, run_load
from mi_warehouse.migrations.runner import Migrator
from mi_warehouse.serde.hive_hash import bucket_id, bucket_id_from_file_name
from mi_warehouse.synth import generate

pytestmark = pytest.mark.engine


def _files(settings):
    table = settings.local_storage_dir / settings.database / "dicom_metadata"
    return sorted(p for p in table.rglob("*") if p.is_file() and not any(
        part.startswith(("_", ".")) for part in p.relative_to(table).parts))


def _rows(session, settings):
    return sorted(session.execute(
        f"SELECT sop_instance_uid, patient_key, study_uid FROM {settings.database}.dicom_metadata").rows)


@pytest.fixture()
def appended(session, tmp_path):
    settings = session.settings
    Migrator(session, settings).apply()
    generate(tmp_path / "a", patients=6, seed=21, image_size=32)
    (tmp_path / "b").mkdir()
    for i, f in enumerate(sorted(tmp_path.joinpath("a").rglob("*.dcm"))):  # same patients and partitions
        if i % 2:
            f.rename(tmp_path / "b" / f"{i}.dcm")
    run_load(session, settings, [str(tmp_path / "a")], LoadOptions(workers=1))
    first = {p: p.read_bytes() for p in _files(settings)}
    run_load(session, settings, [str(tmp_path / "b")], LoadOptions(workers=1))
    return session, settings, first


def test_appends_add_copy_files_that_the_engine_reads_as_their_bucket(appended):
    session, settings, first = appended
    files = _files(settings)
    assert all(p.read_bytes() == b for p, b in first.items())  # the first load's files were not rewritten
    copies = [p for p in files if "_copy_" in p.name]
    assert copies, "the second load should have appended to some bucket"
    rows = _rows(session, settings)
    assert len(rows) == len({r[0] for r in rows}) == sum(pq.read_metadata(p).num_rows for p in files)
    for p in files:  # every file holds only its bucket's patients
        keys = set(pq.read_table(p, columns=["patient_key"]).column(0).to_pylist())
        assert {bucket_id([k], ["string"], settings.buckets, 1) for k in keys} == {bucket_id_from_file_name(p.name)}
    # the engine reads every file, copies included, each with the rows Python wrote into it
    per_file = dict(session.execute(
        f"SELECT input_file_name(), count(*) FROM {settings.database}.dicom_metadata GROUP BY input_file_name()").rows)
    assert {k.rsplit("/", 1)[-1] for k in per_file} == {p.name for p in files}
    assert sorted(per_file.values()) == sorted(pq.read_metadata(p).num_rows for p in files)


def test_compact_merges_each_bucket_into_one_sorted_file(appended):
    session, settings, _ = appended
    before = _rows(session, settings)
    summary = run_compact(session, settings)
    files = _files(settings)
    assert summary.partitions_compacted >= 1 and summary.files_after == len(files) < summary.files_before
    assert not any("_copy_" in p.name for p in files)
    for p in files:
        t = pq.read_table(p, columns=["patient_key", "study_uid"]).to_pydict()
        keys = list(zip(t["patient_key"], t["study_uid"]))
        assert keys == sorted(keys)
    assert _rows(session, settings) == before
    assert not list((settings.local_storage_dir / settings.database / "dicom_metadata").rglob("_compact-*"))
    assert run_compact(session, settings).partitions_compacted == 0  # nothing left to merge


def test_partition_filter(appended):
    session, settings, _ = appended
    assert run_compact(session, settings, ["study_year=1800"]).partitions_seen == 0
    with pytest.raises(BadPartition, match="study_year=YYYY"):
        run_compact(session, settings, ["year=2020"])


class Crash(Exception):
    pass


@pytest.mark.parametrize("crash_at", ["merged file written", "switched", "old file deleted", "merged file copied",
                                      "merged file renamed", "switched back"])
def test_a_compaction_killed_after_any_step_loses_and_doubles_nothing(appended, crash_at, tmp_path):
    session, settings, _ = appended
    before = _rows(session, settings)

    def step(name):
        if name == crash_at:
            raise Crash(name)

    with pytest.raises(Crash):
        run_compact(session, settings, on_step=step)
    assert _rows(session, settings) == before  # readable, every row exactly once, mid-compaction
    # a load of new files into the same partitions finishes the interrupted compaction first
    generate(tmp_path / "c", patients=2, seed=23, image_size=32)
    added = run_load(session, settings, [str(tmp_path / "c")], LoadOptions(workers=1)).loaded
    after = _rows(session, settings)
    assert len(after) == len(before) + added and len({r[0] for r in after}) == len(after)
    run_compact(session, settings)
    assert _rows(session, settings) == after
    assert not list((settings.local_storage_dir / settings.database / "dicom_metadata").rglob("_compact-*"))
