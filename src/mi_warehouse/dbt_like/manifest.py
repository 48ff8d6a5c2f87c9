"""The manifest: everything compile learned about the project, as data.

In memory it is a `Manifest` (what the runner iterates); on disk `target/manifest.json`:

    metadata    generator, project root, target, selected models, full_refresh, var names
    nodes       "model.<name>" / "test.<name>": path, depends_on {models, sources}, config, tags,
                description, columns (from schema.yml), compiled_sql, compiled_path, checksum
                (sha256 of the compiled file's text), incremental_run (what is_incremental() said)
    sources     "source.<source>.<table>": relation and the file that declares it
    parent_map / child_map   unique id -> unique ids, for models, tests and sources
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .graph import Graph
from .model_config import ModelConfig
from .relation import Relation, Target
from .schema_tests import TestNode
from .yaml_files import ModelDoc, SourceTable


@dataclass
class ModelNode:
    name: str
    path: str
    relation: Relation
    config: ModelConfig
    depends_on_models: tuple[str, ...]
    depends_on_sources: tuple[tuple[str, str], ...]
    raw_checksum: str
    doc: ModelDoc | None = None
    compiled_sql: str | None = None  # the rendered SELECT (None when not selected)
    compiled_path: str | None = None  # relative to the target directory
    checksum: str | None = None  # sha256 of the compiled file's text
    incremental_run: bool = False

    @property
    def unique_id(self) -> str:
        return f"model.{self.name}"

    def to_dict(self) -> dict[str, Any]:
        columns = {c.name: {"description": c.description, "data_type": c.data_type}
                   for c in (self.doc.columns if self.doc else ())}
        return {
            "unique_id": self.unique_id, "resource_type": "model", "name": self.name, "path": self.path,
            "relation": self.relation.unquoted,
            "depends_on": {"models": list(self.depends_on_models),
                           "sources": [f"{s}.{t}" for s, t in self.depends_on_sources]},
            "config": self.config.as_dict(), "tags": list(self.config.tags),
            "description": self.doc.description if self.doc else "", "columns": columns,
            "raw_checksum": self.raw_checksum, "compiled": self.compiled_sql is not None,
            "compiled_sql": self.compiled_sql, "compiled_path": self.compiled_path,
            "checksum": self.checksum, "incremental_run": self.incremental_run,
        }


@dataclass
class CompiledTest:
    test: TestNode
    compiled_path: str | None = None
    checksum: str | None = None

    @property
    def unique_id(self) -> str:
        return f"test.{self.test.name}"

    def to_dict(self) -> dict[str, Any]:
        t = self.test
        return {
            "unique_id": self.unique_id, "resource_type": "test", "name": t.name, "test_kind": t.kind,
            "path": t.origin, "model": t.model, "column": t.column,
            "depends_on": {"models": list(t.depends_on_models),
                           "sources": [f"{s}.{n}" for s, n in t.depends_on_sources]},
            "compiled_sql": t.sql, "compiled_path": self.compiled_path, "checksum": self.checksum,
        }


@dataclass
class Manifest:
    target: Target
    project_root: Path
    models: dict[str, ModelNode]
    tests: dict[str, CompiledTest]
    sources: dict[tuple[str, str], SourceTable]
    graph: Graph
    selected: list[str] = field(default_factory=list)  # models to build, in build order
    selected_tests: list[str] = field(default_factory=list)
    full_refresh: bool = False
    var_names: list[str] = field(default_factory=list)

    def parent_map(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {f"source.{s}.{t}": [] for s, t in self.sources}
        for m in self.models.values():
            out[m.unique_id] = ([f"model.{p}" for p in m.depends_on_models]
                                + [f"source.{s}.{t}" for s, t in m.depends_on_sources])
        for t in self.tests.values():
            out[t.unique_id] = ([f"model.{p}" for p in t.test.depends_on_models]
                                + [f"source.{s}.{n}" for s, n in t.test.depends_on_sources])
        return {k: sorted(v) for k, v in sorted(out.items())}

    def child_map(self) -> dict[str, list[str]]:
        parents = self.parent_map()
        out: dict[str, list[str]] = {k: [] for k in parents}
        for child, ps in parents.items():
            for p in ps:
                out.setdefault(p, []).append(child)
        return {k: sorted(v) for k, v in sorted(out.items())}

    def to_dict(self) -> dict[str, Any]:
        nodes = {m.unique_id: m.to_dict() for m in self.models.values()}
        nodes.update({t.unique_id: t.to_dict() for t in self.tests.values()})
        sources = {
            f"source.{s}.{t}": {"source": s, "name": t, "path": d.origin, "description": d.description,
                                "relation": Relation(d.database_for(self.target.as_dict()), t).unquoted}
            for (s, t), d in sorted(self.sources.items())
        }
        return {
            "metadata": {"generator": "mi_warehouse.dbt_like", "project_root": str(self.project_root),
                         "target": self.target.as_dict(), "selected": list(self.selected),
                         "selected_tests": list(self.selected_tests), "full_refresh": self.full_refresh,
                         "vars": list(self.var_names)},
            "nodes": dict(sorted(nodes.items())),
            "sources": sources,
            "parent_map": self.parent_map(),
            "child_map": self.child_map(),
        }

    def write(self, path: Path) -> None:
        """Write the manifest as JSON, atomically (a reader never sees half a file)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=2, sort_keys=False) + "\n", encoding="utf-8")
        os.replace(tmp, path)
