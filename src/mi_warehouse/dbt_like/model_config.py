"""A model's configuration: what `config(...)` and `schema.yml` may set, validated and merged.

Precedence, lowest first: defaults, the model's `config:` block in schema.yml, the `config()`
call in the model file. Tags are the union of both. Every check raises `ValueError` with a short
reason; callers prefix it with the file's name.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any, Mapping

MATERIALIZATIONS = ("view", "table", "incremental")
STRATEGIES = ("insert_overwrite", "append")
FILE_FORMATS = ("parquet", "orc")
KEYS = ("materialized", "partition_by", "clustered_by", "buckets", "sorted_by", "tags",
        "incremental_strategy", "unique_key", "file_format")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class ModelConfig:
    materialized: str = "view"
    partition_by: tuple[str, ...] = ()
    clustered_by: tuple[str, ...] = ()
    buckets: int | None = None
    sorted_by: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    incremental_strategy: str = "insert_overwrite"
    # Recorded for documentation only: non-ACID Hive tables cannot MERGE on a key.
    unique_key: str | None = None
    file_format: str = "parquet"

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}



_CHOICES = {"materialized": MATERIALIZATIONS, "incremental_strategy": STRATEGIES, "file_format": FILE_FORMATS}

def _names(key: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"{key} must be a list of column names, got {value!r}")
    out = []
    for v in value:
        if not isinstance(v, str) or not _NAME.match(v):
            raise ValueError(f"{key}: {v!r} is not a column name (letters, digits, underscores)")
        out.append(v)
    return tuple(out)


def normalise_config(raw: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in KEYS:
            raise ValueError(f"unknown config key {key!r} (known: {', '.join(KEYS)})")
        if key in ("partition_by", "clustered_by", "sorted_by"):
            out[key] = _names(key, value)
        elif key == "tags":
            tags = [value] if isinstance(value, str) else value
            if not isinstance(tags, (list, tuple)) or not all(isinstance(t, str) and t for t in tags):
                raise ValueError(f"tags must be a list of strings, got {value!r}")
            out[key] = tuple(tags)
        elif key == "buckets":
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ValueError(f"buckets must be a positive integer, got {value!r}")
            out[key] = value
        elif key in _CHOICES:
            if value not in _CHOICES[key]:
                raise ValueError(f"{key} must be one of {', '.join(_CHOICES[key])}, got {value!r}")
            out[key] = value
        elif key == "unique_key":
            if value is not None:
                _names(key, value)
            out[key] = value
    return out


def build_config(yml: Mapping[str, Any] | None, call: Mapping[str, Any] | None) -> ModelConfig:
    """Merge schema.yml's config block and the model's config() call; validate the result."""
    a, b = normalise_config(yml or {}), normalise_config(call or {})
    tags = tuple(dict.fromkeys(a.get("tags", ()) + b.get("tags", ())))
    merged = {**a, **b, "tags": tags}
    cfg = ModelConfig(**merged)
    _check(cfg)
    return cfg


def _check(cfg: ModelConfig) -> None:
    if cfg.materialized == "view" and (cfg.partition_by or cfg.clustered_by or cfg.buckets):
        raise ValueError("partition_by, clustered_by and buckets apply to table and incremental models, not views")
    if cfg.clustered_by and not cfg.buckets:
        raise ValueError("clustered_by needs buckets=N")
    if cfg.buckets and not cfg.clustered_by:
        raise ValueError("buckets needs clustered_by=[...]")
    if cfg.sorted_by and not cfg.clustered_by:
        raise ValueError("sorted_by needs clustered_by=[...] (Hive sorts within buckets)")
    both = set(c.lower() for c in cfg.partition_by) & set(c.lower() for c in cfg.clustered_by + cfg.sorted_by)
    if both:
        raise ValueError(f"partition column(s) {', '.join(sorted(both))} cannot also be clustered or sorted by")
    if (cfg.materialized == "incremental" and cfg.incremental_strategy == "insert_overwrite"
            and not cfg.partition_by):
        raise ValueError("incremental insert_overwrite needs partition_by (it would replace the whole table)")
