"""Relations (database-qualified table or view names). `Target`, what the project compiles for,
is the one of engine/target.py that migrations render with too."""

from __future__ import annotations

from dataclasses import dataclass

from ..engine import literals as lit
from ..engine.dialects import ENGINES
from ..engine.target import Target

__all__ = ["ENGINES", "Relation", "Target"]


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
