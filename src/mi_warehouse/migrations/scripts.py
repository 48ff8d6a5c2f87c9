"""Finding, rendering and splitting migration scripts.

Versioned scripts are `V<version>__<description>.sql` (version digits, `.` or `_` between parts:
`V0001`, `V2_1`); repeatable ones are `R__<description>.sql`. Scripts are Jinja templates rendered
with the settings and `target` (engine/target.py, the one models render with too: `target.engine`
is "hive" or "spark", detected from the server, or from the settings for `apply --dry-run`).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import jinja2

from ..config import Settings
from ..engine.splitter import Statement, split_statements
from ..engine.target import Target
from ..errors import MigrationFileError, SqlSplitError

_VERSIONED = re.compile(r"^V(?P<version>\d+(?:[._]\d+)*)__(?P<desc>[A-Za-z0-9_\-]+)\.sql$")
_REPEATABLE = re.compile(r"^R__(?P<desc>[A-Za-z0-9_\-]+)\.sql$")


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass
class Script:
    path: Path
    kind: str  # "versioned" or "repeatable"
    version: str  # "0001", "2.1"; "" for repeatable
    description: str
    template: str
    template_checksum: str
    rendered: str = ""
    rendered_checksum: str = ""
    statements: list[Statement] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def sort_key(self) -> tuple:
        if self.kind == "versioned":
            return (0, tuple(int(p) for p in re.split(r"[._]", self.version)), self.name)
        return (1, (), self.name)

    def prefix_checksum(self, count: int) -> str:
        """Checksum of the first `count` rendered statements: what a resumed run may skip."""
        return sha256("\n;\n".join(s.sql for s in self.statements[:count]))


def discover(directory: Path) -> list[Script]:
    if not directory.is_dir():
        raise MigrationFileError(f"no migrations directory at {directory}")
    scripts: list[Script] = []
    seen: dict[tuple, Path] = {}
    for path in sorted(directory.glob("*.sql")):
        m = _VERSIONED.match(path.name)
        r = _REPEATABLE.match(path.name)
        if not (m or r):
            raise MigrationFileError(
                f"{path.name}: migration names are V<version>__<description>.sql or "
                "R__<description>.sql (letters, digits, _ and - in the description)"
            )
        template = path.read_text(encoding="utf-8")
        if m:
            version = m.group("version").replace("_", ".")
            key = ("V", tuple(int(p) for p in version.split(".")))
            script = Script(path, "versioned", version, m.group("desc").replace("_", " "),
                            template, sha256(template))
        else:
            key = ("R", r.group("desc"))
            script = Script(path, "repeatable", "", r.group("desc").replace("_", " "),
                            template, sha256(template))
        if key in seen:
            raise MigrationFileError(f"{path.name}: same version as {seen[key].name}")
        seen[key] = path
        scripts.append(script)
    return sorted(scripts, key=lambda s: s.sort_key)


def template_context(settings: Settings, target: Target) -> dict:
    return {
        "db": settings.database,
        "phi_db": settings.phi_database,
        "storage": settings.storage_path,
        "model_store": settings.model_store,
        "buckets": settings.buckets,
        "bucketing_version": settings.bucketing_version,
        "target": target.as_dict(),
    }


def load(directory: Path, settings: Settings, target: Target) -> list[Script]:
    """The scripts of `directory`, in order, rendered for `target` and split into statements."""
    scripts = discover(directory)
    render(scripts, template_context(settings, target))
    return scripts


def listing(script: Script, first: int = 1) -> list[str]:
    """The script's statements from number `first`, each after a comment with its number and line."""
    return [f"-- statement {st.number}, line {st.line}\n{st.sql};" for st in script.statements[first - 1:]]


def render(scripts: list[Script], context: dict) -> None:
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    for s in scripts:
        try:
            s.rendered = env.from_string(s.template).render(**context)
        except jinja2.TemplateError as e:
            line = getattr(e, "lineno", None)
            where = f" line {line}" if line else ""
            raise MigrationFileError(f"{s.name}{where}: cannot render: {e}") from None
        s.rendered_checksum = sha256(s.rendered)
        try:
            s.statements = split_statements(s.rendered, s.name)
        except SqlSplitError as e:
            raise MigrationFileError(str(e)) from None
