"""Test corpora: a synthetic corpus plus every kind of bad input the loader must account for.

`make_bad_inputs` writes files next to a synthetic corpus and returns, for each, what the loader
must do with it: ("error", class) when it must land in load_errors and not in dicom_metadata,
("loaded", None) when it must load (possibly with warnings or into the unknown partition).
"""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import pydicom
from pydicom.uid import DeflatedExplicitVRLittleEndian, generate_uid

PYDICOM_DATA = Path(pydicom.__file__).parent / "data"


def synth_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.dcm"))


def _variant(src: Path, dst: Path, edit) -> None:
    ds = pydicom.dcmread(src)
    ds.SOPInstanceUID = generate_uid(entropy_srcs=[str(dst)])
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    edit(ds)
    dst.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(dst, enforce_file_format=True)


def make_bad_inputs(root: Path, template: Path) -> dict[Path, tuple[str, str | None]]:
    """Write the bad-input corpus under root/bad/ from one valid synthetic file."""
    bad = root / "bad"
    bad.mkdir(parents=True, exist_ok=True)
    expect: dict[Path, tuple[str, str | None]] = {}
    raw = template.read_bytes()

    def put(name: str, data: bytes, outcome: tuple[str, str | None]) -> None:
        p = bad / name
        p.write_bytes(data)
        expect[p] = outcome

    put("empty.dcm", b"", ("error", "empty"))
    put("notes.txt", "not an image at all\n".encode(), ("error", "not_dicom"))
    put("random.bin", random.Random(7).randbytes(4096), ("error", "not_dicom"))
    put("truncated_header.dcm", raw[:300], ("error", "truncated"))
    put("preamble_only.dcm", raw[:132], ("error", None))

    # a sequence whose item length runs past the end of the file
    def corrupt_sequence(ds):
        from pydicom.dataset import Dataset
        from pydicom.sequence import Sequence

        item = Dataset()
        item.CodeValue = "X"
        ds.ProcedureCodeSequence = Sequence([item])

    p = bad / "corrupt_sequence.dcm"
    _variant(template, p, corrupt_sequence)
    data = bytearray(p.read_bytes())
    i = data.find(b"\x08\x00\x32\x10")  # (0008,1032) ProcedureCodeSequence
    if i >= 0:
        data[i + 8:i + 12] = (0x7FFFFF00).to_bytes(4, "little")  # absurd sequence length
    p.write_bytes(bytes(data))
    expect[p] = ("error", None)  # truncated or corrupt, as pydicom reports it

    def no_patient(ds):
        del ds.PatientID

    _variant(template, bad / "no_patient_id.dcm", no_patient)
    expect[bad / "no_patient_id.dcm"] = ("error", "missing_patient_id")

    def no_date(ds):
        del ds.StudyDate

    _variant(template, bad / "no_study_date.dcm", no_date)
    expect[bad / "no_study_date.dcm"] = ("loaded", "unknown_date")

    def no_modality(ds):
        del ds.Modality

    _variant(template, bad / "no_modality.dcm", no_modality)
    expect[bad / "no_modality.dcm"] = ("loaded", "unknown_modality")

    def invalid_values(ds):  # valid sentinels, patched to invalid bytes below (pydicom won't write them)
        ds.StudyDate = "20241230"
        ds.add_new(0x00180050, "DS", "9.875")  # SliceThickness
        ds.add_new(0x00200013, "IS", "7777")  # InstanceNumber

    p = bad / "invalid_values.dcm"
    _variant(template, p, invalid_values)
    data = p.read_bytes()
    for good_value, bad_value in [(b"20241230", b"20241345"), (b"9.875 ", b"thick "), (b"7777", b"7A77")]:
        assert data.count(good_value) >= 1, good_value
        data = data.replace(good_value, bad_value)
    p.write_bytes(data)
    expect[p] = ("loaded", "warnings")

    def huge_private(ds):
        ds.add_new(0x00090010, "LO", "ACME PRIVATE")
        ds.add_new(0x00091001, "OB", b"\x01" * (4 * 1024 * 1024))

    _variant(template, bad / "huge_private_tag.dcm", huge_private)
    expect[bad / "huge_private_tag.dcm"] = ("loaded", None)

    def non_ascii(ds):
        ds.SpecificCharacterSet = "ISO_IR 192"
        ds.PatientName = "Ŝtraße^Ŋame=山田^太郎"

    _variant(template, bad / "utf8_name.dcm", non_ascii)
    expect[bad / "utf8_name.dcm"] = ("loaded", None)

    ds = pydicom.dcmread(template)
    ds.SOPInstanceUID = generate_uid(entropy_srcs=["deflated"])
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    ds.save_as(bad / "deflated.dcm", enforce_file_format=True)
    expect[bad / "deflated.dcm"] = ("loaded", None)

    dup = root / "zz_later" / "duplicate_copy.dcm"  # walked after the original: it is the duplicate
    dup.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(template, dup)
    expect[dup] = ("error", "duplicate")

    shutil.copy(PYDICOM_DATA / "test_files" / "dicomdirtests" / "DICOMDIR", bad / "DICOMDIR")
    expect[bad / "DICOMDIR"] = ("error", "dicomdir")
    for name, cls in [("MR_truncated.dcm", None), ("rtplan_truncated.dcm", None), ("no_meta.dcm", None)]:
        shutil.copy(PYDICOM_DATA / "test_files" / name, bad / name)
        expect[bad / name] = ("any", cls)  # pydicom's own odd files: loaded or classified, never lost
    return expect


def byte_flips(src: list[Path], out: Path, count: int, seed: int) -> list[Path]:
    """Copies of valid files with random bytes flipped (fuzzed inputs)."""
    rng = random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)
    made = []
    for i in range(count):
        data = bytearray(rng.choice(src).read_bytes())
        for _ in range(rng.randint(1, 20)):
            pos = rng.randrange(len(data))
            data[pos] = rng.randrange(256)
        p = out / f"flipped_{i:03d}.dcm"
        p.write_bytes(bytes(data))
        made.append(p)
    return made
