"""The HiveQL of `mi-warehouse infer`, for the embedded engine and for a cluster (`--print-sql`).

One run:
  1. `work_new` <- SELECT TRANSFORM over the cohort's images that have no successful prediction
     from this model version yet (all of them with --force), through the ONNX script;
  2. `work_all` <- work_new, plus the partition's other rows (kept as they are);
  3. INSERT OVERWRITE the model version's partition of `predictions` from work_all.
So an image never gets two predictions from one model version, a re-run recomputes only errors
and new images, and a run that dies before step 3 leaves `predictions` untouched. The work
tables are external tables under `<db location>/_work/` (hidden from readers of the database).

Every core busy: the engine runs one script process per task (Spark's ScriptTransformationExec
and Hive's ScriptOperator both start the command once per task), so step 1 spreads the images
over `instances` tasks before the TRANSFORM: on Spark a `REPARTITION(n)` hint (round robin, a
user-given number that adaptive execution does not coalesce; a plain DISTRIBUTE BY would be
coalesced into one task because the rows are small), on Hive `DISTRIBUTE BY` with
`mapreduce.job.reduces = n` (the TRANSFORM then runs in the n reducers; Tez honours the same
setting with auto reducer parallelism off), reset after the statement. `instances` = 0 leaves
the plan as the engine makes it.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from ..engine import literals as lit
from ..engine.splitter import split_statements
from ..errors import MiWarehouseError
from ..models.card import OUTPUT_COLUMNS

PREDICTION_COLUMNS = [("sop_instance_uid", "STRING"), ("predicted_label", "STRING"), ("probability", "DOUBLE"),
                      ("scores", "ARRAY<DOUBLE>"), ("status", "STRING"), ("error", "STRING"),
                      ("latency_ms", "DOUBLE"), ("provider", "STRING"), ("run_id", "STRING"),
                      ("predicted_at", "TIMESTAMP")]
# Columns of `predictions` that the INSERT ... SELECT TRANSFORM fills itself; every other one is
# taken by name from the script's output columns (models.card.OUTPUT_COLUMNS, the contract).
_SUPPLIED = ("run_id", "predicted_at")
_TABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")


class BadCohort(MiWarehouseError):
    """The cohort is neither a table name nor one SELECT statement."""


def cohort_relation(cohort: str, default_db: str) -> str:
    """A FROM-able relation for a table name or a query returning sop_instance_uid."""
    text = cohort.strip().rstrip(";").strip()
    if _TABLE.match(text):
        name = text if "." in text else f"{default_db}.{text}"
        return lit.identifier(name)
    stmts = split_statements(text, "--cohort")
    if len(stmts) != 1 or not re.match(r"(?is)^\s*(select|with)\b", stmts[0].sql):
        raise BadCohort(f"--cohort {cohort!r} must be a table name or one SELECT returning sop_instance_uid")
    return f"(\n{stmts[0].sql}\n) cohort_q"


@dataclass(frozen=True)
class InferPlan:
    run_id: str
    model_name: str
    model_version: str
    db: str
    phi_db: str
    cohort: str  # FROM-able relation
    work_location: str  # <db location>/_work/infer_<run>
    command: str  # the TRANSFORM script command line
    force: bool = False
    embeddings: bool = False
    instances: int = 0  # script instances (tasks) the TRANSFORM is spread over; 0: as planned
    engine: str = "spark"  # the dialect the statements are written for

    @property
    def TRANSFORM_STATEMENT(self) -> int:  # noqa: N802 - index in statements() of the TRANSFORM
        return 2 + len(self._spread_settings())

    def _spread_settings(self) -> list[str]:
        """The SETs before the TRANSFORM (Hive: the reducer count); see the module docstring."""
        if self.instances < 1 or self.engine != "hive":
            return []
        return ["SET hive.tez.auto.reducer.parallelism=false",
                f"SET mapreduce.job.reduces={int(self.instances)}"]

    def transform_input(self) -> str:
        """The TRANSFORM's FROM relation (without alias): the todo rows, spread over
        `instances` tasks (see the module docstring)."""
        todo = self.todo_query()
        if self.instances < 1:
            return todo
        if self.engine == "hive":
            return f"SELECT q.* FROM (\n  {todo}\n  ) q\n  DISTRIBUTE BY q.sop_instance_uid"
        return f"SELECT /*+ REPARTITION({int(self.instances)}) */ q.* FROM (\n  {todo}\n  ) q"

    @property
    def work_new(self) -> str:
        return f"{self.db}.infer_{self._suffix}_new"

    @property
    def work_all(self) -> str:
        return f"{self.db}.infer_{self._suffix}_all"

    @property
    def _suffix(self) -> str:
        return re.sub(r"[^0-9A-Za-z]", "_", self.run_id).lower()

    def _create(self, table: str, where: str) -> str:
        cols = ",\n  ".join(f"`{n}` {t}" for n, t in PREDICTION_COLUMNS)
        return (f"CREATE EXTERNAL TABLE IF NOT EXISTS {lit.identifier(table)} (\n  {cols}\n)\n"
                f"STORED AS PARQUET\nLOCATION {lit.string(self.work_location + '/' + where)}")

    def _partition_filter(self, alias: str) -> str:
        return (f"{alias}.model_name = {lit.string(self.model_name)} "
                f"AND {alias}.model_version = {lit.string(self.model_version)}")

    def todo_query(self) -> str:
        """The images to score: the cohort's, located, without a successful prediction (unless forced)."""
        done = "" if self.force else (
            f"\n  LEFT JOIN (SELECT DISTINCT sop_instance_uid FROM {self.db}.predictions p\n"
            f"             WHERE {self._partition_filter('p')} AND p.status = 'ok') done\n"
            f"    ON done.sop_instance_uid = c.sop_instance_uid")
        where = "" if self.force else "\n  WHERE done.sop_instance_uid IS NULL"

        return (f"SELECT c.sop_instance_uid, loc.image_uri, '0' AS frame\n"
                f"  FROM (SELECT DISTINCT sop_instance_uid FROM {self.cohort}) c\n"
                f"  JOIN (SELECT sop_instance_uid, max(image_uri) AS image_uri\n"
                f"        FROM {self.phi_db}.image_locations GROUP BY sop_instance_uid) loc\n"
                f"    ON loc.sop_instance_uid = c.sop_instance_uid{done}{where}")

    def statements(self) -> list[str]:
        out_cols = ", ".join(f"{n} {t.upper()}" for n, t in OUTPUT_COLUMNS)
        supplied = dict(zip(_SUPPLIED, (lit.string(self.run_id), "current_timestamp()")))
        names = ", ".join(supplied.get(n) or f"t.{n}" for n, _ in PREDICTION_COLUMNS)
        kept = ", ".join(f"p.{n}" for n, _ in PREDICTION_COLUMNS)
        if "'" in self.command:
            raise MiWarehouseError(f"the TRANSFORM command may not contain a single quote: {self.command}")
        spread = self._spread_settings()
        return [
            self._create(self.work_new, "new"),
            self._create(self.work_all, "all"),
            *spread,
            f"INSERT INTO TABLE {lit.identifier(self.work_new)}\n"
            f"SELECT {names}\n"
            f"FROM (\n  SELECT TRANSFORM (todo.sop_instance_uid, todo.image_uri, todo.frame)\n"
            f"  USING '{self.command}'\n  AS ({out_cols})\n"
            f"  FROM (\n  {self.transform_input()}\n  ) todo\n) t",
            *(["SET mapreduce.job.reduces=-1"] if spread else []),
            f"INSERT INTO TABLE {lit.identifier(self.work_all)}\n"
            f"SELECT * FROM {lit.identifier(self.work_new)}\n"
            f"UNION ALL\n"
            f"SELECT {kept} FROM {self.db}.predictions p\n"
            f"  LEFT JOIN (SELECT DISTINCT sop_instance_uid FROM {lit.identifier(self.work_new)}) w\n"
            f"    ON w.sop_instance_uid = p.sop_instance_uid\n"
            f"  WHERE {self._partition_filter('p')} AND w.sop_instance_uid IS NULL",
            f"INSERT OVERWRITE TABLE {self.db}.predictions\n"
            f"PARTITION (model_name = {lit.string(self.model_name)}, model_version = {lit.string(self.model_version)})\n"
            f"SELECT * FROM {lit.identifier(self.work_all)}",
        ]

    def cleanup(self) -> list[str]:
        return [f"DROP TABLE IF EXISTS {lit.identifier(self.work_new)}",
                f"DROP TABLE IF EXISTS {lit.identifier(self.work_all)}"]


