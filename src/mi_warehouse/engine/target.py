"""`target`: what templates compile for. Models (dbt_like) and migrations both render with it.

    target.engine         "hive" or "spark"
    target.version        the engine's version ("4.3.0"), "" when not known without a server
    target.major          its major version, 0 when unknown
    target.database       the core database (settings [databases] core)
    target.phi_database   the re-identification database
    target.sql_authorization   true where GRANT/REVOKE are enforced (Hive)
"""

from __future__ import annotations

from dataclasses import dataclass

from ..config import Settings
from . import dialects


@dataclass(frozen=True)
class Target(dialects.EngineFacts):
    """What one compilation renders for: the databases and the engine (and its version, if known)."""

    database: str
    phi_database: str
    engine: str = "hive"
    version: str = ""

    def __post_init__(self) -> None:
        if self.engine not in dialects.ENGINES:
            raise ValueError(f"engine must be one of {', '.join(dialects.ENGINES)}, got {self.engine!r}")

    @classmethod
    def from_settings(cls, settings: Settings, engine: str = "hive", version: str = "") -> "Target":
        return cls(settings.database, settings.phi_database, engine, dialects.parse_version(version))

    @classmethod
    def offline(cls, settings: Settings, explicit: str | None = None, command: str = "this command") -> "Target":
        """The target of a command that must not connect (`compile`, `apply --dry-run`)."""
        r = dialects.resolve(settings.engine, settings.is_embedded, explicit, command)
        return cls.from_settings(settings, r.dialect.name, r.version)


    def as_dict(self) -> dict:
        """`target` as templates see it."""
        return {"engine": self.engine, "version": self.version, "major": self.major,
                "database": self.database, "phi_database": self.phi_database,
                "sql_authorization": self.dialect.sql_authorization}
