"""PS3.15 Table E.1-1 as data: `table_e1_1.tsv` loaded, and resolved for the options in force.

The table is the standard's (edition in the file's header, built by scripts/build_deid_table.py):
one row per attribute with its Basic Profile action and its action under each option. `resolve`
turns it into plain dict lookups for one policy, computed once per process, so the engine pays one
dict lookup per element.

Resolution, per row: the Basic Profile action, then each option in force (table column order)
that gives the row an action replaces it, so the later options win (dates shifted under Modified
Dates even where Retain Device Identity says K). Compound Basic codes choose by IOD type in the
standard (X for Type 3, Z for Type 2, D for Type 1); header_json is a record of the header, not an
instance that must conform to its IOD, so the most protective choice is taken: X when offered,
then Z, then D (X/Z/U* -> X; with Retain UIDs the row is K anyway). K on an AS attribute becomes C
(ages capped at 90). The concrete actions are X, Z, D, K, C and U.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from .policy import DeidPolicy, OPTIONS

TABLE_FILE = "table_e1_1.tsv"
PRIVATE_ROW = "(gggg,eeee)"
CURVE_ROW = "(50xx,xxxx)"
ACTIONS = frozenset("XZDKCU")
_KINDS = {0x00100020: "patient", 0x00080050: "accession", 0x00080080: "institution"}  # labels in use since v0.1
# Keyword endings of the attributes that hold identifiers: Z/D on them gives a keyed pseudonym.
_ID_ENDINGS = ("ID", "IDs", "Number", "Numbers", "Identifier", "Locator")


@dataclass(frozen=True)
class Row:
    tag: str  # as in the table: (0010,0010), (60xx,3000), (50xx,xxxx), (gggg,eeee)
    name: str
    std_comp_iod: str
    basic: str
    options: dict  # option name -> 'K' or 'C' (only the options that change the row)


@lru_cache(maxsize=1)
def table() -> tuple[Row, ...]:
    """Every row of Table E.1-1, as shipped in the package."""
    text = resources.files(__package__).joinpath(TABLE_FILE).read_text(encoding="utf-8")
    lines = [ln for ln in text.splitlines() if ln and not ln.startswith("#")]
    header = lines[0].split("\t")
    names = [o.name for o in OPTIONS]
    if header[:4] != ["tag", "name", "std_comp_iod", "basic"] or header[4:] != names:
        raise RuntimeError(f"{TABLE_FILE}: unexpected columns {header}")  # a broken install, not user input
    rows = []
    for ln in lines[1:]:
        cells = ln.split("\t")
        cells += [""] * (len(header) - len(cells))
        opts = {n: a for n, a in zip(names, cells[4:]) if a}
        rows.append(Row(cells[0], cells[1], cells[2], cells[3], opts))
    return tuple(rows)


def edition() -> str:
    text = resources.files(__package__).joinpath(TABLE_FILE).read_text(encoding="utf-8")
    first = text.splitlines()[0]
    return first.split("PS3.15", 1)[1].split(",", 1)[0].strip()


def concrete(basic: str) -> str:
    """One action for a compound Basic Profile code: X, else Z, else D (see the module doc)."""
    codes = basic.replace("*", "").split("/")
    for a in ("X", "Z", "D", "U"):
        if a in codes:
            return a
    raise ValueError(f"unknown action {basic!r}")


def action(row: Row, options: tuple[str, ...]) -> str:
    act = concrete(row.basic)
    for name in options:  # in table order: later options win
        act = row.options.get(name, act)
    return act


@dataclass(frozen=True)
class Resolved:
    """Table E.1-1 under one policy, as lookups."""

    exact: dict  # tag -> action, for every row with a plain tag
    overlay: dict  # element of the 60xx groups -> action
    curve: str  # action for every element of the 50xx groups
    private: str  # action for private attributes: X, or C (the allow-list decides)
    unlisted: dict  # VR -> action for standard attributes the table does not list (default K)
    pseudonym_kind: dict  # tag -> label of its keyed pseudonym (identifiers and names under Z/D)
    name_tags: frozenset  # PN attributes: their components are the file's identifiers
    id_tags: frozenset  # LO/SH attributes the profile takes out: their values are identifiers too


def _tag_int(tag: str) -> int:
    return int(tag[1:5] + tag[6:10], 16)


@lru_cache(maxsize=16)
def resolve(policy: DeidPolicy) -> Resolved:
    from pydicom.datadict import dictionary_VR, keyword_for_tag

    opts = policy.options
    exact, overlay, kinds, names, ids = {}, {}, {}, set(), set()
    curve = private = "X"
    for row in table():
        act = action(row, opts)
        if row.tag == PRIVATE_ROW:
            private = act
            continue
        if row.tag == CURVE_ROW:
            curve = act
            continue
        if row.tag.startswith("(60xx,"):
            overlay[int(row.tag[6:10], 16)] = act
            continue
        tag = _tag_int(row.tag)
        try:
            vr = dictionary_VR(tag)
        except KeyError:
            vr = ""
        if act == "K" and vr == "AS":
            act = "C"
        elif act == "C" and vr == "TM":
            act = "K"  # dates move by whole days; a time of day stays as it is
        exact[tag] = act
        keyword = keyword_for_tag(tag) or ""
        if vr == "PN" or (vr in ("LO", "SH", "CS") and keyword.endswith(_ID_ENDINGS)):
            kinds[tag] = _KINDS.get(tag, "name" if vr == "PN" else keyword)
        if vr == "PN":
            names.add(tag)
        elif vr in ("LO", "SH") and act not in ("K", "C"):
            ids.add(tag)  # whatever the profile takes out must not survive inside a kept description
    # Not in the table: standard attributes are kept (the profile does not list them), with two
    # safety nets that keep the profile's intent: a person name is always a pseudonym, and under
    # Modified Dates every date moves with the patient's (an unshifted date next to shifted ones
    # would give the shift away).
    unlisted = {"PN": "D"}
    if policy.has("retain_long_modified_dates"):
        unlisted.update(DA="C", DT="C")
    return Resolved(exact, overlay, curve, private, unlisted, kinds, frozenset(names), frozenset(ids))
