"""Data tests as SQL. Every test is a query returning the FAILING rows: it passes on zero rows.

Generic tests come from schema.yml columns; their names are stable:

    not_null_<model>_<column>         rows where the column is NULL
    unique_<model>_<column>           values (not NULL) that occur more than once, with n_records
    accepted_values_<model>_<column>  values (not NULL) outside the list, with n_records
    relationships_<model>_<column>__<to>_<field>
                                      child values (not NULL) with no parent row

Singular tests are `tests/**/*.sql`, named by file stem. A runner may fetch a few rows of `sql`
(to show them) or run `count_sql` (one row, `failures`); on Hive `count_sql` cannot wrap a
singular test that starts with WITH, so fetching rows is the portable way.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..engine import literals as lit
from .errors import ModelProjectError
from .project import Project
from .relation import Relation, Target
from .yaml_files import ColumnTest


@dataclass(frozen=True)
class TestNode:
    name: str
    kind: str  # not_null, unique, accepted_values, relationships or singular
    origin: str  # the yml or sql file it comes from
    sql: str  # the failing rows
    model: str | None = None  # generic tests: the model under test
    column: str | None = None
    depends_on_models: tuple[str, ...] = ()
    depends_on_sources: tuple[tuple[str, str], ...] = ()

    __test__ = False  # not a pytest class

    @property
    def count_sql(self) -> str:
        return f"SELECT COUNT(*) AS failures FROM (\n{self.sql}\n) mi_t"


def test_name(t: ColumnTest) -> str:
    base = f"{t.kind}_{t.model}_{t.column}"
    if t.kind == "relationships":
        to = t.to[1] if t.to[0] == "ref" else f"{t.to[1]}_{t.to[2]}"
        base += f"__{to}_{t.field}"
    return base


def generic_tests(project: Project, target: Target) -> list[TestNode]:
    """Every schema.yml column test, with SQL; duplicate names are an error naming the file."""
    out: dict[str, TestNode] = {}
    for model in sorted(project.docs):
        doc = project.docs[model]
        for col in doc.columns:
            for t in col.tests:
                node = _generic(t, project, target)
                if node.name in out:
                    raise ModelProjectError(f"{t.origin}: test {node.name} is declared twice")
                if node.name in project.tests:
                    raise ModelProjectError(
                        f"{t.origin}: test {node.name} has the name of {project.tests[node.name].origin}")
                out[node.name] = node
    return list(out.values())


def _generic(t: ColumnTest, project: Project, target: Target) -> TestNode:
    rel = Relation(target.database, t.model)
    col = lit.identifier(t.column)
    models: tuple[str, ...] = (t.model,)
    sources: tuple[tuple[str, str], ...] = ()
    if t.kind == "not_null":
        sql = f"SELECT *\nFROM {rel}\nWHERE {col} IS NULL"
    elif t.kind == "unique":
        sql = (f"SELECT {col}, COUNT(*) AS n_records\nFROM {rel}\nWHERE {col} IS NOT NULL\n"
               f"GROUP BY {col}\nHAVING COUNT(*) > 1")
    elif t.kind == "accepted_values":
        values = ", ".join(lit.value(v) for v in t.values)
        sql = (f"SELECT {col}, COUNT(*) AS n_records\nFROM {rel}\nWHERE {col} IS NOT NULL AND {col} NOT IN ({values})\n"
               f"GROUP BY {col}")
    elif t.kind == "relationships":
        if t.to[0] == "ref":
            if t.to[1] not in project.models:
                raise ModelProjectError(f"{t.origin}: relationships test on {t.model}.{t.column}: ref('{t.to[1]}') names no model")
            parent = Relation(target.database, t.to[1])
            models = tuple(dict.fromkeys((t.model, t.to[1])))
        else:
            decl = project.sources.get((t.to[1], t.to[2]))
            if decl is None:
                raise ModelProjectError(
                    f"{t.origin}: relationships test on {t.model}.{t.column}: source('{t.to[1]}', '{t.to[2]}') is not declared")
            parent = Relation(decl.database_for(target.as_dict()), t.to[2])
            sources = ((t.to[1], t.to[2]),)
        fld = lit.identifier(t.field)
        sql = (f"SELECT mi_child.{col}\nFROM {rel} mi_child\nLEFT JOIN {parent} mi_parent "
               f"ON mi_child.{col} = mi_parent.{fld}\nWHERE mi_child.{col} IS NOT NULL AND mi_parent.{fld} IS NULL")
    else:  # pragma: no cover - yaml_files admits only the kinds above
        raise ModelProjectError(f"{t.origin}: unknown test {t.kind}")
    return TestNode(test_name(t), t.kind, t.origin, sql, t.model, t.column, models, sources)


def singular_test(name: str, origin: str, sql: str, models: tuple[str, ...],
                  sources: tuple[tuple[str, str], ...]) -> TestNode:
    return TestNode(name, "singular", origin, sql.strip().rstrip(";").strip(), None, None, models, sources)
