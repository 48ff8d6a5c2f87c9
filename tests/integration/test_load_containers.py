"""Real-world inputs through the engine: gzip and zip members, a corrupt archive, files without
preamble or file meta, and files without PatientID under a surrogate patient key."""

from __future__ import annotations

import shutil
import zipfile

import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid

from mi_warehouse.engine.connection import connect
from mi_warehouse.loaders.load import LoadOptions, run_load
from mi_warehouse.migrations.runner import Migrator
from mi_warehouse.synth import generate

from ..corpus import synth_files
from .test_load import errors_located, located, q


@pytest.fixture(scope="module")
def loaded(server_env, tmp_path_factory):
    import os

    from mi_warehouse.config import load_settings

    from ..conftest import REPO

    made = tmp_path_factory.mktemp("made")
    generate(made / "synth", patients=3, seed=5, image_size=32)
    good = synth_files(made / "synth")
    root = tmp_path_factory.mktemp("real_world")
    cine = root / "site" / "cine.zip"
    cine.parent.mkdir()
    members = {f"series/{i}.dcm": p for i, p in enumerate(good[:4])}
    with zipfile.ZipFile(cine, "w", zipfile.ZIP_DEFLATED) as z:
        for name, p in members.items():
            z.write(p, name)
        z.writestr("series/notes.txt", b"acquired with the probe upside down")
    shutil.copy(good[4], root / "site" / "loose.dcm")
    shutil.copy(get_testdata_file("zipMR.gz"), root / "zipMR.gz")
    (root / "corrupt.zip").write_bytes(b"PK\x03\x04" + bytes(range(256)) * 4)
    shutil.copy(get_testdata_file("no_meta.dcm"), root / "no_meta.dcm")
    shutil.copy(get_testdata_file("ExplVR_BigEndNoMeta.dcm"), root / "bigend_no_meta.dcm")
    template = good[5]  # two more files of its study, without PatientID
    shutil.copy(template, root / "site" / "with_patient.dcm")
    study = str(pydicom.dcmread(template).StudyInstanceUID)
    for i in range(2):
        ds = pydicom.dcmread(template)
        del ds.PatientID
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid(entropy_srcs=[f"no-pid-{i}"])
        ds.save_as(root / f"no_patient_{i}.dcm")

    env = dict(server_env, MIW_DATABASE=f"lc_{os.getpid()}", MIW_PHI_DATABASE=f"lc_{os.getpid()}_phi",
               MIW_MISSING_PATIENT_ID="surrogate")
    settings = load_settings(REPO, env=env)
    assert settings.missing_patient_id == "surrogate"
    session = connect(settings)
    Migrator(session, settings).apply()
    summary = run_load(session, settings, [str(root)], LoadOptions(workers=2))
    expected = {cine.as_uri() + "!" + name for name in [*members, "series/notes.txt"]}
    expected |= {(root / "zipMR.gz").as_uri() + "!zipMR", (root / "corrupt.zip").as_uri()}
    expected |= {p.as_uri() for p in root.rglob("*.dcm")}
    yield {"root": root, "settings": settings, "session": session, "summary": summary, "expected": expected,
           "cine": cine, "study": study, "template": template}
    session.close()


def test_every_file_and_member_is_accounted_for(loaded):
    s, settings, root = loaded["session"], loaded["settings"], loaded["root"]
    rows = {r[0] for r in q(s, f"SELECT path FROM {located(settings)}")}
    errors = {r[0]: (r[1], r[2]) for r in q(s, f"SELECT path, error_class, message FROM {errors_located(settings)} "
                                                "WHERE severity = 'error'")}
    assert rows.isdisjoint(errors) and rows | set(errors) == loaded["expected"]
    assert loaded["summary"].files_seen == len(loaded["expected"])
    cine = loaded["cine"].as_uri()
    assert errors == {cine + "!series/notes.txt": ("not_dicom", errors[cine + "!series/notes.txt"][1]),
                      (root / "corrupt.zip").as_uri(): ("corrupt", errors[(root / "corrupt.zip").as_uri()][1])}
    assert "zip" in errors[(root / "corrupt.zip").as_uri()][1]
    assert {cine + f"!series/{i}.dcm" for i in range(4)} <= rows
    assert {(root / "zipMR.gz").as_uri() + "!zipMR", (root / "no_meta.dcm").as_uri(),
            (root / "bigend_no_meta.dcm").as_uri()} <= rows


def test_members_resolve_to_their_bytes(loaded):
    from mi_warehouse.udfs.image_source import read_uri

    s, settings = loaded["session"], loaded["settings"]
    uris = [r[0] for r in q(s, f"SELECT image_uri FROM {settings.phi_database}.image_locations "
                               "WHERE image_uri LIKE '%!%'")]
    assert len(uris) == 5
    for uri in uris:
        assert read_uri(uri)[128:132] == b"DICM"


def test_files_without_patient_id_get_a_flagged_surrogate_key(loaded):
    s, settings, root = loaded["session"], loaded["settings"], loaded["root"]
    by_path = {r[0]: r[1:] for r in q(s, f"SELECT path, patient_key, patient_key_source, study_uid, study_date "
                                         f"FROM {located(settings)}")}
    surrogate = {p: v for p, v in by_path.items() if v[1] == "study"}
    assert set(surrogate) == {(root / f"no_patient_{i}.dcm").as_uri() for i in range(2)} | \
        {(root / "bigend_no_meta.dcm").as_uri()}
    assert {v[1] for p, v in by_path.items() if p not in surrogate} == {"patient_id"}
    same_study = [v for p, v in surrogate.items() if "no_patient_" in p]
    assert same_study[0][0] == same_study[1][0] and same_study[0][3] == same_study[1][3]  # key, shifted date
    patient_keys = {v[0] for p, v in by_path.items() if p not in surrogate}
    assert not patient_keys & {v[0] for v in surrogate.values()}
    original = [v for v in by_path.values() if v[2] == loaded["study"] and v[1] == "patient_id"]
    assert original and original[0][0] != same_study[0][0]  # the study's own patient keeps its key
    warned = {r[0] for r in q(s, f"SELECT path FROM {errors_located(settings)} WHERE severity = 'warning' "
                                 "AND error_class = 'missing_patient_id'")}
    assert warned == set(surrogate)
    assert q(s, f"SELECT count(*) FROM {settings.database}.dicom_metadata WHERE patient_key_source IS NULL")[0][0] == 0
