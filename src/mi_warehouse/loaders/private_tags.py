"""`load --private-allow`: the private tags kept in header_json when de-identifying."""

from __future__ import annotations

from collections.abc import Iterable

from ..errors import InvalidPrivateTag

_HEX = frozenset("0123456789abcdefABCDEF")


def private_tags(tags: Iterable[str]) -> tuple[str, ...]:
    """The tags for `LoadOptions.private_allow`, each checked to be 8 hex digits (GGGGEEEE)."""
    tags = tuple(tags)
    for t in tags:
        if len(t) != 8 or not set(t) <= _HEX:
            raise InvalidPrivateTag(f"--private-allow {t!r} is not a tag of 8 hex digits: write it as GGGGEEEE, "
                                    "e.g. 00091001")
    return tags
