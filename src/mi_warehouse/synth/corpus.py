"""Synthetic DICOM corpus generator (no real patient data anywhere).

``generate(out_dir, patients, seed)`` writes a deterministic corpus of valid DICOM
Part 10 files (Explicit VR Little Endian by default; ``transfer_syntax`` picks RLE,
JPEG-LS, JPEG 2000 or JPEG Lossless SV1, all lossless, see :mod:`.encode`) laid out as
``out_dir/<PatientID>/<StudyDate>/<SeriesInstanceUID>/<SOPInstanceUID>.dcm``
plus ``out_dir/labels.csv`` with the ground truth of every chest radiograph.

The corpus covers chest CR/DX (about a third carry a bright nodule-like
"finding"), CT, MR and PET, with longitudinal patients (same body part in
different years 2019-2025), CT+PET pairs a few days apart, several vendors
and sites, and patient names in several character sets.  Everything --
UIDs included -- derives from ``seed``, so equal seeds give identical bytes.

Pixels are 12 bits stored in 16 allocated (MONOCHROME2, or MONOCHROME1 for some CR
readers). Chest radiographs are ``image_size`` pixels a side (real ones are 2,000-3,000);
CT, MR and PET slices are ``min(image_size, 512)``, as scanners write them. Templates are
drawn at no more than 512 pixels and upsampled, so a 2500-pixel corpus costs a few
full-size arrays per image, not a supersampled 10,000-pixel canvas.
"""

from __future__ import annotations

import csv
import datetime as _dt
import functools
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
from pydicom import dcmwrite
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    PYDICOM_IMPLEMENTATION_UID,
    PYDICOM_ROOT_UID,
    ComputedRadiographyImageStorage,
    CTImageStorage,
    DigitalXRayImageStorageForPresentation,
    ExplicitVRLittleEndian,
    MRImageStorage,
    PositronEmissionTomographyImageStorage,
    generate_uid,
)

from .encode import check_encoder, encode_frame, syntax_uid
from .shortcut import Shortcut, marker_mask

__all__ = ["SynthSummary", "Shortcut", "generate", "lung_mask", "NAME_POOLS", "MAX_STORED", "SITE_CODES"]

MAX_STORED = 4095  # 12 bits stored in 16 allocated

# Patient names by SpecificCharacterSet ("" = default repertoire, element omitted).
NAME_POOLS: dict[str, list[str]] = {
    "": ["Doe^Jane", "Smith^John^A", "Okafor^Chidi", "Garcia^Maria", "Nguyen^Linh",
         "Brown^Oliver", "Kowalski^Piotr", "Patel^Anika", "Johansson^Erik", "Lee^Min"],
    "ISO_IR 100": ["Müller^Jürgen", "Gonçalves^João", "Østergaard^Søren", "Dubois^Hélène",
                   "Núñez^José", "Åström^Åsa", "Schäfer^Björn"],
    "ISO_IR 192": ["山田^太郎", "Παπαδόπουλος^Γιώργος", "Wang^XiaoDong=王^小東",
                   "Hong^Gildong=洪^吉洞=홍^길동", "Ελευθερίου^Μαρία", "佐藤^花子"],
    "ISO_IR 144": ["Иванов^Иван", "Петрова^Анна", "Смирнов^Дмитрий"],
    "\\ISO 2022 IR 87": ["Yamada^Tarou=山田^太郎=やまだ^たろう",
                         "Suzuki^Hanako=鈴木^花子=すずき^はなこ"],
}
# Deterministic cycle so that even tiny corpora contain every character set.
_CHARSET_CYCLE = ["", "ISO_IR 100", "", "ISO_IR 192", "ISO_IR 144", "",
                  "ISO_IR 100", "\\ISO 2022 IR 87", "", "ISO_IR 192", "", ""]
_PHYSICIANS = ["Adams^Grace^^Dr", "Baker^Henry^^Dr", "Chen^Wei^^Dr", "Diaz^Rosa^^Dr",
               "Evans^Paul^^Dr", "Fischer^Anna^^Dr"]
_SITES = [("NGH", "Northgate General Hospital"), ("SAM", "St Aurelia Medical Center"),
          ("RUC", "Riverside University Clinic"), ("LII", "Lakeshore Imaging Institute")]