@dataclass(frozen=True)
class Spread:
    """How one node runs the TRANSFORM: `instances` script processes (tasks), each decoding in
    `decode_processes` worker processes (0: a thread of its own)."""

    instances: int
    decode_processes: int

    def script_args(self) -> list[str]:
        """The script's decode settings. Batches in flight are bounded by the prefetch queue, so
        it holds one batch per decode process and two more (memory: prefetch x batch tensors)."""
        return ["--decode-processes", str(self.decode_processes),
                "--prefetch", str(max(4, self.decode_processes + 2))]


def node_spread(cores: int, gpus: int = 0) -> Spread:
    """Every core busy. CPU node: one script instance per core, each decoding in a thread
    beside its onnxruntime thread (decode and inference overlap; more processes would only
    oversubscribe the cores). GPU node: one instance per GPU (each locks its own), each with
    the node's other cores as decode worker processes."""
    cores = max(1, cores)
    if gpus > 0:
        return Spread(gpus, max(1, cores // gpus - 1))
    return Spread(cores, 0)


def script_command(python: str, model_file: str, sha256: str, card_file: str, name: str, version: str,
                   batch_size: int, extra: list[str] | None = None) -> str:
    args = [python, "-m", "mi_warehouse.udfs.onnx_infer", "--model-file", model_file, "--sha256", sha256,
            "--card", card_file, "--model-name", name, "--model-version", version,
            "--batch-size", str(batch_size), *(extra or [])]
    return " ".join(shlex.quote(a) for a in args)


def cluster_preamble(model_uri: str, card_uri: str, engine: str) -> list[str]:
    """ADD FILE lines and the settings a cluster needs, as a commented script header."""
    from ..engine import dialects  # the queue lines differ by engine

    return [
        "-- Ship the model and its card to the worker nodes (they land in the task's working directory).",
        f"ADD FILE {model_uri};",
        f"ADD FILE {card_uri};",
        "-- The nodes need Python with mi-warehouse installed (a shared environment), or ship one:",
        "--   ADD ARCHIVE hdfs:///apps/mi-warehouse/mi-env.tar.gz;  and USING 'mi-env.tar.gz/bin/python -m ...'",
        "-- Route the TRANSFORM to GPU nodes:",
        "--   Hive on Tez/YARN: a queue whose capacity is on the 'gpu' node label",
        "--     (yarn.scheduler.capacity.root.gpu.accessible-node-labels=gpu, default-node-label-expression=gpu)",
        *dialects.get(engine).queue_preamble,
        "SET hive.exec.dynamic.partition.mode=nonstrict;",
    ]
