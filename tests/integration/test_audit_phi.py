"""The hostile corpus through the real load, then `audit phi` over everything the core database holds.

- Loaded with the defaults, the audit must find nothing: no identifier of the original headers, no
  real path, no phone number, e-mail address or MRN-like number in any file of the core database.
- Loaded with `--deid off` into a fresh database, the audit must report the planted identifiers
  where they were planted, and the CLI must exit 1 without printing any of them.
- An independent de-identifier (dicognito) is the oracle: every attribute it removes or rewrites
  in the hostile corpus is absent from header_json or changed there, or kept by a named option.
"""

from __future__ import annotations

import base64
import copy
import os
import warnings

import pydicom
import pytest

from mi_warehouse.audit.phi import scan
from mi_warehouse.config import load_settings
from mi_warehouse.engine.connection import connect
from mi_warehouse.loaders.load import LoadOptions, run_load
from mi_warehouse.migrations.runner import Migrator
from mi_warehouse.synth.hostile import PLACES, generate_hostile

from ..conftest import REPO, run_cli

# Attributes the oracle rewrites that the warehouse keeps on purpose, by VR, with the option why.
KEPT_BY_OPTION = {
    "UI": "Retain UIDs Option (PS3.15 E.3.9): image references, labels and lineage join on the UIDs",
    "TM": "Retain Longitudinal Temporal Information with Modified Dates (E.3.6): dates move, times of day stay",
}


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    return generate_hostile(tmp_path_factory.mktemp("hostile") / "dicom", patients=4, seed=3)


def _loaded(server_env, name: str, corpus, options: LoadOptions):
    env = dict(server_env, MIW_DATABASE=f"{name}_{os.getpid()}", MIW_PHI_DATABASE=f"{name}_{os.getpid()}_phi")
    settings = load_settings(REPO, env=env)
    session = connect(settings)
    try:
        Migrator(session, settings).apply()
        summary = run_load(session, settings, [str(corpus.out_dir)], options)
        headers = dict(session.execute(f"SELECT sop_instance_uid, header_json FROM {settings.database}.dicom_metadata").rows)
    finally:
        session.close()
    assert summary.loaded == len(corpus.files), summary  # every hostile file is a valid image
    return settings, env, headers


@pytest.fixture(scope="module")
def default_load(server_env, hostile):
    return _loaded(server_env, "audit_on", hostile, LoadOptions(workers=1))


@pytest.fixture(scope="module")
def raw_load(server_env, hostile):
    return _loaded(server_env, "audit_off", hostile, LoadOptions(workers=1, deid=False, keep_phi_map=True))


def _table(findings) -> str:
    return "\n".join(f"  {f.where} [{f.file}]: {f.kind} x{f.count}" for f in findings)


def test_default_load_leaves_no_identifier_in_the_core_database(default_load, hostile):
    settings, _, _ = default_load
    findings = scan(settings, sources=[str(hostile.out_dir)])
    assert findings == [], f"{len(findings)} finding(s) in {settings.database}:\n{_table(findings)}"


def test_the_default_load_audit_looks_where_the_load_wrote(default_load, hostile):
    """A clean audit means something only if it reads the database the load wrote: plant one leak there."""
    settings, _, _ = default_load
    probe = settings.local_storage_dir / settings.database / "_work" / ".probe"
    probe.parent.mkdir(parents=True, exist_ok=True)
    probe.write_text(f"left behind: {hostile.patients[3].accession}\n")
    try:
        found = scan(settings, sources=[str(hostile.out_dir)])
    finally:
        probe.unlink()
    assert [(f.table, f.file, f.column, f.kind) for f in found] == [
        ("_work", "_work/.probe", "(text)", "AccessionNumber")]


def test_an_ordinary_corpus_loaded_with_the_defaults_gives_no_false_finding(server_env, tmp_path):
    """The demo corpus (names such as Lee^Min, CT+PET pairs days apart, longitudinal patients): no
    finding. The key is fixed so the date shifts, and so this result, are the same on every run."""
    from mi_warehouse.synth import generate

    generate(tmp_path / "dicom", patients=16, seed=21, image_size=16)
    key = tmp_path / "fixed.key"
    key.write_text("5a" * 32 + "\n")
    key.chmod(0o600)
    corpus = type("Corpus", (), {"out_dir": tmp_path / "dicom", "files": sorted((tmp_path / "dicom").rglob("*.dcm"))})
    settings, _, _ = _loaded(dict(server_env, MIW_KEY_FILE=str(key)), "audit_demo", corpus, LoadOptions(workers=1))
    findings = scan(settings, sources=[str(tmp_path / "dicom")])
    assert findings == [], f"{len(findings)} false finding(s):\n{_table(findings)}"


