"""Relations (database-qualified table or view names) and the target the project compiles for."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..config import Settings
from ..engine import literals as lit

ENGINES = ("hive", "spark")


@dataclass(frozen=True)
class Relation:
    """A table or view, `database.name`. Renders in templates as the quoted `` `db`.`name` ``."""

    database: str
    name: str

    def __post_init__(self) -> None:
        lit.identifier(self.database)  # raise ValueError on anything but a plain name
        lit.identifier(self.name)

    @property
    def quoted(self) -> str:
        return lit.identifier(f"{self.database}.{self.name}")

    @property
    def unquoted(self) -> str:
        return f"{self.database}.{self.name}"

    def with_suffix(self, suffix: str) -> "Relation":
        """The sibling relation `name<suffix>` in the same database (for temporary and old copies)."""
        return Relation(self.database, self.name + suffix)

    def __str__(self) -> str:
        return self.quoted


@dataclass(frozen=True)
class Target:
    """What the project compiles for: the engine and the two databases.

    `compile` needs no connection, so the engine defaults to "hive"; the runner passes the
    engine it detected (`Session.engine`) so that templates branching on `target.engine` match.
    """

    database: str
    phi_database: str
    engine: str = "hive"
    version: str = ""

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise ValueError(f"engine must be one of {', '.join(ENGINES)}, got {self.engine!r}")

    @classmethod
    def from_settings(cls, settings: Settings, engine: str = "hive", version: str = "") -> "Target":
        return cls(settings.database, settings.phi_database, engine, version)

    @property
    def major(self) -> int:
        m = re.match(r"\d+", self.version or "")
        return int(m.group(0)) if m else 0

    def as_dict(self) -> dict:
        """`target` as templates see it."""
        return {"engine": self.engine, "version": self.version, "major": self.major,
                "database": self.database, "phi_database": self.phi_database}
