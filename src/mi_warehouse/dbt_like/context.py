"""Jinja environments and the two template contexts: parse (records) and runtime (resolves).

Both contexts offer the same names, so a template renders the same way in either:

    ref('model')            the model's relation, `db`.`model`
    source('mi', 'table')   a declared source table, `db`.`table` (mi -> target.database)
    config(...)             records the model's config; renders nothing
    var('name', default)    a VarValue: only quoting filters turn it into SQL (see quoting.py)
    is_incremental()        parse: False (or True on the incremental second pass);
                            runtime: True iff incremental, table exists, not full refresh
    this                    the model's own relation (models only)
    target                  {engine, version, major, database, phi_database}

The parse context checks that refs and sources exist and records them; the runtime context
refuses a ref the parse phase did not see, since the DAG would not order it.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass, field
from typing import Any, Mapping

import jinja2
from jinja2 import nodes

from ..errors import MiWarehouseError
from .errors import ModelProjectError, ModelRenderError, UnknownRef, UnknownSource
from .project import Project, SqlFile
from .quoting import VarValue, install
from .relation import Relation, Target

_MISSING = object()


def dicom_tag_hex(keyword) -> str:
    """The 8-hex-digit tag of a DICOM keyword, from pydicom's dictionary (for `dicom_tag()`)."""
    from pydicom.datadict import tag_for_keyword

    from .quoting import unwrap

    kw = unwrap(keyword)
    tag = tag_for_keyword(kw) if isinstance(kw, str) else None
    if tag is None:
        raise ModelRenderError(f"dicom_tag_hex({kw!r}): not a keyword of pydicom's DICOM dictionary")
    return f"{tag:08X}"


def make_environment(files: Mapping[str, str]) -> jinja2.Environment:
    """A StrictUndefined environment whose templates are `files` (origin -> source)."""

    def load(name: str):
        if name not in files:
            return None
        return files[name], name, lambda: True

    env = jinja2.Environment(loader=jinja2.FunctionLoader(load), undefined=jinja2.StrictUndefined,
                             keep_trailing_newline=True, autoescape=False)
    install(env)
    env.globals["dicom_tag_hex"] = dicom_tag_hex
    return env


def project_environment(project: Project) -> jinja2.Environment:
    files = {f.origin: f.template for f in [*project.models.values(), *project.macros, *project.tests.values()]}
    env = make_environment(files)
    _check_macros(env, project.macros)
    return env


def _check_macros(env: jinja2.Environment, macros: list[SqlFile]) -> None:
    """Syntax-check macro files and refuse a macro name defined twice."""
    seen: dict[str, str] = {}
    for f in macros:
        try:
            tree = env.parse(f.template, f.name, f.origin)
        except jinja2.TemplateSyntaxError as e:
            raise ModelRenderError(f"{f.origin} line {e.lineno}: {e.message}") from None
        for m in tree.find_all(nodes.Macro):
            if m.name in seen:
                raise ModelProjectError(f"{f.origin}: macro {m.name} is also defined in {seen[m.name]}")
            seen[m.name] = f.origin


@dataclass
class Recorded:
    """What a parse render saw."""

    refs: list[str] = field(default_factory=list)
    sources: list[tuple[str, str]] = field(default_factory=list)
    config_calls: list[dict] = field(default_factory=list)


def _check_name(kind: str, *names: Any) -> None:
    for n in names:
        if not isinstance(n, str):
            raise ModelRenderError(f"{kind}() takes names as strings, got {n!r}")


