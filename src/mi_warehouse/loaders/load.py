"""`mi-warehouse load`: every file found ends up in `mi.dicom_metadata` or in `mi.load_errors`.

The run, in order: take the load lock; read the ledger; walk the sources, skipping files the
ledger has seen unchanged; extract headers in a pool of worker processes (streaming, bounded
batches staged on local disk); commit the bucket files; register partitions through
HiveServer2; write the error rows, the PHI map (if asked) and the run row; write the ledger last.
A run killed at any point leaves no partial file visible, and running it again completes it.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing as mp
import os
import shutil
import socket
import sys
import time
import uuid
import warnings
from dataclasses import dataclass, field
from itertools import islice
from typing import Callable, Iterable, Iterator

import pyarrow as pa

from .. import __version__
from ..config import Settings
from ..engine import metastore
from ..engine.connection import Session
from ..errors import InvalidPrivateTag
from ..runtime.locks import command_lock
from ..runtime.lineage import Emitter
from .deid import Deidentifier, load_key
from .extract import Outcome, extract
from .ledger import Ledger
from .sources import SourceFile, iter_files, open_source
from ..runtime.storage import filesystem, join, write_parquet_atomic
from .writer import BucketedWriter

ERRORS_SCHEMA = pa.schema([
    ("run_id", pa.string()), ("path", pa.string()), ("error_class", pa.string()), ("message", pa.string()),
    ("file_size", pa.int64()), ("first_path", pa.string()), ("recorded_at", pa.timestamp("us")),
    ("severity", pa.string()),
])
RUNS_SCHEMA = pa.schema([
    ("run_id", pa.string()), ("started_at", pa.timestamp("us")), ("finished_at", pa.timestamp("us")),
    ("sources", pa.string()), ("files_seen", pa.int64()), ("files_loaded", pa.int64()),
    ("files_skipped", pa.int64()), ("duplicates", pa.int64()), ("errors", pa.int64()),
    ("warnings", pa.int64()), ("bytes", pa.int64()), ("seconds", pa.float64()), ("status", pa.string()),
    ("deid", pa.string()), ("host", pa.string()), ("loader_version", pa.string()),
])
LOCATIONS_SCHEMA = pa.schema([
    ("sop_instance_uid", pa.string()), ("image_uri", pa.string()), ("file_size", pa.int64()),
    ("load_run_id", pa.string()),
])
PHI_SCHEMA = pa.schema([
    ("patient_key", pa.string()), ("patient_id", pa.string()), ("patient_name", pa.string()),
    ("date_shift_days", pa.int32()), ("load_run_id", pa.string()), ("recorded_at", pa.timestamp("us")),
])


@dataclass
class LoadOptions:
    workers: int = 0  # 0: all cores
    batch_rows: int = 5000
    deid: bool = True
    keep_phi_map: bool = False
    bulk_limit: int = 1024
    lock_timeout: float = 3600.0
    private_allow: tuple[str, ...] = ()  # private tags (8 hex digits) kept in header_json
    engine: str = "local"  # local: a process pool here; spark: extraction as a Spark job
    spark_master: str | None = None  # e.g. local[4], yarn; None: what spark-submit set, else local[*]


def private_tags(tags: Iterable[str]) -> tuple[str, ...]:
    """The `--private-allow` tags, each checked to be 8 hex digits (GGGGEEEE)."""
    tags = tuple(tags)
    for t in tags:
        if len(t) != 8 or any(c not in "0123456789abcdefABCDEF" for c in t):
            raise InvalidPrivateTag(f"--private-allow {t!r} is not a tag of 8 hex digits: write it as GGGGEEEE, "
                                    "e.g. 00091001")
    return tags


@dataclass
class LoadSummary:
    run_id: str
    files_seen: int = 0
    loaded: int = 0
    skipped: int = 0
    duplicates: int = 0
    errors: int = 0
    warnings: int = 0
    bytes: int = 0
    seconds: float = 0.0
    partitions: int = 0
    error_classes: dict[str, int] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return (self.files_seen - self.skipped) / self.seconds if self.seconds else 0.0


Progress = Callable[[LoadSummary], None]

# --- worker side -------------------------------------------------------------------------
_W: dict = {}


def _init_worker(key: bytes | None, run_id: str, bulk_limit: int, keep_phi: bool,
                 private_allow: tuple[str, ...] = ()) -> None:
    warnings.simplefilter("ignore")  # pydicom's own warnings: our outcome carries what matters
    import logging

    logging.getLogger("pydicom").setLevel(logging.ERROR)
    allow = frozenset(int(t, 16) for t in private_allow)
    _W.update(deid=Deidentifier(key, allow) if key is not None else None, run_id=run_id,
              bulk_limit=bulk_limit, keep_phi=keep_phi)


def _work(f: SourceFile) -> Outcome:
    try:
        with open_source(f.uri) as fp:
            return extract(f.uri, fp, f.size, _W["deid"], _W["run_id"], _W["bulk_limit"], _W["keep_phi"])
    except OSError as e:
        return Outcome(f.uri, f.size, error_class="unreadable", message=f"{type(e).__name__}: {e}")


def _outcomes(files: Iterable[SourceFile], workers: int, init_args: tuple) -> Iterator[tuple[SourceFile, Outcome]]:
    if workers <= 1:
        _init_worker(*init_args)
        for f in files:
            yield f, _work(f)
        return
    ctx = mp.get_context("spawn")
    with ctx.Pool(workers, initializer=_init_worker, initargs=init_args) as pool:
        it = iter(files)
        while True:  # bounded windows keep memory flat however many files there are
            window = list(islice(it, 2000))
            if not window:
                break
            for f, o in zip(window, pool.imap(_work, window, chunksize=32)):
                yield f, o


def _spark_outcomes(files: Iterable[SourceFile], init_args: tuple, master: str | None
                    ) -> Iterator[tuple[SourceFile, Outcome]]:
    """Extraction as a Spark job: files spread over the executors, outcomes streamed back to the
    driver partition by partition (toLocalIterator), where the same writer and ledger commit them.

    The session uses Spark's in-memory catalog: it never opens a metastore (the embedded Derby
    metastore admits one process, the server's); partitions are registered through HiveServer2.
    """
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName("mi-warehouse load") \
        .config("spark.sql.catalogImplementation", "in-memory").config("spark.ui.enabled", "false")
    if master or "PYSPARK_GATEWAY_PORT" not in os.environ:  # under spark-submit, its --master decides
        builder = builder.master(master or "local[*]")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    spark = builder.getOrCreate()
    try:
        todo = list(files)  # paths and sizes only
        if not todo:
            return
        sc = spark.sparkContext
        slices = max(sc.defaultParallelism, min(len(todo) // 256, 10_000))
        def extract_partition(it):
            _init_worker(*init_args)
            for f in it:
                yield f, _work(f)

        yield from sc.parallelize(todo, slices).mapPartitions(extract_partition).toLocalIterator()
    finally:
        spark.stop()


# --- the run -------------------------------------------------------------------------------
def new_run_id() -> str:
    return dt.datetime.now().strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]


def run_load(session: Session, settings: Settings, sources: list[str], options: LoadOptions | None = None,
             progress: Progress | None = None, log: Callable[[str], None] = lambda m: None) -> LoadSummary:
    options = options or LoadOptions()
    db, phi_db = settings.database, settings.phi_database
    table = metastore.describe(session, f"{db}.dicom_metadata")
    errors_tbl = metastore.describe(session, f"{db}.load_errors")
    runs_tbl = metastore.describe(session, f"{db}.load_runs")
    phi_tbl = metastore.describe(session, f"{phi_db}.patient_map") if options.keep_phi_map else None
    locations_tbl = metastore.describe(session, f"{phi_db}.image_locations")
    db_location = table.location.rsplit("/", 1)[0]

    lock = command_lock(settings, "load", "load")
    lock.acquire(options.lock_timeout, on_wait=lambda h: log(f"waiting for another load to finish ({h})"))
    run_id = new_run_id()
    inputs = [source_dataset(src) for src in sources]
    outputs = [t.name for t in (table, errors_tbl, runs_tbl, locations_tbl, phi_tbl) if t is not None]
    try:
        with Emitter(settings).run("load", run_id, inputs, outputs):
            return _run(session, settings, sources, options, progress, log, table, errors_tbl, runs_tbl,
                        phi_tbl, locations_tbl, db_location, run_id)
    finally:
        lock.release()


def source_dataset(src: str) -> tuple[str, str]:
    """An OpenLineage (namespace, name) for a load source: file://host or the URI's scheme and authority."""
    from urllib.parse import urlparse

    u = urlparse(src)
    if u.scheme in ("", "file"):
        return f"file://{socket.gethostname()}", os.path.abspath(u.path if u.scheme else src)
    return f"{u.scheme}://{u.netloc}", u.path


