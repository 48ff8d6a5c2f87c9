"""The parse phase: render every model and singular test with the recording context.

The result holds, per node, the refs and sources it uses and (for models) its merged config.
An incremental model is rendered twice, with `is_incremental()` False and True, so that refs
inside `{% if is_incremental() %}` blocks are recorded too. Parsing needs no database.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import jinja2

from .context import ParseFunctions, project_environment, render
from .errors import ModelProjectError, ModelRenderError
from .model_config import ModelConfig, build_config, normalise_config
from .project import Project, SqlFile
from .relation import Target
from .yaml_files import ModelDoc


@dataclass(frozen=True)
class ParsedNode:
    """A model or singular test after parsing."""

    name: str
    kind: str  # "model" or "test"
    file: SqlFile
    refs: tuple[str, ...]
    sources: tuple[tuple[str, str], ...]
    config: ModelConfig | None = None  # models only
    doc: ModelDoc | None = None


@dataclass
class ParsedProject:
    project: Project
    target: Target
    env: jinja2.Environment
    models: dict[str, ParsedNode]
    tests: dict[str, ParsedNode]  # singular tests


def parse_project(project: Project, target: Target, variables: Mapping[str, Any] | None = None) -> ParsedProject:
    """Render each model and singular test once (twice for incremental models), recording deps."""
    variables = dict(variables or {})
    env = project_environment(project)
    models = {name: _parse_model(env, project, target, f, variables) for name, f in sorted(project.models.items())}
    tests = {}
    for name, f in sorted(project.tests.items()):
        funcs = ParseFunctions(project, target, f, False, variables)
        render(env, project, f, funcs, False)
        tests[name] = ParsedNode(name, "test", f, tuple(funcs.recorded.refs), tuple(funcs.recorded.sources))
    return ParsedProject(project, target, env, models, tests)


def _parse_model(env: jinja2.Environment, project: Project, target: Target, f: SqlFile,
                 variables: dict) -> ParsedNode:
    doc = project.docs.get(f.name)
    yml_config = doc.config if doc else {}
    if doc:
        try:
            normalise_config(yml_config)
        except ValueError as e:
            raise ModelProjectError(f"{doc.origin}: model {f.name} config: {e}") from None
    funcs = ParseFunctions(project, target, f, True, variables)
    render(env, project, f, funcs, False)
    config = _config(f, yml_config, funcs.recorded.config_calls)
    refs, sources = list(funcs.recorded.refs), list(funcs.recorded.sources)
    if config.materialized == "incremental":
        again = ParseFunctions(project, target, f, True, variables)
        render(env, project, f, again, True)
        refs += [r for r in again.recorded.refs if r not in refs]
        sources += [s for s in again.recorded.sources if s not in sources]
    return ParsedNode(f.name, "model", f, tuple(refs), tuple(sources), config, doc)


def _config(f: SqlFile, yml_config: dict, calls: list[dict]) -> ModelConfig:
    merged: dict = {}
    for call in calls:
        merged.update(call)
    try:
        return build_config(yml_config, merged)
    except ValueError as e:
        raise ModelRenderError(f"{f.origin}: config: {e}") from None