class _Functions:
    """ref/source/config/var/is_incremental bound to one file; subclasses decide what ref does."""

    def __init__(self, project: Project, target: Target, node: SqlFile, is_model: bool,
                 variables: Mapping[str, Any]):
        self.project, self.target, self.node, self.is_model = project, target, node, is_model
        self.variables = variables

    def _check_ref(self, name: str, extra: tuple) -> None:
        """One model name, of a model the project has."""
        if extra:
            raise ModelRenderError(f"ref() takes one model name, got {(name, *extra)!r}")
        _check_name("ref", name)
        if name not in self.project.models:
            raise UnknownRef(f"ref('{name}') names no model of the project")

    def relation_of(self, name: str) -> Relation:
        return Relation(self.target.database, name)

    def source_relation(self, source: str, table: str) -> Relation:
        _check_name("source", source, table)
        decl = self.project.sources.get((source, table))
        if decl is None:
            known = sorted({s for s, _ in self.project.sources})
            if source in known:
                raise UnknownSource(f"source('{source}', '{table}'): source {source} declares no table {table}")
            raise UnknownSource(
                f"source('{source}', '{table}'): no source {source} is declared "
                f"(declared: {', '.join(known) or 'none'}; declare it in a sources: block of a models/*.yml)")
        return Relation(decl.database_for(self.target.as_dict()), table)

    def var(self, name: str, default: Any = _MISSING) -> VarValue:
        _check_name("var", name)
        if name in self.variables:
            return VarValue(name, self.variables[name])
        if default is _MISSING:
            raise ModelRenderError(f"var('{name}') is not set and has no default; pass it with --vars")
        return VarValue(name, default)

    def config(self, *args: Any, **kwargs: Any) -> str:
        if args:
            raise ModelRenderError("config() takes keyword arguments only, e.g. config(materialized='table')")
        if not self.is_model:
            raise ModelRenderError("config() is for models, not tests")
        self.record_config(kwargs)
        return ""

    def record_config(self, kwargs: dict) -> None:
        pass

    def namespace(self, env: jinja2.Environment, is_incremental: bool) -> dict[str, Any]:
        ns: dict[str, Any] = dict(env.globals)
        ns.update(ref=self.ref, source=self.source_relation, config=self.config, var=self.var,
                  is_incremental=lambda: is_incremental, target=self.target.as_dict())
        if self.is_model:
            ns["this"] = self.relation_of(self.node.name)
        return ns

    def ref(self, name: str, *extra: Any) -> Relation:  # pragma: no cover - overridden
        raise NotImplementedError


class ParseFunctions(_Functions):
    """Checks and records refs, sources and config() calls."""

    def __init__(self, *a: Any, **kw: Any):
        super().__init__(*a, **kw)
        self.recorded = Recorded()

    def ref(self, name: str, *extra: Any) -> Relation:
        self._check_ref(name, extra)
        if name not in self.recorded.refs:
            self.recorded.refs.append(name)
        return self.relation_of(name)

    def source_relation(self, source: str, table: str) -> Relation:
        rel = super().source_relation(source, table)
        if (source, table) not in self.recorded.sources:
            self.recorded.sources.append((source, table))
        return rel

    def record_config(self, kwargs: dict) -> None:
        self.recorded.config_calls.append(dict(kwargs))


class RuntimeFunctions(_Functions):
    """Resolves refs the parse phase recorded."""

    def __init__(self, *a: Any, declared_refs: tuple[str, ...] = (), **kw: Any):
        super().__init__(*a, **kw)
        self.declared = set(declared_refs)

    def ref(self, name: str, *extra: Any) -> Relation:
        self._check_ref(name, extra)
        if name not in self.declared:
            raise ModelRenderError(
                f"ref('{name}') was reached only at run time, so the build order ignores it; "
                f"add a line `-- depends_on: {{{{ ref('{name}') }}}}` to the file")
        return self.relation_of(name)


def render(env: jinja2.Environment, project: Project, node: SqlFile, funcs: _Functions,
           is_incremental: bool) -> str:
    """Render `node` with macros bound to `funcs`; every failure names the file (and line)."""
    ns = funcs.namespace(env, is_incremental)
    try:
        for m in project.macros:
            module = env.get_template(m.origin).make_module(ns, shared=True)
            for name in dir(module):
                value = getattr(module, name)
                if isinstance(value, jinja2.runtime.Macro):
                    ns[name] = value
        return env.get_template(node.origin).render(ns)
    except jinja2.TemplateSyntaxError as e:
        raise ModelRenderError(f"{e.filename or node.origin} line {e.lineno}: {e.message}") from None
    except Exception as e:  # noqa: BLE001 - any template failure becomes one named line
        raise _located(e, node.origin) from None


def _located(e: Exception, origin: str) -> Exception:
    where = origin
    for frame, lineno in reversed(list(traceback.walk_tb(e.__traceback__))):
        fname = frame.f_code.co_filename
        if fname.endswith(".sql"):
            where = f"{origin} line {lineno}" if fname == origin else f"{origin} (via {fname} line {lineno})"
            break
    if isinstance(e, jinja2.TemplateError):
        msg = e.message or type(e).__name__
    else:
        msg = str(e)
    msg = (msg.splitlines() or [type(e).__name__])[0]
    cls = type(e) if isinstance(e, MiWarehouseError) else ModelRenderError
    if not isinstance(e, MiWarehouseError):
        msg = f"{type(e).__name__}: {msg}" if not isinstance(e, jinja2.TemplateError) else msg
    try:
        return cls(f"{where}: {msg}")
    except TypeError:  # an error class with a different constructor
        return ModelRenderError(f"{where}: {msg}")

