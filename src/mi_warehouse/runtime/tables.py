"""One spec per table: the single definition of every table's columns.

The migrations under `sql/migrations/` create these tables; a test renders them and checks that
every CREATE TABLE (and later ALTER TABLE ... ADD COLUMNS) declares exactly the columns, types
and partitions of its spec here. The Arrow schema of the Parquet files Python writes, the column
list of every SELECT that reads a table back and the row encoding of both writers
(`runtime/rows.py`: Parquet files, or INSERT ... SELECT through HiveServer2) all come from the
spec, so a table's layout is written down once.

Hive types map to Arrow types by one rule (`arrow_type`); `dicom_metadata` takes its columns
from the column catalog (`serde/catalog.py`), which also says how each DICOM attribute converts.
This module imports neither the connection layer nor numpy.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

import pyarrow as pa

from ..serde import catalog as cat

_SCALARS = {
    "STRING": pa.string(), "INT": pa.int32(), "BIGINT": pa.int64(), "DOUBLE": pa.float64(),
    "BOOLEAN": pa.bool_(), "DATE": pa.date32(), "TIMESTAMP": pa.timestamp("us"),
}


def arrow_type(hive_type: str) -> pa.DataType:
    """The Arrow type Python writes for a Hive column type (STRING, INT, ..., ARRAY<T>)."""
    t = hive_type.strip().upper()
    if t.startswith("ARRAY<") and t.endswith(">"):
        return pa.list_(arrow_type(t[6:-1]))
    try:
        return _SCALARS[t]
    except KeyError:
        raise ValueError(f"no Arrow type for Hive type {hive_type!r}") from None


@dataclass(frozen=True)
class Col:
    name: str
    hive_type: str
    comment: str = ""

    @property
    def arrow_type(self) -> pa.DataType:
        return arrow_type(self.hive_type)


@dataclass(frozen=True)
class TableSpec:
    """A table: its name, which database it lives in ('core' or 'phi'), columns and partitions.

    `hive=False` marks a dataset Python alone reads and writes (the ledger): no DDL, same encoding.
    """

    name: str
    database: str
    columns: tuple[Col, ...]
    partitions: tuple[Col, ...] = ()
    hive: bool = True

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def qualified(self, settings) -> str:
        db = settings.database if self.database == "core" else settings.phi_database
        return f"{db}.{self.name}"

    def arrow_schema(self, with_partitions: bool = False) -> pa.Schema:
        cols = self.columns + (self.partitions if with_partitions else ())
        return pa.schema([pa.field(c.name, c.arrow_type) for c in cols])

    def ddl_columns(self) -> list[tuple[str, str]]:
        return [(c.name, c.hive_type) for c in self.columns]

    def select_list(self, alias: str = "") -> str:
        prefix = f"{alias}." if alias else ""
        return ", ".join(f"{prefix}`{n}`" for n in self.names)

    def record(self, values: Mapping[str, Any] | Sequence[Any]) -> dict[str, Any]:
        """A row as {column: value}: from a mapping (missing columns are NULL, unknown ones are an
        error) or from a sequence in column order."""
        if isinstance(values, Mapping):
            unknown = set(values) - set(self.names) - {c.name for c in self.partitions}
            if unknown:
                raise ValueError(f"{self.name}: no column(s) {', '.join(sorted(unknown))}")
            return {n: values.get(n) for n in self.names}
        if len(values) != len(self.columns):
            raise ValueError(f"{self.name}: {len(values)} values for {len(self.columns)} columns")
        return dict(zip(self.names, values))

    def to_arrow(self, rows: Iterable[Mapping[str, Any] | Sequence[Any]]) -> pa.Table:
        """Rows (mappings or sequences) as an Arrow table of this spec's schema; None is NULL."""
        records = [self.record(r) for r in rows]
        schema = self.arrow_schema()
        return pa.Table.from_arrays(
            [pa.array([_arrow_value(r[c.name], c.hive_type) for r in records], type=f.type)
             for c, f in zip(self.columns, schema)], schema=schema)


def _arrow_value(v: Any, hive_type: str) -> Any:
    if v is None:
        return None
    if hive_type == "TIMESTAMP" and isinstance(v, str):
        return dt.datetime.fromisoformat(v)
    return v


def _cols(*pairs) -> tuple[Col, ...]:
    return tuple(Col(*p) for p in pairs)


DICOM_METADATA = TableSpec(
    "dicom_metadata", "core",
    tuple(Col(c.name, c.hive_type, c.doc) for c in cat.COLUMNS),
    tuple(Col(c.name, c.hive_type, c.doc) for c in cat.PARTITIONS),
)

LOAD_RUNS = TableSpec("load_runs", "core", _cols(
    ("run_id", "STRING"), ("started_at", "TIMESTAMP"), ("finished_at", "TIMESTAMP"),
    ("sources", "STRING", "path-free references (mi-file:<keyed hash>) when de-identified; "
                          "real URIs in <phi_db>.file_refs"),
    ("files_seen", "BIGINT"), ("files_loaded", "BIGINT"), ("files_skipped", "BIGINT"), ("duplicates", "BIGINT"),
    ("errors", "BIGINT"), ("warnings", "BIGINT"), ("bytes", "BIGINT"), ("seconds", "DOUBLE"),
    ("status", "STRING"), ("deid", "STRING"), ("host", "STRING"), ("loader_version", "STRING"),
    ("key_fingerprint", "STRING", "keyed hash of a constant: which key a run used, never the key"),
    ("deid_method", "STRING", "the de-identification profile and options in force"),
))