SITE_CODES = [code for code, _ in _SITES]
_VENDORS = {
    "CR": [("FUJIFILM Corporation", "FCR PROFECT CS"), ("Carestream Health", "DirectView CR975"),
           ("Agfa", "CR 30-X")],
    "DX": [("GE Healthcare", "Definium 6000"), ("Philips Medical Systems", "DigitalDiagnost"),
           ("SIEMENS", "Ysio Max"), ("Carestream Health", "DRX-Evolution")],
    "CT": [("SIEMENS", "SOMATOM Definition AS"), ("GE MEDICAL SYSTEMS", "Revolution CT"),
           ("Philips", "iCT 256"), ("Canon Medical Systems", "Aquilion ONE")],
    "MR": [("SIEMENS", "Skyra"), ("GE MEDICAL SYSTEMS", "SIGNA Premier"),
           ("Philips Medical Systems", "Ingenia")],
    "PT": [("SIEMENS", "Biograph mCT"), ("GE MEDICAL SYSTEMS", "Discovery MI"),
           ("Philips", "Vereos")],
}
_MONO1_VENDORS = {"FUJIFILM Corporation", "Agfa"}  # CR readers that store MONOCHROME1
_SOP_CLASS = {"CR": ComputedRadiographyImageStorage,
              "DX": DigitalXRayImageStorageForPresentation, "CT": CTImageStorage,
              "MR": MRImageStorage, "PT": PositronEmissionTomographyImageStorage}
# Patient profiles; the first len(_PROFILES) patients take each one in turn.
_PROFILES = ["chest_long", "petct", "mr", "chest_single", "ct_long", "mixed"]
_PROFILE_P = [0.2, 0.15, 0.15, 0.25, 0.1, 0.15]
_YEARS = list(range(2019, 2026))
_FINDING_RATE = 0.35
_BASE = 512  # largest size templates are drawn at; bigger images are upsampled from it


@dataclass
class SynthSummary:
    """What ``generate`` wrote."""

    out_dir: Path
    files_written: int
    patients: int
    studies: int
    series: int
    modality_counts: dict[str, int] = field(default_factory=dict)
    chest_images: int = 0
    findings: int = 0
    labels_csv: Path | None = None
    marked: int = 0  # chest images carrying the shortcut marker (see :mod:`.shortcut`)


def _ds(v: float) -> str:
    """Format a float as a short DICOM DS string."""
    return format(float(v), ".6g")


