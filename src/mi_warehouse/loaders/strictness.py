"""What the loader makes of each thing that can go wrong: a per-file error, a warning, or fatal.

One setting, `[loader] strictness` (`MIW_STRICTNESS`), in the spirit of pydicom's
`reading_validation_mode`, picks a column of RULES; `mi-warehouse config` prints the rules in
force. Whatever the level, nothing is lost: a file that does not load is a row of `load_errors`
(severity `error`), a warning is a row of severity `warning` beside the loaded file, and a fatal
condition stops the run before anything is committed, with one line naming it.

- lenient: load whatever can be keyed; files without PatientID are keyed by their study.
- default: what a research team wants: every row keyed by a real patient; a value that does not
  parse as its VR is stored NULL with a warning.
- strict: a file with anything to warn about is not loaded (for curated research releases).

`[loader] missing_patient_id = reject|surrogate`, when set, overrides the level's rule for that
one condition (it came first, and scripts use it).
"""

from __future__ import annotations

LEVELS = ("lenient", "default", "strict")
DEFAULT_LEVEL = "default"

ERROR, WARNING, SURROGATE = "error", "warning", "warning (keyed by its study)"

# condition -> (what it is, action at lenient, default, strict). Conditions whose file cannot
# give a row are errors at every level.
RULES: dict[str, tuple[str, str, str, str]] = {
    "empty": ("a file of 0 bytes, or an archive with no member", ERROR, ERROR, ERROR),
    "not_dicom": ("no DICOM marker and no plausible first element", ERROR, ERROR, ERROR),
    "truncated": ("the file ends inside the header or the pixel data", ERROR, ERROR, ERROR),
    "corrupt": ("the header or an archive cannot be parsed", ERROR, ERROR, ERROR),
    "unreadable": ("the file cannot be opened or read", ERROR, ERROR, ERROR),
    "dicomdir": ("a DICOMDIR index, not an image", ERROR, ERROR, ERROR),
    "missing_uid": ("no SOPInstanceUID (0008,0018)", ERROR, ERROR, ERROR),
    "duplicate": ("a SOPInstanceUID already loaded from another file", ERROR, ERROR, ERROR),
    "missing_patient_id": ("no PatientID (0010,0020)", SURROGATE, ERROR, ERROR),
    "invalid_value": ("a value that does not parse as its VR (stored NULL)", WARNING, WARNING, ERROR),
    "stray_bytes": ("bytes before the first element of a file without preamble", WARNING, WARNING, ERROR),
}

# Conditions that stop the whole run, at every level (nothing is committed; the next run redoes it).
FATAL: dict[str, str] = {
    "source_not_found": "a source argument that does not exist or matches no file",
    "key_mismatch": "a de-identification key other than the one the database was loaded with",
    "lock_held": "another load holds the database's load lock past --lock-timeout",
    "server": "HiveServer2 does not answer, or refuses a statement",
    "storage": "the storage root cannot be written",
}


def check_level(level: str) -> str:
    if level not in LEVELS:
        raise ValueError(f"[loader] strictness {level!r} is not one of {', '.join(LEVELS)}")
    return level


def action(condition: str, level: str) -> str:
    return RULES[condition][1 + LEVELS.index(level)]


def missing_patient_id_mode(level: str) -> str:
    """The `missing_patient_id` mode a level implies: `surrogate` or `reject`."""
    return "surrogate" if action("missing_patient_id", level) == SURROGATE else "reject"


def warning_class(warning) -> tuple[str, str]:
    """(class, message) of an outcome's warning: a plain message is an invalid value."""
    return warning if isinstance(warning, tuple) else ("invalid_value", warning)


def enforce(outcome, level: str) -> None:
    """Turn a loaded outcome into a per-file error where the level makes one of its warnings an error."""
    if outcome.row is None:
        return
    for w in outcome.warnings:
        cls, message = warning_class(w)
        if cls == "missing_patient_id":  # decided by missing_patient_id_mode, which may be overridden
            continue
        if cls in RULES and action(cls, level) == ERROR:
            outcome.row, outcome.phi, outcome.warnings = None, None, []
            outcome.error_class, outcome.message = cls, f"{message} (strictness = {level})"
            return


def describe(level: str) -> str:
    """The rules in force, one clause per action, for `mi-warehouse config`."""
    by_action: dict[str, list[str]] = {}
    for condition in RULES:
        by_action.setdefault(action(condition, level), []).append(condition)
    parts = [f"{a}: {', '.join(c)}" for a, c in by_action.items()]
    return f"{level} ({'; '.join(parts)}; fatal: {', '.join(FATAL)})"
