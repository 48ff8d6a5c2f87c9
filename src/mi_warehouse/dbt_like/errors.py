"""Named errors of the model layer. Each message is one line and names the file at fault."""

from __future__ import annotations

from ..errors import MiWarehouseError


class ModelProjectError(MiWarehouseError):
    """The model project is malformed: a duplicate model, a bad schema.yml, an unreadable file."""


class ModelRenderError(MiWarehouseError):
    """A model, macro or test template cannot be rendered (Jinja error, bad config() call)."""


class UnknownRef(ModelRenderError):
    """`ref('x')` names no model of the project."""


class UnknownSource(ModelRenderError):
    """`source('s', 't')` names no table declared in a sources block."""


class UnsafeVariable(ModelRenderError):
    """A `var()` reached SQL without a quoting filter, or a filter refused its value."""


class DependencyCycle(MiWarehouseError):
    """Models depend on each other in a cycle."""


class SelectorError(MiWarehouseError):
    """A `--select` selector matches nothing or has an unknown form."""


class MaterializationError(MiWarehouseError):
    """A model's config cannot be materialised safely (e.g. insert_overwrite without partition_by)."""


class BadVars(MiWarehouseError):
    """`--vars` is not a JSON object."""
