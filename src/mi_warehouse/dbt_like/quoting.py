"""Variables reach SQL only through quoting filters.

`var('name')` returns a `VarValue`: it can be compared, tested, iterated and passed to macros,
but rendering it as text (`{{ var('x') }}`, `~`, `| string`, `| upper`, ...) raises
`UnsafeVariable`. The filters turn values into HiveQL tokens that no value can break out of:

    sqlstring  'text' string literal (backslash escapes)       lists -> 'a', 'b'
    ident      `name` or `db`.`name`; letters, digits, _ only   lists -> `a`, `b`
    number     int or float only (not bool, not text)            lists -> 1, 2.5
    date       CAST('YYYY-MM-DD' AS DATE), validated              lists -> CAST(..), CAST(..)
    bool       TRUE / FALSE, from a real boolean only

The filters also accept plain template values, so a macro can quote either.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any

import jinja2

from ..engine import literals as lit
from .errors import UnsafeVariable

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
FILTERS = ("sqlstring", "ident", "number", "date", "bool")


class VarValue:
    """A project variable's value, refusing to become SQL text without a filter."""

    __slots__ = ("_name", "_value")

    def __init__(self, name: str, value: Any):
        self._name = name
        self._value = value

    def _refuse(self, *_a: Any) -> str:
        raise UnsafeVariable(
            f"var('{self._name}') rendered without a quoting filter; "
            f"write {{{{ var('{self._name}') | sqlstring }}}} (or | {' / | '.join(FILTERS[1:])})")

    __str__ = _refuse
    __html__ = _refuse
    __format__ = _refuse

    def __repr__(self) -> str:
        return f"<var {self._name}>"

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return self._value == unwrap(other)

    def __ne__(self, other: object) -> bool:
        return self._value != unwrap(other)

    def __lt__(self, other: object) -> bool:
        return self._value < unwrap(other)

    def __le__(self, other: object) -> bool:
        return self._value <= unwrap(other)

    def __gt__(self, other: object) -> bool:
        return self._value > unwrap(other)

    def __ge__(self, other: object) -> bool:
        return self._value >= unwrap(other)

    def __hash__(self) -> int:
        return hash(self._value)

    def __len__(self) -> int:
        return len(self._value)

    def __contains__(self, item: object) -> bool:
        return unwrap(item) in self._value

    def __iter__(self):
        if not isinstance(self._value, (list, tuple)):
            raise UnsafeVariable(f"var('{self._name}') is not a list and cannot be iterated")
        for i, v in enumerate(self._value):
            yield VarValue(f"{self._name}[{i}]", v)


def unwrap(v: Any) -> Any:
    """The raw value behind a `VarValue` (recursively for lists); other values unchanged."""
    if isinstance(v, VarValue):
        return unwrap(v._value)
    if isinstance(v, (list, tuple)):
        return [unwrap(x) for x in v]
    return v


def _label(v: Any) -> str:
    return f"var('{v._name}')" if isinstance(v, VarValue) else "value"


def _each(v: Any, one, filter_name: str) -> str:
    raw = unwrap(v)
    items = raw if isinstance(raw, list) else [raw]
    if not items:
        raise UnsafeVariable(f"{_label(v)} is an empty list; | {filter_name} needs at least one value")
    out = []
    for item in items:
        try:
            out.append(one(item))
        except (ValueError, TypeError) as e:
            raise UnsafeVariable(f"{_label(v)} | {filter_name}: {e}") from None
    return ", ".join(out)


def _sqlstring(x: Any) -> str:
    if isinstance(x, bool) or x is None or isinstance(x, (dict, list)):
        raise ValueError(f"{x!r} is not text or a number")
    if isinstance(x, dt.date):
        x = x.isoformat()
    return lit.string(x)


def _ident(x: Any) -> str:
    if not isinstance(x, str):
        raise TypeError(f"{x!r} is not a name")
    return lit.identifier(x)


def _number(x: Any) -> str:
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise TypeError(f"{x!r} is not an int or float")
    if isinstance(x, float) and not math.isfinite(x):
        raise ValueError(f"{x!r} is not a finite number")
    return str(x) if isinstance(x, int) else repr(x)


def _date(x: Any) -> str:
    if isinstance(x, dt.datetime):
        raise TypeError(f"{x!r} is a timestamp, not a date")
    if isinstance(x, dt.date):
        return f"CAST('{x.isoformat()}' AS DATE)"
    if not isinstance(x, str) or not _DATE.match(x):
        raise ValueError(f"{x!r} is not a YYYY-MM-DD date")
    dt.date.fromisoformat(x)  # rejects 2024-02-30
    return f"CAST('{x}' AS DATE)"


def _bool(x: Any) -> str:
    if not isinstance(x, bool):
        raise TypeError(f"{x!r} is not a boolean")
    return "TRUE" if x else "FALSE"


def sqlstring(v: Any) -> str:
    return _each(v, _sqlstring, "sqlstring")


def ident(v: Any) -> str:
    return _each(v, _ident, "ident")


def number(v: Any) -> str:
    return _each(v, _number, "number")


def date(v: Any) -> str:
    return _each(v, _date, "date")


def bool_(v: Any) -> str:
    return _each(v, _bool, "bool")


def _refusing(builtin, name: str):
    """Jinja's `int`/`float` turn unparseable text into 0 silently; a var must use `| number`."""

    def f(value: Any, *args: Any, **kwargs: Any):
        if isinstance(value, VarValue):
            raise UnsafeVariable(f"{_label(value)} | {name}: use | number, which refuses non-numbers")
        return builtin(value, *args, **kwargs)

    return f


def install(env: jinja2.Environment) -> None:
    """Register the quoting filters on a Jinja environment."""
    env.filters.update({"sqlstring": sqlstring, "ident": ident, "number": number,
                        "date": date, "bool": bool_})
    for name in ("int", "float"):
        env.filters[name] = _refusing(env.filters[name], name)
