"""Reading `schema.yml` / `sources.yml`: model documentation, column tests and source tables.

    version: 2
    models:
      - name: studies
        description: one row per study
        config: {tags: [daily]}
        columns:
          - name: study_uid
            tests: [not_null, unique]
          - name: modality
            tests: [{accepted_values: {values: [CT, MR]}}]
          - name: patient_key
            tests: [{relationships: {to: "ref('patients')", field: patient_key}}]
    sources:
      - name: mi                      # -> target.database
        tables: [{name: dicom_metadata}]
      - name: mi_phi                  # -> target.phi_database
        tables: [{name: patient_map}]

A source named other than `mi` / `mi_phi` needs `schema:` — a plain database name,
`"{{ target.database }}"` or `"{{ target.phi_database }}"`. Every mistake raises
`ModelProjectError` naming the file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import ModelProjectError

TEST_KINDS = ("not_null", "unique", "accepted_values", "relationships")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_REF = re.compile(r"""^\s*ref\(\s*(['"])([A-Za-z_][A-Za-z0-9_]*)\1\s*\)\s*$""")
_SOURCE = re.compile(r"""^\s*source\(\s*(['"])([A-Za-z_]\w*)\1\s*,\s*(['"])([A-Za-z_]\w*)\3\s*\)\s*$""")
_TARGET_SCHEMA = re.compile(r"^\{\{\s*target\.(database|phi_database)\s*\}\}$")
DEFAULT_SOURCE_DATABASES = {"mi": "target.database", "mi_phi": "target.phi_database"}


@dataclass(frozen=True)
class ColumnTest:
    """One generic test on one column, as declared in schema.yml."""

    kind: str
    model: str
    column: str
    values: tuple = ()  # accepted_values
    to: tuple[str, ...] = ()  # relationships: ("ref", model) or ("source", source, table)
    field: str = ""  # relationships
    origin: str = ""  # the yml file, relative to the project root


@dataclass(frozen=True)
class ColumnDoc:
    name: str
    description: str = ""
    data_type: str = ""
    tests: tuple[ColumnTest, ...] = ()


@dataclass(frozen=True)
class ModelDoc:
    name: str
    origin: str
    description: str = ""
    config: dict = field(default_factory=dict)
    columns: tuple[ColumnDoc, ...] = ()


@dataclass(frozen=True)
class SourceTable:
    source: str
    name: str
    database: str  # "target.database", "target.phi_database" or a literal database name
    origin: str
    description: str = ""

    def database_for(self, target_dict: dict) -> str:
        if self.database.startswith("target."):
            return target_dict[self.database.split(".", 1)[1]]
        return self.database


@dataclass
class YamlContents:
    models: list[ModelDoc] = field(default_factory=list)
    sources: list[SourceTable] = field(default_factory=list)


def read_yaml(path: Path, origin: str) -> YamlContents:
    """Parse one schema/sources file; `origin` is its name as messages print it."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ModelProjectError(f"{origin}{where}: invalid YAML: {problem}") from None
    except OSError as e:
        raise ModelProjectError(f"{origin}: cannot read: {e.strerror}") from None
    if data is None:
        return YamlContents()
    _mapping(data, origin, "the file", ("version", "models", "sources"))
    out = YamlContents()
    for i, m in enumerate(_list(data.get("models", []), origin, "models")):
        out.models.append(_model(m, origin, i))
    for i, s in enumerate(_list(data.get("sources", []), origin, "sources")):
        out.sources.extend(_source(s, origin, i))
    return out


def _fail(origin: str, msg: str) -> ModelProjectError:
    return ModelProjectError(f"{origin}: {msg}")


def _mapping(v: Any, origin: str, what: str, keys: tuple[str, ...]) -> dict:
    if not isinstance(v, dict):
        raise _fail(origin, f"{what} must be a mapping")
    unknown = [k for k in v if k not in keys]
    if unknown:
        raise _fail(origin, f"{what}: unknown key {unknown[0]!r} (known: {', '.join(keys)})")
    return v


def _list(v: Any, origin: str, what: str) -> list:
    if v is None:
        return []
    if not isinstance(v, list):
        raise _fail(origin, f"{what} must be a list")
    return v


def _name(v: Any, origin: str, what: str) -> str:
    if not isinstance(v, str) or not _NAME.match(v):
        raise _fail(origin, f"{what}: name {v!r} must be letters, digits and underscores")
    return v


def _text(v: Any, origin: str, what: str) -> str:
    if v is None:
        return ""
    if not isinstance(v, str):
        raise _fail(origin, f"{what}: description must be text")
    return v


def _model(m: Any, origin: str, i: int) -> ModelDoc:
    _mapping(m, origin, f"models[{i}]", ("name", "description", "config", "columns"))
    name = _name(m.get("name"), origin, f"models[{i}]")
    where = f"model {name}"
    config = m.get("config") or {}
    if not isinstance(config, dict):
        raise _fail(origin, f"{where}: config must be a mapping")
    columns = []
    seen: set[str] = set()
    for j, c in enumerate(_list(m.get("columns", []), origin, f"{where} columns")):
        col = _column(c, origin, name, j)
        if col.name.lower() in seen:
            raise _fail(origin, f"{where}: column {col.name} listed twice")
        seen.add(col.name.lower())
        columns.append(col)
    return ModelDoc(name, origin, _text(m.get("description"), origin, where), dict(config), tuple(columns))


def _column(c: Any, origin: str, model: str, j: int) -> ColumnDoc:
    keys = ("name", "description", "data_type", "tests", "data_tests")
    _mapping(c, origin, f"model {model} columns[{j}]", keys)
    name = _name(c.get("name"), origin, f"model {model} columns[{j}]")
    where = f"model {model} column {name}"
    raw_tests = _list(c.get("tests", []), origin, f"{where} tests") + _list(
        c.get("data_tests", []), origin, f"{where} data_tests")
    tests = tuple(_test(t, origin, model, name) for t in raw_tests)
    data_type = c.get("data_type") or ""
    if not isinstance(data_type, str):
        raise _fail(origin, f"{where}: data_type must be text")
    return ColumnDoc(name, _text(c.get("description"), origin, where), data_type, tests)


def _test(t: Any, origin: str, model: str, column: str) -> ColumnTest:
    where = f"model {model} column {column}"
    if isinstance(t, str):
        kind, args = t, None
    elif isinstance(t, dict) and len(t) == 1:
        kind, args = next(iter(t.items()))
    else:
        raise _fail(origin, f"{where}: a test is a name or a one-key mapping, got {t!r}")
    if kind not in TEST_KINDS:
        raise _fail(origin, f"{where}: unknown test {kind!r} (known: {', '.join(TEST_KINDS)})")
    if kind in ("not_null", "unique"):
        if args not in (None, {}):
            raise _fail(origin, f"{where}: {kind} takes no arguments")
        return ColumnTest(kind, model, column, origin=origin)
    if kind == "accepted_values":
        _mapping(args, origin, f"{where} accepted_values", ("values",))
        values = args.get("values")
        if not isinstance(values, list) or not values:
            raise _fail(origin, f"{where}: accepted_values needs a non-empty values list")
        for v in values:
            if isinstance(v, (dict, list)) or v is None:
                raise _fail(origin, f"{where}: accepted value {v!r} must be a string, number or boolean")
        return ColumnTest(kind, model, column, values=tuple(values), origin=origin)
    _mapping(args, origin, f"{where} relationships", ("to", "field"))
    to = args.get("to")
    ref = _REF.match(to) if isinstance(to, str) else None
    src = _SOURCE.match(to) if isinstance(to, str) else None
    if ref:
        to_t: tuple[str, ...] = ("ref", ref.group(2))
    elif src:
        to_t = ("source", src.group(2), src.group(4))
    else:
        raise _fail(origin, f"{where}: relationships to must be \"ref('model')\" or \"source('s', 't')\", got {to!r}")
    fld = _name(args.get("field"), origin, f"{where} relationships field")
    return ColumnTest(kind, model, column, to=to_t, field=fld, origin=origin)


def _source(s: Any, origin: str, i: int) -> list[SourceTable]:
    _mapping(s, origin, f"sources[{i}]", ("name", "description", "schema", "database", "tables"))
    name = _name(s.get("name"), origin, f"sources[{i}]")
    schema = s.get("schema", s.get("database"))
    if schema is None:
        if name not in DEFAULT_SOURCE_DATABASES:
            raise _fail(origin, f"source {name}: needs schema: (only mi and mi_phi have a default)")
        database = DEFAULT_SOURCE_DATABASES[name]
    elif isinstance(schema, str) and _TARGET_SCHEMA.match(schema.strip()):
        database = "target." + _TARGET_SCHEMA.match(schema.strip()).group(1)
    else:
        database = _name(schema, origin, f"source {name} schema")
    tables = []
    for j, t in enumerate(_list(s.get("tables", []), origin, f"source {name} tables")):
        if isinstance(t, str):
            t = {"name": t}
        _mapping(t, origin, f"source {name} tables[{j}]", ("name", "description", "columns"))
        tname = _name(t.get("name"), origin, f"source {name} tables[{j}]")
        tables.append(SourceTable(name, tname, database, origin,
                                  _text(t.get("description"), origin, f"source {name}.{tname}")))
    return tables
