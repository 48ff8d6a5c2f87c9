"""Checks of command-line values that live in the library: --private-allow tags, --vars."""

from __future__ import annotations

import re

import pytest

from mi_warehouse.dbt_like.errors import BadVars
from mi_warehouse.dbt_like.variables import parse_vars
from mi_warehouse.errors import InvalidPrivateTag
from mi_warehouse.loaders.private_tags import private_tags


def test_private_tags_are_8_hex_digits():
    assert private_tags(["00091001", "0019abCD"]) == ("00091001", "0019abCD")
    assert private_tags([]) == ()
    for bad in ["0009100", "000910011", "0009100g", "(0009,1001)"]:
        with pytest.raises(InvalidPrivateTag, match=re.escape(f"{bad!r} is not a tag of 8 hex digits: write it as GGGGEEEE")):
            private_tags(["00091001", bad])


def test_vars_are_a_json_object():
    assert parse_vars(None) == {} and parse_vars("") == {}
    assert parse_vars('{"min_age": 18, "sites": ["a"]}') == {"min_age": 18, "sites": ["a"]}
    with pytest.raises(BadVars, match="--vars is not JSON"):
        parse_vars("{min_age: 18}")
    with pytest.raises(BadVars, match="must be a JSON object, not a list"):
        parse_vars("[18]")
