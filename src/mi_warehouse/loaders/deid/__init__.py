"""De-identification on the way in: DICOM PS3.15 Annex E, Table E.1-1 as data, one engine.

- `table_e1_1.tsv`: the whole table (edition in its header), built by scripts/build_deid_table.py;
  `profile.py` loads it and resolves each attribute's action under the options in force.
- `policy.py`: `DeidPolicy`, the options in force (settings `[deid] options`, `[deid] safe_private`),
  their CID 7050 codes and the text recorded in load_runs.
- `engine.py`: `Deidentifier`, the walker that applies the resolved table at every nesting level
  and writes the de-identification markers; `clean.py`: the C action on text (descriptions).
- `keys.py`: the key file, keyed pseudonyms, patient keys (IssuerOfPatientID + PatientID), date
  shifts and `key_fingerprint` for run records. The key is never logged or printed.

Light on import (config.py validates settings with `policy`); the engine loads on first use.
"""

from .keys import Keys, key_fingerprint, load_key
from .policy import DEFAULT_OPTIONS, OPTIONS, DeidPolicy

__all__ = ["DEFAULT_OPTIONS", "OPTIONS", "DeidPolicy", "Deidentifier", "Keys", "Subject", "key_fingerprint",
           "load_key", "shift_date_text"]


def __getattr__(name: str):
    if name in ("Deidentifier", "Subject", "shift_date_text"):
        from . import engine

        return getattr(engine, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
