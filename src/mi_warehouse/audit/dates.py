"""Dates in the spellings an identifier leaks in: YYYYMMDD (also as the start of a DT),
YYYY-MM-DD, DD/MM/YYYY and YYYY.MM.DD. Digits that belong to a UID or a longer number are not
dates."""

from __future__ import annotations

import datetime as dt
import re
from typing import Iterator

_NOT_BEFORE = r"(?<![\d.])"
_NOT_AFTER = r"(?!\d|\.\d)"
DATE_RE = re.compile(
    _NOT_BEFORE + r"(?:"
    r"(?P<c>\d{4})(?P<cm>\d{2})(?P<cd>\d{2})(?:\d{2,6}(?:\.\d{1,6})?)?"  # DA, or a DT's date part
    r"|(?P<i>\d{4})-(?P<im>\d{2})-(?P<id>\d{2})"
    r"|(?P<ed>\d{2})/(?P<em>\d{2})/(?P<e>\d{4})"
    r"|(?P<p>\d{4})\.(?P<pm>\d{2})\.(?P<pd>\d{2})"
    r")" + _NOT_AFTER)

SPELLINGS = ("%Y%m%d", "%Y-%m-%d", "%d/%m/%Y", "%Y.%m.%d")


def _date(y: str, m: str, d: str) -> dt.date | None:
    try:
        return dt.date(int(y), int(m), int(d))
    except ValueError:
        return None


def dates_in(text: str) -> Iterator[dt.date]:
    """Every valid date written in `text`, in any of the spellings."""
    for m in DATE_RE.finditer(text):
        g = m.groupdict()
        for y, mo, d in (("c", "cm", "cd"), ("i", "im", "id"), ("e", "em", "ed"), ("p", "pm", "pd")):
            if g[y] is not None:
                value = _date(g[y], g[mo], g[d])
                if value is not None:
                    yield value
                break


def parse_date(text: str) -> dt.date | None:
    """The date a DA/DT value (or a date in another spelling) stands for, else None."""
    found = next(dates_in(str(text).strip()), None)
    return found