# ----------------------------------------------------------------------------- pixels
def _grid(n: int, ss: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Normalised (u, v) coordinates in [-1, 1]; ``ss`` = supersampling factor."""
    m = n * ss
    c = (np.arange(m, dtype=np.float32) + 0.5) / m * 2 - 1
    return np.meshgrid(c, c)  # u = columns (x), v = rows (y, top = -1)


def _ell(u, v, cu, cv, ru, rv) -> np.ndarray:
    return ((u - cu) / ru) ** 2 + ((v - cv) / rv) ** 2 <= 1.0


def _down(img: np.ndarray, ss: int) -> np.ndarray:
    n = img.shape[0] // ss
    return img.reshape(n, ss, n, ss).mean(axis=(1, 3)).astype(np.float32)


def _lungs(u, v, scale: float = 1.0) -> np.ndarray:
    lungs = _ell(u, v, -0.40, -0.05, 0.28 * scale, 0.58 * scale) | \
        _ell(u, v, 0.40, -0.05, 0.28 * scale, 0.58 * scale)
    grow = 2.0 - scale  # shrinking the lungs also keeps clear of the heart
    return lungs & ~_ell(u, v, 0.14, 0.38, 0.30 * grow, 0.26 * grow)  # heart shadow


def lung_mask(image_size: int, scale: float = 1.0) -> np.ndarray:
    """Boolean lung-field mask of the synthetic chest radiograph template.

    ``scale`` < 1 shrinks the fields about their centres; findings are always
    centred inside ``lung_mask(n, 0.7)`` (before a shift of at most n // 64 px).
    """
    u, v = _grid(image_size)
    return _lungs(u, v, scale)


def _upsample(img: np.ndarray, n: int) -> np.ndarray:
    """Bilinear resize of a square template to ``n`` x ``n`` (pixel centres aligned)."""
    b = img.shape[0]
    if b == n:
        return img
    src = np.clip((np.arange(n) + 0.5) * (b / n) - 0.5, 0, b - 1)
    i0 = np.minimum(src.astype(np.int64), b - 2)
    w = (src - i0).astype(np.float32)
    rows = img[i0] * (1 - w)[:, None] + img[i0 + 1] * w[:, None]
    return rows[:, i0] * (1 - w) + rows[:, i0 + 1] * w


class _Phantoms:
    """Per-image-size templates, built once per ``generate`` call (CT/MR/PT ones when first used)."""

    def __init__(self, n: int):
        self.n = n
        ss = 4
        u, v = _grid(min(n, _BASE), ss)
        body = _ell(u, v, 0, 0.15, 0.95, 1.05)
        img = np.where(body, 2300.0, 250.0)
        img = np.where(_ell(u, v, 0.14, 0.38, 0.30, 0.26), 2550.0, img)
        img = np.where(np.abs(u) < 0.07, 2800.0, img)
        lungs = _lungs(u, v)
        img = np.where(lungs, 1000.0, img)
        ribs = np.cos(2 * np.pi * (4.5 * v + 0.9 * u * u)) ** 2
        self.chest = _upsample(_down(img, ss), n)
        self.ribs = _upsample(_down(np.where(body, ribs * 230.0, 0.0), ss), n)
        del img, ribs, body, lungs
        uu, vv = _grid(n)
        self.px_u = (uu + 1) / 2 * n - 0.5  # pixel-unit coordinates
        self.px_v = (vv + 1) / 2 * n - 0.5
        inner = np.argwhere(_lungs(uu, vv, 0.7))
        self.lung_coords = inner if len(inner) else np.argwhere(_lungs(uu, vv))

    @functools.cached_property
    def _ct(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        u, v = _grid(self.n, 4)
        return {part: (self._ct_hu(u, v, part, 0.92, 4), self._ct_hu(u, v, part, 1.0, 4))
                for part in ("CHEST", "ABDOMEN", "HEAD")}

    @functools.cached_property
    def _mr(self) -> dict[tuple[str, str], np.ndarray]:
        u, v = _grid(self.n, 4)
        return {(part, w): self._mr_img(u, v, part, w, 4)
                for part in ("HEAD", "KNEE") for w in ("T1", "T2")}

    @functools.cached_property
    def _pt(self) -> dict[str, np.ndarray]:
        u, v = _grid(self.n, 4)
        return {part: _down(np.where(_ell(u, v, 0, 0, 0.85, 0.65), 150.0, 0.0), 4)
                for part in ("CHEST", "ABDOMEN")}

    @staticmethod
    def _ct_hu(u, v, part, s, ss) -> np.ndarray:
        hu = np.full(u.shape, -1000.0)
        if part == "HEAD":
            hu[_ell(u, v, 0, 0, 0.75 * s, 0.9 * s)] = 1000.0
            hu[_ell(u, v, 0, 0, 0.68 * s, 0.82 * s)] = 35.0
            hu[_ell(u, v, 0, 0, 0.12 * s, 0.25 * s)] = 5.0
        else:
            hu[_ell(u, v, 0, 0, 0.9 * s, 0.65 * s)] = -100.0
            hu[_ell(u, v, 0, 0, 0.82 * s, 0.58 * s)] = 40.0
            if part == "CHEST":
                hu[_lungs(u * 1.15, v * 1.4, s)] = -850.0
            else:
                hu[_ell(u, v, -0.35, -0.1, 0.35 * s, 0.3 * s)] = 60.0  # liver
            hu[_ell(u, v, 0, 0.42, 0.1, 0.1)] = 700.0  # vertebral body
        return _down(hu, ss)

    @staticmethod
    def _mr_img(u, v, part, weight, ss) -> np.ndarray:
        img = np.zeros(u.shape)
        fluid = 250.0 if weight == "T1" else 1300.0
        if part == "HEAD":
            img[_ell(u, v, 0, 0, 0.75, 0.9)] = 900.0 if weight == "T1" else 500.0
            img[_ell(u, v, 0, 0, 0.68, 0.82)] = 650.0
            img[_ell(u, v, 0, 0, 0.12, 0.25)] = fluid
        else:
            img[_ell(u, v, 0, 0, 0.6, 0.95)] = 700.0
            img[_ell(u, v, 0, -0.45, 0.35, 0.45)] = 450.0  # femur
            img[_ell(u, v, 0, 0.5, 0.33, 0.4)] = 450.0  # tibia
            img[np.abs(v - 0.02) < 0.04] = fluid  # joint space
        return _down(img, ss)

    # -- per-image generators (all randomness from ``rng``) --------------------
    def chest_image(self, rng: np.random.Generator, finding: bool, contrast: float = 1.0) -> np.ndarray:
        """Chest radiograph in MONOCHROME2 sense (bright = dense); ``contrast`` scales the finding."""
        n = self.n
        gain = rng.uniform(0.85, 1.15)
        a, b = rng.uniform(-150, 150, 2)
        img = (self.chest + self.ribs * rng.uniform(0.6, 1.2)) * gain
        img += a * (self.px_u / n - 0.5) + b * (self.px_v / n - 0.5)
        for _ in range(int(rng.integers(0, 4))):  # vessel end-on spots (distractors)
            self._add_spot(img, rng, rng.uniform(80, 220), rng.uniform(0.5, 1.0), hard=False)
        if finding:
            radius = max(0.9, rng.uniform(0.03, 0.08) * n)
            self._add_spot(img, rng, rng.uniform(300, 950) * gain * contrast, radius, hard=True)
        shift = n // 64
        img = np.roll(img, (int(rng.integers(-shift, shift + 1)),
                            int(rng.integers(-shift, shift + 1))), axis=(0, 1))
        img += rng.normal(0.0, rng.uniform(40, 90), img.shape)
        return img

    def _add_spot(self, img, rng, amp, size, hard) -> None:
        """Add a spot to ``img`` in place, within the window outside which it is below 1e-20."""
        r0, c0 = self.lung_coords[rng.integers(len(self.lung_coords))]
        r0, c0 = r0 + rng.uniform(-0.5, 0.5), c0 + rng.uniform(-0.5, 0.5)
        reach = size + 30.0 if hard else 10.0 * size
        win = (slice(max(0, int(r0 - reach)), int(r0 + reach) + 2),
               slice(max(0, int(c0 - reach)), int(c0 + reach) + 2))
        d2 = (self.px_v[win] - r0) ** 2 + (self.px_u[win] - c0) ** 2
        if hard:  # soft-edged disc: nodule-like
            img[win] += amp / (1.0 + np.exp(np.minimum((np.sqrt(d2) - size) / 0.6, 700.0)))
        else:
            img[win] += amp * np.exp(-d2 / (2 * size * size))

    def ct_slice(self, rng, part: str, t: float) -> np.ndarray:
        lo, hi = self._ct[part]
        hu = lo * (1 - t) + hi * t + rng.normal(0.0, 15.0, lo.shape)
        return hu + 1024.0  # stored value, RescaleIntercept -1024

    def mr_slice(self, rng, part: str, weight: str, t: float) -> np.ndarray:
        img = self._mr[(part, weight)] * (0.9 + 0.2 * t)
        return np.abs(img + rng.normal(0.0, 25.0, img.shape))

    def pt_slice(self, rng, part: str, lesions: list[tuple[float, float, float, float]],
                 t: float) -> np.ndarray:
        img = self._pt[part] * (0.9 + 0.2 * t)
        for r0, c0, amp, s in lesions:
            img = img + amp * np.exp(-((self.px_v - r0) ** 2 + (self.px_u - c0) ** 2) / (2 * s * s))
        return np.abs(img + rng.normal(0.0, 1.0, img.shape) * np.sqrt(img + 25.0) * 2.0)


def _to_u16(img: np.ndarray) -> bytes:
    return np.clip(np.rint(img), 0, MAX_STORED).astype("<u2").tobytes()


# ----------------------------------------------------------------------------- planning
@dataclass
class _Patient:
    pid: str
    name: str
    charset: str
    birth: _dt.date
    sex: str
    site: int
    studies: list[tuple[str, _dt.date, str]]  # (kind, date, body part)


class _Uids:
    """Deterministic UID source: hash of (seed, kind, running counter)."""

    def __init__(self, seed: int):
        self.seed, self.n = seed, 0

    def __call__(self, kind: str) -> str:
        self.n += 1
        return generate_uid(PYDICOM_ROOT_UID, [f"mi-warehouse-synth|{self.seed}|{kind}|{self.n}"])


def _pick(rng: np.random.Generator, seq):
    return seq[int(rng.integers(len(seq)))]


def _day_in(rng, year: int) -> _dt.date:
    return _dt.date(year, 1, 1) + _dt.timedelta(days=int(rng.integers(0, 365)))


def _plan_patient(rng: np.random.Generator, idx: int, seed: int) -> _Patient:
    """Demographics and the list of studies of one synthetic patient."""
    if idx < len(_PROFILES):
        profile = _PROFILES[idx]
    else:
        profile = _PROFILES[int(rng.choice(len(_PROFILES), p=_PROFILE_P))]
    charset = _CHARSET_CYCLE[idx % len(_CHARSET_CYCLE)]
    name = _pick(rng, NAME_POOLS[charset])
    birth = _dt.date(int(rng.integers(1935, 2004)), int(rng.integers(1, 13)),
                     int(rng.integers(1, 29)))
    sex = "O" if rng.random() < 0.02 else _pick(rng, ["F", "M"])
    years = [int(y) for y in rng.permutation(_YEARS)]  # distinct years, random order
    studies: list[tuple[str, _dt.date, str]] = []
    if profile in ("chest_long", "chest_single"):
        k = 1 if profile == "chest_single" else int(rng.integers(2, 4))
        studies += [("XR", _day_in(rng, y), "CHEST") for y in years[:k]]
    elif profile == "petct":
        part = _pick(rng, ["CHEST", "ABDOMEN"])
        d = _day_in(rng, years[0])
        studies += [("CT", d, part), ("PT", d + _dt.timedelta(days=int(rng.integers(1, 6))), part)]
    elif profile == "mr":
        part = _pick(rng, ["HEAD", "KNEE"])
        studies += [("MR", _day_in(rng, y), part) for y in years[: int(rng.integers(1, 3))]]
    elif profile == "ct_long":
        part = _pick(rng, ["CHEST", "ABDOMEN", "HEAD"])
        studies += [("CT", _day_in(rng, y), part) for y in years[:2]]
    else:  # mixed
        studies += [("XR", _day_in(rng, years[0]), "CHEST"),
                    ("CT", _day_in(rng, years[1]), _pick(rng, ["CHEST", "ABDOMEN", "HEAD"])),
                    ("MR", _day_in(rng, years[2]), _pick(rng, ["HEAD", "KNEE"]))]
    if profile in ("petct", "mr", "ct_long") and rng.random() < 0.4:
        studies.append(("XR", _day_in(rng, years[-1]), "CHEST"))
    studies.sort(key=lambda s: s[1])
    return _Patient(f"SYN{seed % 10000:04d}{idx:06d}", name, charset, birth, sex,
                    int(rng.integers(len(_SITES))), studies)


# ----------------------------------------------------------------------------- headers
def _age(birth: _dt.date, on: _dt.date) -> str:
    years = on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))
    return f"{max(years, 0):03d}Y"


def _study_ds(p: _Patient, date: _dt.date, time: str, site: int, physician: str,
              study_uid: str, accession: str, description: str) -> Dataset:
    """Patient + study level attributes shared by every series of a study."""
    ds = Dataset()
    if p.charset:
        ds.SpecificCharacterSet = p.charset.split("\\") if "\\" in p.charset else p.charset
    ds.PatientName = p.name
    ds.PatientID = p.pid
    ds.PatientBirthDate = p.birth.strftime("%Y%m%d")
    ds.PatientSex = p.sex
    ds.PatientAge = _age(p.birth, date)
    ds.StudyDate = ds.SeriesDate = ds.AcquisitionDate = ds.ContentDate = date.strftime("%Y%m%d")
    ds.StudyTime = time
    ds.AccessionNumber = accession
    ds.StudyInstanceUID = study_uid
    ds.StudyID = accession[-6:]
    ds.StudyDescription = description
    ds.ReferringPhysicianName = physician
    ds.InstitutionName = _SITES[site][1]
    ds.BurnedInAnnotation = "NO"
    ds.SamplesPerPixel = 1
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    return ds


def _finish_series(ds: Dataset, modality: str, vendor: tuple[str, str], site: int,
                   series_uid: str, number: int, time: str, description: str, n: int) -> None:
    """Series-level attributes common to all modalities, plus file meta."""
    ds.Modality = modality
    ds.SOPClassUID = _SOP_CLASS[modality]
    ds.Manufacturer, ds.ManufacturerModelName = vendor
    ds.StationName = f"{_SITES[site][0]}{modality}{number % 3 + 1}"
    ds.SeriesInstanceUID = series_uid
    ds.SeriesNumber = number
    ds.SeriesTime = ds.AcquisitionTime = ds.ContentTime = time
    ds.SeriesDescription = description
    ds.Rows = ds.Columns = n
    if "PhotometricInterpretation" not in ds:
        ds.PhotometricInterpretation = "MONOCHROME2"
    ds.add_new(0x7FE00010, "OW", b"")
    fm = FileMetaDataset()
    fm.MediaStorageSOPClassUID = ds.SOPClassUID
    fm.TransferSyntaxUID = ExplicitVRLittleEndian
    fm.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    fm.ImplementationVersionName = "MIWH_SYNTH_1"
    ds.file_meta = fm


def _later(time: str, minutes: int) -> str:
    t = _dt.datetime(2000, 1, 1, int(time[:2]), int(time[2:4]), int(time[4:]))
    return (t + _dt.timedelta(minutes=minutes)).strftime("%H%M%S")


# ----------------------------------------------------------------------------- writing
_CT_RECONS = {"CHEST": [("AXIAL 5.0 SOFT TISSUE", "B30f", 5.0, ["40", "-600"], ["400", "1500"]),
                        ("AXIAL 1.0 LUNG", "B70f", 1.0, ["-600"], ["1500"])],
              "ABDOMEN": [("AXIAL 5.0 PORTAL VENOUS", "B30f", 5.0, ["50"], ["350"]),
                          ("AXIAL 2.0 SOFT TISSUE", "B31f", 2.0, ["50"], ["350"])],
              "HEAD": [("AXIAL 5.0 BRAIN", "H31s", 5.0, ["40"], ["80"]),
                       ("AXIAL 1.0 BONE", "H70h", 1.0, ["500"], ["2500"])]}
_MR_SEQS = {"T1": ("T1 SE", "SE", "12", "550"), "T2": ("T2 TSE", "SE", "95", "4000")}


class _Writer:
    """Turns planned studies into files; owns the RNG stream and the counters."""

    def __init__(self, out_dir: Path, seed: int, n: int, progress, syntax=ExplicitVRLittleEndian,
                 shortcut: Shortcut | None = None):
        self.out, self.n, self.progress, self.syntax = out_dir, n, progress, syntax
        self.shortcut = shortcut
        self.shortcut_site = None if shortcut is None else shortcut.site_index(SITE_CODES)
        self.marked = 0
        self.nx = min(n, _BASE)  # CT, MR and PET slice size
        self.rng = np.random.default_rng(seed)
        self.uid = _Uids(seed)
        self.phx = _Phantoms(self.nx)
        self.ph = self.phx if self.nx == n else _Phantoms(n)  # volumes use phx only
        self.files = self.series = self.studies = self.findings = 0
        self.counts: dict[str, int] = {}
        self.labels: list[tuple[str, str, str, int, str]] = []

    def patient(self, p: _Patient) -> None:
        rng = self.rng
        for kind, date, part in p.studies:
            self.studies += 1
            site = p.site if rng.random() < 0.85 else int(rng.integers(len(_SITES)))
            time = f"{int(rng.integers(7, 19)):02d}{int(rng.integers(60)):02d}{int(rng.integers(60)):02d}"
            ctx = dict(p=p, date=date, time=time, site=site, physician=_pick(rng, _PHYSICIANS),
                       study_uid=self.uid("study"),
                       accession=f"{_SITES[site][0]}{date.year % 100:02d}{self.studies:07d}")
            getattr(self, f"_{kind.lower()}")(ctx, part, self.out / p.pid / date.strftime("%Y%m%d"))

    def _emit(self, ds: Dataset, study_dir: Path, images, fov: float | None = None) -> list[str]:
        """Write one series; ``images`` yields (pixel bytes, slice z or None)."""
        series_dir = study_dir / ds.SeriesInstanceUID
        os.makedirs(series_dir, exist_ok=True)
        sops = []
        for i, (pixels, z) in enumerate(images):
            sop = self.uid("sop")
            ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = sop
            ds.InstanceNumber = i + 1
            if z is not None:
                ds.ImagePositionPatient = [_ds(-fov / 2), _ds(-fov / 2), _ds(z)]
                ds.SliceLocation = _ds(z)
            if self.syntax == ExplicitVRLittleEndian:
                ds["PixelData"].value = pixels
            else:
                arr = np.frombuffer(pixels, "<u2").reshape(ds.Rows, ds.Columns)
                ds.file_meta.TransferSyntaxUID = self.syntax
                ds["PixelData"] = DataElement(0x7FE00010, "OB", encode_frame(
                    arr, self.syntax, bits_stored=ds.BitsStored,
                    photometric=ds.PhotometricInterpretation), is_undefined_length=True)
            dcmwrite(series_dir / f"{sop}.dcm", ds, enforce_file_format=True)
            sops.append(sop)
        self.series += 1
        self.files += len(sops)
        self.counts[ds.Modality] = self.counts.get(ds.Modality, 0) + len(sops)
        if self.progress is not None:
            self.progress(self.files)
        return sops

    def _xr(self, ctx, part: str, study_dir: Path) -> None:
        rng, n = self.rng, self.n
        modality = "CR" if rng.random() < 0.45 else "DX"
        vendor = _pick(rng, _VENDORS[modality])
        mono1 = modality == "CR" and vendor[0] in _MONO1_VENDORS
        views = ["PA", "LL"] if rng.random() < 0.7 else ["AP"]
        finding = bool(rng.random() < self._finding_rate(ctx["site"]))
        marked = finding and ctx["site"] == self.shortcut_site
        desc = "XR CHEST PA AND LATERAL" if len(views) == 2 else "XR CHEST 1 VIEW AP PORTABLE"
        for k, view in enumerate(views):
            ds = _study_ds(description=desc, **ctx)
            ds.BodyPartExamined = part
            ds.ViewPosition = view
            ds.PatientOrientation = ["A", "F"] if view == "LL" else ["L", "F"]
            ds.ImageType = ["ORIGINAL", "PRIMARY"]
            ds.ImagerPixelSpacing = ds.PixelSpacing = [_ds(430.0 / n)] * 2
            ds.KVP = "90" if view == "AP" else ("125" if view == "LL" else "110")
            ds.DistanceSourceToDetector = "1000" if view == "AP" else "1800"
            ds.PhotometricInterpretation = "MONOCHROME1" if mono1 else "MONOCHROME2"
            ds.WindowCenter, ds.WindowWidth = "2048", "3600"
            if modality == "DX":
                ds.PresentationIntentType = "FOR PRESENTATION"
                ds.ImageLaterality = "U"
                ds.DetectorType = "SCINTILLATOR"
            _finish_series(ds, modality, vendor, ctx["site"], self.uid("series"), k + 1,
                           _later(ctx["time"], 2 * k), f"CHEST {view}", n)
            contrast = 1.0 if self.shortcut is None else self.shortcut.finding_contrast
            img = np.clip(self.ph.chest_image(rng, finding, contrast), 0, MAX_STORED)
            if marked:  # burned in by the site, after acquisition: crisp, at the brightest value
                img[marker_mask(n, self.shortcut.marker, SITE_CODES[ctx["site"]])] = MAX_STORED
                ds.BurnedInAnnotation = "YES"
            if mono1:  # stored inverted so that display semantics are preserved
                img = MAX_STORED - img
            for sop in self._emit(ds, study_dir, [(_to_u16(img), None)]):
                self.labels.append((sop, ctx["study_uid"], "finding" if finding else "normal",
                                    int(finding), "synthetic"))
                self.findings += int(finding)
                self.marked += int(marked)

    def _finding_rate(self, site: int) -> float:
        if self.shortcut is None:
            return _FINDING_RATE
        return self.shortcut.site_rate if site == self.shortcut_site else self.shortcut.other_rate

    def _volume(self, ctx, modality: str, part: str, desc: str, vendor, fov: float) -> Dataset:
        """Shared CT/MR/PT series-level template (before ``_finish_series``)."""
        ds = _study_ds(description=desc, **ctx)
        ds.BodyPartExamined = part
        ds.PatientPosition = "HFS"
        ds.ImageOrientationPatient = ["1", "0", "0", "0", "1", "0"]
        ds.PositionReferenceIndicator = ""
        ds.PixelSpacing = [_ds(fov / self.nx)] * 2
        return ds

    def _ct(self, ctx, part: str, study_dir: Path) -> None:
        rng, n = self.rng, self.nx
        vendor, fov = _pick(rng, _VENDORS["CT"]), 230.0 if part == "HEAD" else 350.0
        contrast = part != "HEAD" and rng.random() < 0.6
        desc = f"CT {part} {'WITH' if contrast else 'WO'} CONTRAST"
        for_uid = self.uid("frame")
        recons = _CT_RECONS[part][: 1 + int(rng.random() < 0.5)]
        for k, (sdesc, kernel, thick, wc, ww) in enumerate(recons):
            ds = self._volume(ctx, "CT", part, desc, vendor, fov)
            ds.FrameOfReferenceUID = for_uid
            ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
            ds.SliceThickness, ds.KVP, ds.ConvolutionKernel = _ds(thick), "120", kernel
            ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = "-1024", "1", "HU"
            ds.WindowCenter, ds.WindowWidth = wc, ww
            if contrast:
                ds.ContrastBolusAgent = "IOHEXOL 350"
            _finish_series(ds, "CT", vendor, ctx["site"], self.uid("series"), k + 2,
                           _later(ctx["time"], 3 + k), sdesc, n)
            slices = int(rng.integers(4, 9))
            z0 = float(rng.uniform(-250, 50))
            self._emit(ds, study_dir, ((_to_u16(self.phx.ct_slice(rng, part, i / max(slices - 1, 1))),
                                        z0 - i * thick) for i in range(slices)), fov)

    def _mr(self, ctx, part: str, study_dir: Path) -> None:
        rng, n = self.rng, self.nx
        vendor, fov = _pick(rng, _VENDORS["MR"]), 240.0 if part == "HEAD" else 160.0
        side = _pick(rng, ["L", "R"]) if part == "KNEE" else None
        region = "BRAIN" if part == "HEAD" else f"KNEE {'LEFT' if side == 'L' else 'RIGHT'}"
        field_t = _pick(rng, ["1.5", "3"])
        for_uid, thick = self.uid("frame"), 5.0 if part == "HEAD" else 3.0
        z0 = float(rng.uniform(-40, 40))
        for k, weight in enumerate(("T1", "T2")):
            sdesc, seq, te, tr = _MR_SEQS[weight]
            ds = self._volume(ctx, "MR", part, f"MR {region} WO CONTRAST", vendor, fov)
            ds.FrameOfReferenceUID = for_uid
            if side:
                ds.Laterality = side
            ds.ImageType = ["ORIGINAL", "PRIMARY", "M", "ND"]
            ds.ScanningSequence, ds.SequenceVariant, ds.MRAcquisitionType = seq, "SK", "2D"
            ds.EchoTime, ds.RepetitionTime, ds.MagneticFieldStrength = te, tr, field_t
            ds.SliceThickness = _ds(thick)
            ds.WindowCenter, ds.WindowWidth = "600", "1200"
            _finish_series(ds, "MR", vendor, ctx["site"], self.uid("series"), k + 1,
                           _later(ctx["time"], 5 * k), f"{sdesc} AX", n)
            slices = int(rng.integers(3, 6))
            self._emit(ds, study_dir, ((_to_u16(self.phx.mr_slice(rng, part, weight, i / max(slices - 1, 1))),
                                        z0 + i * thick) for i in range(slices)), fov)

    def _pt(self, ctx, part: str, study_dir: Path) -> None:
        rng, n = self.rng, self.nx
        vendor, fov, thick = _pick(rng, _VENDORS["PT"]), 600.0, 3.0
        slope = float(rng.uniform(1.0, 4.0))
        lesions = [(n / 2 + rng.uniform(-0.25, 0.25) * n, n / 2 + rng.uniform(-0.3, 0.3) * n,
                    rng.uniform(800, 3000), max(0.7, rng.uniform(0.02, 0.05) * n))
                   for _ in range(int(rng.integers(1, 4)))]
        ds = self._volume(ctx, "PT", part, f"PET FDG {part} ATTN CORR", vendor, fov)
        ds.FrameOfReferenceUID = self.uid("frame")
        ds.ImageType = ["ORIGINAL", "PRIMARY"]
        ds.SliceThickness = _ds(thick)
        ds.Units, ds.DecayCorrection = "BQML", "START"
        ds.CorrectedImage, ds.SeriesType = ["ATTN", "DECY"], ["STATIC", "IMAGE"]
        ds.RescaleIntercept, ds.RescaleSlope = "0", _ds(slope)
        ds.WindowCenter, ds.WindowWidth = _ds(slope * 800), _ds(slope * 1600)
        ds.PatientWeight = _ds(round(float(rng.uniform(50, 110)), 1))
        rp = Dataset()
        rp.Radiopharmaceutical = "Fludeoxyglucose"
        rp.RadiopharmaceuticalStartTime = _later(ctx["time"], -60)
        rp.RadionuclideTotalDose = _ds(round(float(rng.uniform(250e6, 400e6)), -5))
        rp.RadionuclideHalfLife = "6586.2"
        ds.RadiopharmaceuticalInformationSequence = [rp]
        _finish_series(ds, "PT", vendor, ctx["site"], self.uid("series"), 1, ctx["time"],
                       "PET WB AC", n)
        slices, z0 = int(rng.integers(4, 7)), float(rng.uniform(-300, 0))
        self._emit(ds, study_dir, ((_to_u16(self.phx.pt_slice(rng, part, lesions, i / max(slices - 1, 1))),
                                    z0 - i * thick) for i in range(slices)), fov)


def generate(out_dir: Path, patients: int, seed: int = 0,
             progress: Callable[[int], None] | None = None,
             image_size: int = 64, transfer_syntax: str = "explicit",
             shortcut: Shortcut | None = None) -> SynthSummary:
    """Write a deterministic synthetic corpus of ``patients`` patients into ``out_dir``.

    ``progress`` (if given) is called after every series with the cumulative
    number of files written. ``transfer_syntax`` is a name of :data:`.encode.SYNTAXES`;
    every syntax is lossless, so the decoded pixels equal the explicit corpus's of the
    same seed. ``shortcut`` (a :class:`.shortcut.Shortcut`) makes one site burn a marker into
    its positive chest radiographs, with its own prevalence. Returns a :class:`SynthSummary`.
    """
    if patients < 0 or image_size < 8:
        raise ValueError("patients must be >= 0 and image_size >= 8")
    syntax = syntax_uid(transfer_syntax)
    check_encoder(syntax)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    w = _Writer(out_dir, seed, image_size, progress, syntax, shortcut)
    for idx in range(patients):
        w.patient(_plan_patient(w.rng, idx, seed))
    labels_csv = out_dir / "labels.csv"
    with open(labels_csv, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["sop_instance_uid", "study_uid", "label", "label_value", "source"])
        writer.writerows(w.labels)
    return SynthSummary(out_dir=out_dir, files_written=w.files, patients=patients,
                        studies=w.studies, series=w.series,
                        modality_counts=dict(sorted(w.counts.items())),
                        chest_images=len(w.labels), findings=w.findings, labels_csv=labels_csv,
                        marked=w.marked)