def test_raw_load_shows_every_planted_identifier_where_it_was_planted(raw_load, hostile):
    settings, _, _ = raw_load
    findings = scan(settings, sources=[str(hostile.out_dir)])
    tags = {f.tag for f in findings if f.table == "dicom_metadata" and f.column == "header_json"}
    missing = [(where, tag) for where, tag in PLACES if tag not in tags]
    assert not missing, f"planted but not reported: {missing}"
    kinds = {f.kind for f in findings}
    assert {"PatientID", "PatientName", "AccessionNumber", "IssuerOfPatientID", "OtherPatientIDs",
            "PatientBirthDate", "file path", "phone pattern", "e-mail pattern",
            "digit-run pattern (MRN-like)"} <= kinds, kinds
    assert {"StudyDate", "SeriesDate"} & kinds
    columns = {(f.table, f.column) for f in findings}
    assert ("dicom_metadata", "patient_key") in columns and ("dicom_metadata", "image_uri") in columns
    shown = _table(findings)
    for p in hostile.patients:
        assert p.patient_id not in shown and p.family not in shown and p.accession not in shown


def test_raw_load_cli_exits_1_and_prints_no_identifier(raw_load, hostile):
    _, env, _ = raw_load
    r = run_cli(["audit", "phi", "--sources", str(hostile.out_dir)], env)
    assert r.returncode == 1, r.stderr
    assert "header_json" in r.stdout and "finding(s)" in r.stdout
    out = r.stdout + r.stderr
    for p in hostile.patients:
        for value in (p.patient_id, p.family, p.accession, p.other_id, p.phone, p.email, p.legacy_mrn):
            assert value not in out


# --- the oracle -------------------------------------------------------------------------------
def _leaves(ds, prefix: str = "") -> dict[str, tuple[str, str]]:
    """{tag path: (vr, value as text)} of a pydicom dataset, sequences item by item."""
    out = {}
    for elem in ds:
        path = f"{prefix}{elem.tag:08X}"
        if elem.VR == "SQ":
            for i, item in enumerate(elem.value or ()):
                out.update(_leaves(item, f"{path}[{i}]."))
        else:
            out[path] = (elem.VR, _text(elem.value))
    return out


def _text(value) -> str:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("latin-1")
    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        return "\\".join(_text(v) for v in value)
    return "" if value is None else str(value)


def _json_leaves(model: dict, prefix: str = "") -> dict[str, str]:
    out = {}
    for tag, elem in model.items():
        path = f"{prefix}{tag.upper()}"
        if elem.get("vr") == "SQ":
            for i, item in enumerate(elem.get("Value") or ()):
                out.update(_json_leaves(item, f"{path}[{i}]."))
        elif "InlineBinary" in elem:
            out[path] = base64.b64decode(elem["InlineBinary"]).decode("latin-1")
        else:
            out[path] = "\\".join("=".join(v.values()) if isinstance(v, dict) else str(v)
                                  for v in elem.get("Value") or ())
    return out


def _drop_unparseable_dates(ds, prefix: str = "") -> set[str]:
    """Remove the DA/DT values that do not parse (the oracle fails on them); their paths count as
    removed by the oracle: a date that does not parse can hold anything."""
    dropped = set()
    for elem in list(ds):
        path = f"{prefix}{elem.tag:08X}"
        if elem.VR == "SQ":
            for i, item in enumerate(elem.value or ()):
                dropped |= _drop_unparseable_dates(item, f"{path}[{i}].")
        elif elem.VR in ("DA", "DT") and elem.value and not str(elem.value)[:8].isdigit():
            del ds[elem.tag]
            dropped.add(path)
    return dropped


def test_what_the_oracle_removes_or_rewrites_is_gone_from_header_json(default_load, hostile):
    import json

    from dicognito.anonymizer import Anonymizer

    _, _, headers = default_load
    leaks = []
    for n, path in enumerate(hostile.files):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            original = pydicom.dcmread(path, stop_before_pixels=True)
            anonymized = copy.deepcopy(original)
            _drop_unparseable_dates(anonymized)
            Anonymizer(seed="oracle").anonymize(anonymized)
            before, after = _leaves(original), _leaves(anonymized)
        ours = _json_leaves(json.loads(headers[original.SOPInstanceUID]))
        for tag_path, (vr, value) in before.items():
            if not value.strip() or after.get(tag_path, (vr, None))[1] == value:
                continue  # the oracle keeps it: nothing to compare
            if ours.get(tag_path) != value:
                continue  # gone, or changed (pseudonym, shifted date) here too
            if vr in KEPT_BY_OPTION:
                continue
            leaks.append(f"{tag_path} ({pydicom.datadict.keyword_for_tag(int(tag_path[-8:], 16)) or vr}) "
                         f"in file {n}")
    assert not leaks, f"the oracle de-identifies these, header_json keeps them unchanged: {sorted(set(leaks))}"
