"""Package boundaries, read from the source: features depend on the shared layers, not on one another.

Layers, bottom up: `errors`, `config`, `serde` (connection-free), `engine` (HiveServer2), `runtime`
(storage, locks, run ids, table specs, row writer, lineage). Feature packages build on those; the
few feature-to-feature uses are listed here, each with its reason, so a new one is a decision.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[2] / "src" / "mi_warehouse"
SHARED = {"errors", "config", "serde", "engine", "runtime", "progress", "__init__"}
FEATURES = {"loaders", "inference", "migrations", "dbt_like", "models", "udfs", "audit", "synth", "reports",
            "explain"}
ALLOWED = {
    ("inference", "models"): "infer resolves a registered model version",
    ("inference", "udfs"): "infer sizes the TRANSFORM to the node's cores and GPUs, counted as the script counts them",
    ("udfs", "models"): "the TRANSFORM script reads the model-card contract (connection-free)",
    ("models", "udfs"): "training uses the inference preprocessing, so the two cannot drift",
    ("models", "synth"): "the demo CNN trains on a synthetic corpus",
    ("audit", "loaders"): "the audit reads original headers the way the loader does",
    ("audit", "synth"): "",
    ("explain", "models"): "explain resolves a registered model version and reads its card",
    ("explain", "udfs"): "explain decodes and preprocesses with the inference code, so maps show what was scored",
    ("explain", "inference"): "explain resolves --cohort as infer does",
    ("reports", "explain"): "the report's gallery reads explain's maps and its PHI-side location rule",
}


def _imports(path: Path) -> set[str]:
    """Top-level mi_warehouse packages a module imports (relative or absolute, anywhere in it)."""
    rel = path.relative_to(PKG).parts
    tree = ast.parse(path.read_text(), str(path))
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(rel[:-1])[: len(rel) - node.level]
                parts = base + (node.module.split(".") if node.module else [])
                if not parts:  # `from .. import x`: the names are the packages
                    out.update(a.name for a in node.names)
                    continue
            elif node.module and node.module.startswith("mi_warehouse"):
                parts = node.module.split(".")[1:]
            else:
                continue
            if parts:
                out.add(parts[0])
        elif isinstance(node, ast.Import):
            out.update(a.name.split(".")[1] for a in node.names
                       if a.name.startswith("mi_warehouse.") and len(a.name.split(".")) > 1)
    return out


def _modules(package: str):
    return sorted((PKG / package).rglob("*.py"))


@pytest.mark.parametrize("package", sorted(FEATURES))
def test_features_use_shared_layers_not_each_other(package):
    wrong = []
    for m in _modules(package):
        for dep in _imports(m) - SHARED - {package}:
            if dep in FEATURES and (package, dep) not in ALLOWED:
                wrong.append(f"{m.relative_to(PKG)} imports {dep}")
            if dep == "cli":
                wrong.append(f"{m.relative_to(PKG)} imports the CLI")
    assert wrong == []


@pytest.mark.parametrize("package", ["runtime", "engine", "serde"])
def test_shared_layers_import_no_feature(package):
    wrong = [f"{m.relative_to(PKG)} imports {d}" for m in _modules(package) for d in _imports(m) & (FEATURES | {"cli"})]
    assert wrong == []


@pytest.mark.parametrize("package", ["udfs", "serde"])
def test_worker_side_code_never_reaches_the_connection_layer(package):
    """TRANSFORM scripts run on worker nodes without HiveServer2."""
    for m in _modules(package):
        text = m.read_text()
        assert "engine.connection" not in text and "from ..engine" not in text and "pyhive" not in text, m


def test_storage_and_locks_live_only_in_runtime():
    for name in ("storage.py", "lock.py", "locks.py", "lineage.py"):
        homes = sorted(str(p.relative_to(PKG)) for p in PKG.rglob(name))
        assert all(h.startswith("runtime/") or h == "inference/lineage.py" for h in homes), homes


def test_the_checker_sees_imports():
    """The test above could pass by reading nothing: check it on a module known to import runtime."""
    assert {"runtime", "engine", "config"} <= _imports(PKG / "loaders" / "load.py")
    assert "serde" in _imports(PKG / "loaders" / "extract.py")
    assert "models" in _imports(PKG / "inference" / "run.py")


def test_the_readme_architecture_table_matches_the_folders():
    import re

    readme = (PKG.parents[1] / "README.md").read_text()
    listed = set(re.findall(r"^\| `src/mi_warehouse/(\w+)/` \|", readme, re.M))
    packages = {p.parent.name for p in PKG.glob("*/__init__.py")}
    assert listed == packages