LOAD_ERRORS = TableSpec("load_errors", "core", _cols(
    ("run_id", "STRING"), ("path", "STRING", "the file (a path-free mi-file: reference when de-identified)"),
    ("error_class", "STRING"), ("message", "STRING"), ("file_size", "BIGINT"), ("first_path", "STRING"),
    ("recorded_at", "TIMESTAMP"), ("severity", "STRING"),
))

MODEL_VERSIONS = TableSpec("model_versions", "core", _cols(
    ("name", "STRING"), ("version", "STRING"), ("sha256", "STRING"), ("uri", "STRING"), ("opset", "INT"),
    ("input_shape", "ARRAY<INT>"), ("preprocessing", "STRING"), ("labels", "ARRAY<STRING>"),
    ("decision_threshold", "DOUBLE"), ("training_cohort", "STRING"), ("training_run", "STRING"),
    ("card", "STRING"), ("registered_by", "STRING"), ("registered_at", "TIMESTAMP"),
    ("parent_version", "STRING"),
))

INFERENCE_RUNS = TableSpec("inference_runs", "core", _cols(
    ("run_id", "STRING"), ("model_name", "STRING"), ("model_version", "STRING"), ("model_sha256", "STRING"),
    ("input_table", "STRING"), ("partitions_read", "STRING"), ("input_rows", "BIGINT"), ("rows_ok", "BIGINT"),
    ("rows_error", "BIGINT"), ("provider", "STRING"), ("host", "STRING"), ("started_at", "TIMESTAMP"),
    ("finished_at", "TIMESTAMP"), ("status", "STRING"), ("error", "STRING"),
))

PREDICTIONS = TableSpec("predictions", "core", _cols(
    ("sop_instance_uid", "STRING"), ("predicted_label", "STRING"), ("probability", "DOUBLE"),
    ("scores", "ARRAY<DOUBLE>"), ("status", "STRING"), ("error", "STRING"), ("latency_ms", "DOUBLE"),
    ("provider", "STRING"), ("run_id", "STRING"), ("predicted_at", "TIMESTAMP"),
), _cols(("model_name", "STRING"), ("model_version", "STRING")))

LABELS = TableSpec("labels", "core", _cols(
    ("sop_instance_uid", "STRING"), ("study_uid", "STRING"), ("label", "STRING"), ("label_value", "INT"),
    ("source", "STRING"), ("loaded_at", "TIMESTAMP"),
))

RUN_RESULTS = TableSpec("run_results", "core", _cols(
    ("run_id", "STRING"), ("model", "STRING"), ("status", "STRING"), ("rows", "BIGINT"), ("seconds", "DOUBLE"),
    ("checksum", "STRING"), ("message", "STRING"), ("materialized", "STRING"), ("started_at", "TIMESTAMP"),
    ("engine", "STRING"),
))

SCHEMA_MIGRATIONS = TableSpec("schema_migrations", "core", _cols(
    ("event_seq", "BIGINT"), ("attempt_id", "STRING"), ("version", "STRING"), ("description", "STRING"),
    ("script", "STRING"), ("kind", "STRING"), ("template_checksum", "STRING"), ("rendered_checksum", "STRING"),
    ("status", "STRING"), ("statements_total", "INT"), ("statement_reached", "INT"), ("done_checksum", "STRING"),
    ("error", "STRING"), ("applied_by", "STRING"), ("applied_at", "TIMESTAMP"), ("execution_ms", "BIGINT"),
    ("engine", "STRING"),
))

PATIENT_MAP = TableSpec("patient_map", "phi", _cols(
    ("patient_key", "STRING"), ("patient_id", "STRING"), ("patient_name", "STRING"), ("date_shift_days", "INT"),
    ("load_run_id", "STRING"), ("recorded_at", "TIMESTAMP"),
))

IMAGE_LOCATIONS = TableSpec("image_locations", "phi", _cols(
    ("sop_instance_uid", "STRING"), ("image_uri", "STRING"), ("file_size", "BIGINT"), ("load_run_id", "STRING"),
))

FILE_REFS = TableSpec("file_refs", "phi", _cols(
    ("ref", "STRING", "the mi-file: reference written in the core database"),
    ("uri", "STRING", "the real path or URI"),
    ("kind", "STRING", "source (a load argument) or file (an input file)"),
    ("run_id", "STRING"), ("recorded_at", "TIMESTAMP"),
))

# The ledger of files a load has seen: Python alone reads it; it lives with the PHI database
# (it holds paths) under `<phi_db>/_ledger/`.
LEDGER = TableSpec("_ledger", "phi", _cols(
    ("path", "STRING"), ("size", "BIGINT"), ("mtime_ns", "BIGINT"), ("sop_instance_uid", "STRING"),
    ("outcome", "STRING"), ("run_id", "STRING"),
), hive=False)

ALL: tuple[TableSpec, ...] = (
    DICOM_METADATA, LOAD_RUNS, LOAD_ERRORS, MODEL_VERSIONS, INFERENCE_RUNS, PREDICTIONS, LABELS, RUN_RESULTS,
    SCHEMA_MIGRATIONS, PATIENT_MAP, IMAGE_LOCATIONS, FILE_REFS, LEDGER,
)
BY_NAME = {t.name: t for t in ALL}
