"""Jinja-templated HiveQL models: ref, source, config, var, macros, tests.

A dbt-like layer, pure (no database): load a project (`project.load_project`), parse it
(`parser.parse_project`: records refs, sources, config), order and select models
(`graph.Graph`), compile to plain HiveQL plus `target/manifest.json`
(`compiler.compile_project`), and produce the statements that materialise a model
(`materialize.plan`) and the SQL of data tests (`schema_tests`). The runner that executes
statements through HiveServer2 lives elsewhere and supplies what only a database knows:
whether a relation exists and a SELECT's output columns.
"""

from .compiler import compile_project
from .graph import Graph
from .manifest import Manifest
from .materialize import ABSENT, UNKNOWN, Existing, needs_columns, parse_describe, plan, probe
from .project import Project, load_project
from .relation import Relation, Target

__all__ = ["ABSENT", "UNKNOWN", "Existing", "Graph", "Manifest", "Project", "Relation", "Target",
           "compile_project", "load_project", "needs_columns", "parse_describe", "plan", "probe"]
