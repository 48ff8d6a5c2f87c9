"""The de-identification policy: which PS3.15 Annex E options are in force, declared and recorded.

One `DeidPolicy` travels from the settings (`[deid] options`, `[deid] safe_private`) through
`loaders/load.py` to every worker. It names its options, their PS3.16 CID 7050 codes (written into
every row's header_json as DeidentificationMethodCodeSequence) and a short text for `load_runs`.
This module is light on purpose (no pydicom): `config.py` validates the settings with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ...errors import ConfigError

PROFILE_EDITION = "2024b"  # of PS3.15 Table E.1-1 in table_e1_1.tsv
BASIC_CODE = ("113100", "Basic Application Confidentiality Profile")


@dataclass(frozen=True)
class Option:
    name: str  # setting value and table_e1_1.tsv column
    code: str  # PS3.16 CID 7050, scheme DCM
    meaning: str


# In the column order of Table E.1-1; where two options in force give an attribute different
# actions, the later one wins (so the date and Clean options override Retain Device Identity's K).
OPTIONS: tuple[Option, ...] = (
    Option("retain_safe_private", "113111", "Retain Safe Private Option"),
    Option("retain_uids", "113110", "Retain UIDs Option"),
    Option("retain_device_identity", "113109", "Retain Device Identity Option"),
    Option("retain_institution_identity", "113112", "Retain Institution Identity Option"),
    Option("retain_patient_characteristics", "113108", "Retain Patient Characteristics Option"),
    Option("retain_long_full_dates", "113106", "Retain Longitudinal Temporal Information Full Dates Option"),
    Option("retain_long_modified_dates", "113107",
           "Retain Longitudinal Temporal Information Modified Dates Option"),
    Option("clean_descriptors", "113105", "Clean Descriptors Option"),
    Option("clean_structured_content", "113104", "Clean Structured Content Option"),
    Option("clean_graphics", "113103", "Clean Graphics Option"),
)
BY_NAME = {o.name: o for o in OPTIONS}
DEFAULT_OPTIONS = ("retain_uids", "retain_long_modified_dates", "retain_patient_characteristics",
                   "clean_descriptors", "retain_safe_private")
AGE_CAP_YEARS = 90  # HIPAA Safe Harbor: ages over 89 are reported as 90


def parse_options(names) -> tuple[str, ...]:
    """Option names (a list, or one comma-separated string), checked, in table order."""
    if isinstance(names, str):
        names = [n for n in names.split(",")]
    wanted = {str(n).strip().lower() for n in names if str(n).strip()}
    unknown = sorted(wanted - set(BY_NAME))
    if unknown:
        raise ConfigError(f"[deid] options: unknown option(s) {', '.join(unknown)}; supported: "
                          f"{', '.join(BY_NAME)}")
    if {"retain_long_full_dates", "retain_long_modified_dates"} <= wanted:
        raise ConfigError("[deid] options: choose one of retain_long_full_dates and "
                          "retain_long_modified_dates, not both")
    return tuple(o.name for o in OPTIONS if o.name in wanted)


def parse_safe_private(entries) -> tuple[tuple[int, str, int], ...]:
    """Safe private attributes as (group, private creator, element offset) from 'GGGG,xxEE,CREATOR'.

    The Retain Safe Private Option keeps a private attribute by its creator and the low byte of
    its element number, never by its raw tag (the block a creator gets differs between files).
    A list, or one string with entries separated by ';'.
    """
    if isinstance(entries, str):
        entries = entries.split(";")
    out = []
    for e in entries:
        text = str(e).strip()
        if not text:
            continue
        parts = text.split(",", 2)
        group = offset = 0
        ok = len(parts) == 3 and len(parts[0]) == 4 and len(parts[1]) == 4 and parts[1][:2].lower() == "xx"
        try:
            if ok:
                group, offset = int(parts[0], 16), int(parts[1][2:], 16)
        except ValueError:
            ok = False
        if not ok or not group & 1 or not parts[2].strip():
            raise ConfigError(f"[deid] safe_private: {text!r} is not 'GGGG,xxEE,PRIVATE CREATOR' with an odd "
                              "group (e.g. '0029,xx10,SIEMENS CSA HEADER')")
        out.append((group, parts[2].strip(), offset))
    return tuple(sorted(set(out)))


@dataclass(frozen=True)
class DeidPolicy:
    """The options in force and the Retain Safe Private allow-list. Picklable (sent to workers)."""

    options: tuple[str, ...] = DEFAULT_OPTIONS
    safe_private: tuple[tuple[int, str, int], ...] = ()  # (group, creator, element offset)
    private_tags: frozenset[int] = field(default_factory=frozenset)  # --private-allow GGGGEEEE, literal

    def __post_init__(self):
        object.__setattr__(self, "options", parse_options(self.options))

    @classmethod
    def from_settings(cls, settings, private_allow=()) -> "DeidPolicy":
        """From `[deid] options` / `[deid] safe_private`, plus the CLI's `--private-allow GGGGEEEE` tags."""
        return cls(tuple(settings.deid_options), parse_safe_private(settings.deid_safe_private),
                   frozenset(int(t, 16) for t in private_allow))

    def has(self, option: str) -> bool:
        return option in self.options

    @property
    def dates(self) -> str:
        """How dates leave: 'MODIFIED' (shifted per patient), 'UNMODIFIED' or 'REMOVED' (0028,0303)."""
        if self.has("retain_long_modified_dates"):
            return "MODIFIED"
        return "UNMODIFIED" if self.has("retain_long_full_dates") else "REMOVED"

    def method_codes(self) -> list[tuple[str, str]]:
        """(code, meaning) of CID 7050: the Basic Profile, then one per option in force."""
        return [BASIC_CODE] + [(BY_NAME[n].code, BY_NAME[n].meaning) for n in self.options]

    def method_text(self) -> str:
        """DeidentificationMethod (0012,0063), one LO value (at most 64 characters)."""
        return f"mi-warehouse PS3.15 {PROFILE_EDITION} E.1-1 Basic Profile"[:64]

    def summary(self) -> str:
        """A short line for load_runs: the profile, its edition, the options in force with their codes."""
        opts = ", ".join(f"{n} ({BY_NAME[n].code})" for n in self.options) or "none"
        extra = f"; safe private attributes: {len(self.safe_private) + len(self.private_tags)}" \
            if self.has("retain_safe_private") else ""
        return (f"DICOM PS3.15 {PROFILE_EDITION} Basic Application Level Confidentiality Profile "
                f"({BASIC_CODE[0]}); options: {opts}{extra}")