def _run(session, settings, sources, options, progress, log, table, errors_tbl, runs_tbl, phi_tbl,
         locations_tbl, db_location, run_id) -> LoadSummary:
    started = dt.datetime.now()
    t0 = time.monotonic()
    summary = LoadSummary(run_id)
    staging_root = settings.home / "staging"
    shutil.rmtree(staging_root, ignore_errors=True)  # left by killed runs; we hold the lock
    writer = BucketedWriter(table.location, staging_root / run_id, max(table.buckets, 1),
                            table.bucketing_version)
    ledger = Ledger(db_location).load()
    key = load_key(settings.key_file) if options.deid else None
    workers = options.workers or os.cpu_count() or 1

    error_rows: list[tuple] = []
    ledger_rows: list[tuple] = []
    phi_rows: dict[str, tuple] = {}
    locations: list[tuple] = []
    run_sops: dict[str, str] = {}
    batch: list[dict] = []
    now = dt.datetime.now

    def pending() -> Iterator[SourceFile]:
        for f in iter_files(sources):
            summary.files_seen += 1
            if ledger.seen(f.uri, f.size, f.mtime_ns):
                summary.skipped += 1
                continue
            yield f

    last_report = 0.0
    init_args = (key, run_id, options.bulk_limit, options.keep_phi_map, tuple(options.private_allow))
    outcomes = _spark_outcomes(pending(), init_args, options.spark_master) if options.engine == "spark" \
        else _outcomes(pending(), workers, init_args)
    for f, o in outcomes:
        summary.bytes += f.size
        sop = o.row["sop_instance_uid"] if o.row else None
        if o.row is not None:
            first = ledger.sops.get(sop) or run_sops.get(sop)
            if first is not None and first != f.uri:
                o.error_class, o.message = "duplicate", f"SOPInstanceUID {sop} already loaded from {first}"
                error_rows.append((run_id, f.uri, "duplicate", o.message, f.size, first, now(), "error"))
                summary.duplicates += 1
                ledger_rows.append((f.uri, f.size, f.mtime_ns, sop, "duplicate", run_id))
            else:
                run_sops[sop] = f.uri
                batch.append(o.row)
                locations.append((sop, f.uri, f.size, run_id))
                summary.loaded += 1
                ledger_rows.append((f.uri, f.size, f.mtime_ns, sop, "loaded", run_id))
                for w in o.warnings:
                    error_rows.append((run_id, f.uri, "invalid_value", w, f.size, None, now(), "warning"))
                    summary.warnings += 1
                if o.phi:
                    phi_rows[o.phi[0]] = o.phi
        else:
            error_rows.append((run_id, f.uri, o.error_class, o.message, f.size, None, now(), "error"))
            summary.errors += 1
            summary.error_classes[o.error_class] = summary.error_classes.get(o.error_class, 0) + 1
            ledger_rows.append((f.uri, f.size, f.mtime_ns, None, o.error_class, run_id))
        if len(batch) >= options.batch_rows:
            writer.stage(batch)
            batch = []
        summary.seconds = time.monotonic() - t0
        if progress and summary.seconds - last_report >= 0.5:
            progress(summary)
            last_report = summary.seconds
    if batch:
        writer.stage(batch)

    log(f"committing {writer.staged_rows} rows")
    result = writer.commit()
    summary.partitions = len(result.partitions)
    if result.partitions:
        metastore.add_partitions(session, table.name, table.location, result.partitions)
    metastore.refresh(session, table.name)

    if locations:
        _write(locations_tbl.location, run_id, LOCATIONS_SCHEMA, locations)
        metastore.refresh(session, locations_tbl.name)
    if error_rows:
        _write(errors_tbl.location, run_id, ERRORS_SCHEMA, error_rows)
        metastore.refresh(session, errors_tbl.name)
    if phi_tbl is not None and phi_rows:
        _write(phi_tbl.location, run_id, PHI_SCHEMA,
               [(k, pid, name, shift, run_id, now()) for k, pid, name, shift in phi_rows.values()])
        metastore.refresh(session, phi_tbl.name)
    summary.seconds = time.monotonic() - t0
    _write(runs_tbl.location, run_id, RUNS_SCHEMA, [(
        run_id, started, now(), ", ".join(sources), summary.files_seen, summary.loaded, summary.skipped,
        summary.duplicates, summary.errors, summary.warnings, summary.bytes, summary.seconds, "succeeded",
        "on" if options.deid else "off", socket.gethostname(), __version__)])
    metastore.refresh(session, runs_tbl.name)
    Ledger(db_location).write(run_id, ledger_rows)
    writer.discard_staging()
    if progress:
        progress(summary)
    return summary


def _write(location: str, run_id: str, schema: pa.Schema, rows: list[tuple]) -> None:
    fs, path = filesystem(location)
    cols = list(zip(*rows))
    table = pa.Table.from_arrays([pa.array(c, type=f.type) for c, f in zip(cols, schema)], schema=schema)
    write_parquet_atomic(fs, join(path, f"{run_id}.parquet"), table)
