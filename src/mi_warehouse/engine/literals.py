"""HiveQL literals and identifiers, quoted so that no value can change the statement around it."""

from __future__ import annotations

import datetime as dt
import re

from ..errors import InvalidIdentifier

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def string(value: object) -> str:
    """A single-quoted HiveQL string literal (backslash escapes, as Hive and Spark both read them)."""
    s = str(value)
    s = (s.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n")
         .replace("\r", "\\r").replace("\t", "\\t").replace("\0", ""))
    return f"'{s}'"


def identifier(name: str) -> str:
    """A backtick-quoted identifier; a part may hold only letters, digits and underscores."""
    parts = str(name).split(".")
    for p in parts:
        if not _IDENT.match(p):
            raise InvalidIdentifier(f"{name!r} is not a valid name: use only letters, digits and underscores, "
                                    "not starting with a digit")
    return ".".join(f"`{p}`" for p in parts)


def value(v: object) -> str:
    """Any Python value as a HiveQL expression: NULL, numbers, booleans, timestamps, strings."""
    if v is None:
        return "NULL"
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, int):
        return f"CAST({v} AS BIGINT)" if abs(v) > 2**31 - 1 else str(v)
    if isinstance(v, float):
        return repr(v) if v == v and v not in (float("inf"), float("-inf")) else "CAST(NULL AS DOUBLE)"
    if isinstance(v, dt.datetime):
        return f"CAST('{v.strftime('%Y-%m-%d %H:%M:%S.%f')}' AS TIMESTAMP)"
    if isinstance(v, dt.date):
        return f"CAST('{v.isoformat()}' AS DATE)"
    return string(v)
