"""Fuzzing: hostile corpora through the loader, random bytes through the header converter,
awkward values through the real engine's TRANSFORM and our codec."""

from __future__ import annotations

import io
import json
import os
import sys

from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from mi_warehouse.loaders.deid import Deidentifier
from mi_warehouse.loaders.extract import extract
from mi_warehouse.loaders.load import LoadOptions, run_load
from mi_warehouse.synth import generate
from mi_warehouse.migrations.runner import Migrator
from mi_warehouse.serde import catalog as cat

from ..corpus import byte_flips, make_bad_inputs, synth_files

DEID = Deidentifier(b"\x07" * 32)


def test_hostile_corpus_with_byte_flips_is_fully_accounted_for(session, tmp_path):
    settings = session.settings
    Migrator(session, settings).apply()
    generate(tmp_path / "synth", patients=8, seed=9, image_size=32)
    good = synth_files(tmp_path / "synth")
    make_bad_inputs(tmp_path, good[0])
    flipped = byte_flips(good, tmp_path / "flipped", 60, seed=4)
    summary = run_load(session, settings, [str(tmp_path)], LoadOptions(workers=2))
    on_disk = {"file://" + str(p) for p in tmp_path.rglob("*") if p.is_file()}
    loaded = {r[0] for r in session.execute(f"SELECT image_uri FROM {settings.phi_database}.image_locations").rows}
    errors = {r[0]: r[1] for r in session.execute(
        f"SELECT path, error_class FROM {settings.phi_database}.load_errors_located WHERE severity = 'error'").rows}
    classes = sorted(set(errors.values()))
    print(f"\nhostile corpus: {len(on_disk)} files ({len(flipped)} byte-flipped): {len(loaded)} loaded, "
          f"{len(errors)} in load_errors by class {classes}")
    assert loaded | set(errors) == on_disk and not (loaded & set(errors))
    assert summary.files_seen == len(on_disk)


def _file(body: bytes) -> io.BytesIO:
    return io.BytesIO(b"\0" * 128 + b"DICM" + body)


@hsettings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=600))
def test_random_bytes_after_the_marker_never_crash_the_extractor(body):
    out = extract("file:///fuzz.dcm", _file(body), 132 + len(body), DEID, "fuzz")
    assert (out.row is None) != (out.error_class is None)
    if out.message:
        assert "\n" not in out.message


@hsettings(max_examples=300, deadline=None)
@given(st.text(max_size=20), st.sampled_from([c for c in cat.COLUMNS if c.convert is not None]))
def test_converters_raise_only_invalid_value(text, column):
    try:
        column.convert(text)
    except cat.InvalidValue:
        pass


AWKWARD = ["plain", "", "back\\slash", "ünïcødé 日本", "semi;colon", "quote'd", "a\\tb"]


def _awkward_table(session, db, values):
    from mi_warehouse.engine import literals as lit

    session.execute(f"CREATE DATABASE IF NOT EXISTS {db}")
    session.execute(f"DROP TABLE IF EXISTS {db}.awkward")
    session.execute(f"CREATE TABLE {db}.awkward (id INT, s STRING, a ARRAY<STRING>, d ARRAY<DOUBLE>) "
                    f"STORED AS PARQUET")
    rows = []
    for i, v in enumerate(values + [None]):
        arr = "CAST(NULL AS ARRAY<STRING>)" if v is None else f"array({lit.string(v)}, '', 'x')"
        rows.append(f"SELECT {i}, {lit.value(v)}, {arr}, array(CAST({i} AS DOUBLE) / 3, -0.0, 1e300)")
    session.execute(f"INSERT INTO {db}.awkward " + " UNION ALL ".join(rows))


def _script(tmp_path, body: str):
    p = tmp_path / "codec_script.py"
    p.write_text("import sys, json\nfrom mi_warehouse.serde.transform_codec import read_rows, write_row\n"
                 "TYPES = ['int', 'string', 'array<string>', 'array<double>']\n" + body)
    return f"{sys.executable} {p}"


def test_transform_rows_survive_the_real_engine_both_ways(session, tmp_path):
    """The engine's default TRANSFORM format (no escaping): a script decodes each row with our codec
    and writes it back encoded; what the engine reads back equals what went in."""
    db = session.settings.database
    _awkward_table(session, db, AWKWARD)
    cmd = _script(tmp_path, "for row in read_rows(sys.stdin, TYPES):\n    write_row(sys.stdout, row)\n")
    got = session.execute(f"SELECT TRANSFORM (id, s, a, d) USING '{cmd}' "
                          f"AS (id INT, s STRING, a ARRAY<STRING>, d ARRAY<DOUBLE>) FROM {db}.awkward").rows
    direct = session.execute(f"SELECT id, s, a, d FROM {db}.awkward").rows
    assert sorted(got, key=lambda r: r[0]) == sorted(direct, key=lambda r: r[0])
    print(f"\nTRANSFORM round trip through the engine: {len(got)} rows with {AWKWARD} and NULL: identical")
