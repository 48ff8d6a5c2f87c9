"""Field-by-field reading of a model card mapping, with one-line errors naming the field."""

from __future__ import annotations

import math
from typing import Any

from mi_warehouse.models.errors import ModelCardInvalid

__all__ = ["Fields", "show", "REQUIRED"]

REQUIRED = object()


class Fields:
    """Reads one mapping of a card, naming ``source`` and the dotted field in every error."""

    def __init__(self, data: Any, where: str, source: str):
        self.where, self.source = where, source
        if not isinstance(data, dict):
            self.fail(where or "card", f"must be a mapping (got {show(data)})")
        self.data = data
        self.allowed: set[str] = set()

    def fail(self, name: str, problem: str):
        """Raise :class:`ModelCardInvalid` as ``<source>: <field>: <problem>``."""
        raise ModelCardInvalid(f"{self.source}: {name}: {problem}")

    def path(self, key: str) -> str:
        """Dotted name of ``key`` inside this mapping."""
        return f"{self.where}.{key}" if self.where else key

    def raw(self, key: str, default: Any = REQUIRED) -> Any:
        """The value of ``key``, ``default`` if absent, an error if absent and required."""
        if key in self.data:
            return self.data[key]
        if default is REQUIRED:
            self.fail(self.path(key), "required field is missing")
        return default

    def text(self, key: str, default: Any = REQUIRED, *, choices=None, pattern=None,
             nullable: bool = False, empty: bool = False) -> str | None:
        """A string field, optionally limited to ``choices`` or a regex ``pattern``."""
        v = self.raw(key, default)
        if v is None and nullable:
            return None
        if not isinstance(v, str):
            hint = " (quote it in YAML)" if isinstance(v, (int, float)) and not isinstance(v, bool) else ""
            self.fail(self.path(key), f"must be a string{' or null' if nullable else ''} "
                                      f"(got {show(v)}){hint}")
        if not v.strip() and not empty:
            self.fail(self.path(key), "must not be empty")
        if choices and v not in choices:
            self.fail(self.path(key), f"must be one of {', '.join(choices)} (got {show(v)})")
        if pattern and not pattern.match(v):
            self.fail(self.path(key), f"{show(v)} does not match {pattern.pattern}")
        return v

    def number(self, key: str, default: Any = REQUIRED, *, nullable=False, lo=None, hi=None,
               positive=False) -> float | None:
        """A finite number (int or float, not bool), optionally bounded, as float."""
        v = self.raw(key, default)
        if v is None and nullable:
            return None
        return self.check_number(self.path(key), v, nullable=nullable, lo=lo, hi=hi, positive=positive)

    def check_number(self, name: str, v: Any, *, nullable=False, lo=None, hi=None, positive=False) -> float:
        """Validate ``v`` as the number field ``name`` (see :meth:`number`)."""
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            self.fail(name, f"must be a finite number{' or null' if nullable else ''} (got {show(v)})")
        if positive and v <= 0:
            self.fail(name, f"must be > 0 (got {show(v)})")
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            self.fail(name, f"must be between {lo} and {hi} (got {show(v)})")
        return float(v)

    def integer(self, key: str, *, lo: int = 1) -> int:
        """A required integer field >= ``lo``."""
        v = self.raw(key)
        if isinstance(v, bool) or not isinstance(v, int) or v < lo:
            self.fail(self.path(key), f"must be an integer >= {lo} (got {show(v)})")
        return v

    def sub(self, key: str, default: Any = REQUIRED) -> "Fields":
        """Reader of the nested mapping ``key`` (null counts as absent when there is a default)."""
        v = self.raw(key, default)
        if v is None and default is not REQUIRED:
            v = default
        return Fields(v, self.path(key), self.source)

    def done(self) -> None:
        """Reject keys this reader never asked for (typos would otherwise be ignored)."""
        for key in self.data:
            if key not in self.allowed:
                self.fail(self.path(str(key)), "unknown field")

    def expect(self, *keys: str) -> "Fields":
        """Declare the keys this mapping may hold (checked by :meth:`done`)."""
        self.allowed = set(keys)
        return self


def show(v: Any) -> str:
    """Short one-line repr of a value for error messages."""
    s = repr(v).replace("\n", " ")
    return s if len(s) <= 60 else s[:57] + "..."
