"""Template variables given on the command line (`--vars '{"min_age": 18}'`), for `var()`."""

from __future__ import annotations

import json

from .errors import BadVars


def parse_vars(text: str | None) -> dict:
    """The variables of a JSON object; none for an empty or missing text."""
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError as e:
        raise BadVars(f"--vars is not JSON ({e}): give an object such as '{{\"min_age\": 18}}'") from None
    if not isinstance(value, dict):
        raise BadVars(f"--vars must be a JSON object, not a {type(value).__name__}: "
                      "give an object such as '{\"min_age\": 18}'")
    return value
