"""Loading a model project from a directory (by default `settings.sql_dir`).

    <root>/models/**/*.sql      one model each; its name is the file stem, unique in the project
    <root>/models/**/*.yml      schema.yml / sources.yml: docs, column tests, source tables
    <root>/macros/**/*.sql      `{% macro %}` definitions, callable from every model and test
    <root>/tests/**/*.sql       singular tests: a query that passes when it returns no rows

Loading reads files only; nothing is rendered here (see `parser.py`).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..config import Settings
from .errors import ModelProjectError
from .yaml_files import ModelDoc, SourceTable, read_yaml

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class SqlFile:
    """A model, macro or singular test file. `origin` is its path relative to the project root."""

    name: str
    path: Path
    origin: str
    template: str
    checksum: str


@dataclass
class Project:
    root: Path
    models: dict[str, SqlFile] = field(default_factory=dict)
    macros: list[SqlFile] = field(default_factory=list)
    tests: dict[str, SqlFile] = field(default_factory=dict)
    docs: dict[str, ModelDoc] = field(default_factory=dict)
    sources: dict[tuple[str, str], SourceTable] = field(default_factory=dict)


def load_project(directory: Path | str | None = None, settings: Settings | None = None) -> Project:
    """Read a project; `directory` defaults to `settings.sql_dir`."""
    if directory is None:
        if settings is None:
            raise ModelProjectError("load_project needs a directory or settings")
        directory = settings.sql_dir
    root = Path(directory)
    if not root.is_dir():
        raise ModelProjectError(f"{root}: no model project directory here")
    project = Project(root=root)
    project.models = _named_files(root, "models", "model")
    project.tests = _named_files(root, "tests", "singular test")
    project.macros = list(_sql_files(root, "macros"))
    _read_yaml_files(project)
    return project


def _origin(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix()


def _sql_files(root: Path, sub: str):
    base = root / sub
    if not base.is_dir():
        return
    for path in sorted(base.rglob("*.sql")):
        if not path.is_file():
            continue
        origin = _origin(root, path)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise ModelProjectError(f"{origin}: cannot read: {e}") from None
        yield SqlFile(path.stem, path, origin, text, sha256(text))


def _named_files(root: Path, sub: str, what: str) -> dict[str, SqlFile]:
    out: dict[str, SqlFile] = {}
    seen: dict[str, SqlFile] = {}
    for f in _sql_files(root, sub):
        if not _NAME.match(f.name):
            raise ModelProjectError(f"{f.origin}: {what} name {f.name!r} must be letters, digits and underscores")
        other = seen.get(f.name.lower())
        if other:
            raise ModelProjectError(f"{f.origin}: {what} name {f.name} is also used by {other.origin}")
        seen[f.name.lower()] = f
        out[f.name] = f
    return out


def _read_yaml_files(project: Project) -> None:
    base = project.root / "models"
    if not base.is_dir():
        return
    paths = sorted(p for p in base.rglob("*") if p.is_file() and p.suffix in (".yml", ".yaml"))
    for path in paths:
        origin = _origin(project.root, path)
        contents = read_yaml(path, origin)
        for doc in contents.models:
            if doc.name not in project.models:
                raise ModelProjectError(f"{origin}: describes model {doc.name}, which has no .sql file")
            if doc.name in project.docs:
                raise ModelProjectError(f"{origin}: model {doc.name} is also described in {project.docs[doc.name].origin}")
            project.docs[doc.name] = doc
        for table in contents.sources:
            key = (table.source, table.name)
            if key in project.sources:
                raise ModelProjectError(
                    f"{origin}: source {table.source}.{table.name} is also declared in {project.sources[key].origin}")
            project.sources[key] = table
