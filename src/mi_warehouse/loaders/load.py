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
import warnings
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

from .. import __version__
from ..config import Settings
from ..engine import metastore
from ..engine.connection import Session
from ..runtime import rows as table_rows
from ..runtime import tables
from ..runtime.lineage import Emitter
from ..runtime.locks import command_lock
from ..runtime.runs import new_run_id
from .deid import DeidPolicy, Deidentifier, load_key
from .compact import recover_partitions
from .extract import Outcome, extract
from .key_check import KeyMismatch, check_key_history, key_fingerprint
from .ledger import Ledger
from .sources import SourceFile, iter_files, open_source
from .writer import BucketedWriter


@dataclass
class LoadOptions:
    workers: int = 0  # processes extracting headers, this one included; 0: all cores
    batch_rows: int = 1000
    deid: bool = True
    keep_phi_map: bool = False
    bulk_limit: int = 1024
    lock_timeout: float = 3600.0
    private_allow: tuple[str, ...] = ()  # private tags (8 hex digits) kept in header_json
    policy: DeidPolicy | None = None  # None: the settings' [deid] options and safe_private list
    engine: str = "local"  # local: a process pool here; spark: extraction as a Spark job
    spark_master: str | None = None  # e.g. local[4], yarn; None: what spark-submit set, else local[*]


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
    lineage_warnings: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return (self.files_seen - self.skipped) / self.seconds if self.seconds else 0.0


Progress = Callable[[LoadSummary], None]

# --- worker side -------------------------------------------------------------------------
_W: dict = {}


def _init_worker(key_file: str | None, run_id: str, bulk_limit: int, keep_phi: bool,
                 policy: DeidPolicy | None = None, missing_patient_id: str = "reject",
                 strictness: str = "default") -> None:
    """Set up a worker. The key reaches it as the path of its 0600 key file (on Spark executors, the
    copy Spark shipped with `addFile`), never as bytes inside pickled arguments or closures."""
    warnings.simplefilter("ignore")  # pydicom's own warnings: our outcome carries what matters
    import logging

    logging.getLogger("pydicom").setLevel(logging.ERROR)
    key = load_key(_local_key_file(key_file), create=False) if key_file else None
    _W.update(deid=Deidentifier(key, policy) if key is not None else None, run_id=run_id,
              bulk_limit=bulk_limit, keep_phi=keep_phi, missing_patient_id=missing_patient_id,
              strictness=strictness)


def _work(f: SourceFile) -> Outcome:
    try:
        with open_source(f.uri) as fp:
            return extract(f.uri, fp, f.size, _W["deid"], _W["run_id"], _W["bulk_limit"], _W["keep_phi"],
                           _W["missing_patient_id"], _W["strictness"])
    except OSError as e:
        return Outcome(f.uri, f.size, error_class="unreadable", message=f"{type(e).__name__}: {e}")


def _local_key_file(key_file: str) -> str:
    """The key file on this host: as given, or the copy Spark shipped to this executor."""
    if os.path.exists(key_file):
        return key_file
    try:
        from pyspark import SparkFiles

        shipped = SparkFiles.get(os.path.basename(key_file))
    except Exception:  # not inside a Spark executor
        return key_file
    try:
        os.chmod(shipped, 0o600)
    except OSError:
        pass
    return shipped


def _outcomes(files: Iterable[SourceFile], workers: int, init_args: tuple) -> Iterator[tuple[SourceFile, Outcome]]:
    """(file, outcome) in walk order, extracted by `workers` processes: this one and workers - 1 in
    a pool.

    Chunks of files go out to the pool and their outcomes come back one pickle per chunk; a bounded
    number in flight keeps memory flat however many files there are. This process does its own
    work (walk, ledger lookups, accounting, staging) and, whenever the pool has all the chunks it
    may hold and the oldest is not back yet, extracts the next chunk itself instead of waiting: on
    N cores the run keeps N processes busy, not N workers plus a parent competing for the cores.
    Outcomes are handed on in walk order (the ledger, duplicates and error rows follow the walk).
    """
    _init_worker(*init_args)
    if workers <= 1:
        for f in files:
            yield f, _work(f)
        return
    ctx = mp.get_context("spawn")
    with ctx.Pool(workers - 1, initializer=_init_worker, initargs=init_args) as pool:
        queue: deque = deque()  # (chunk, AsyncResult of the pool, or the outcomes extracted here)
        remote = 0
        limit = IN_FLIGHT_PER_WORKER * (workers - 1)

        def head_ready() -> bool:
            result = queue[0][1]
            return isinstance(result, list) or result.ready()

        def pop() -> Iterator[tuple[SourceFile, Outcome]]:
            nonlocal remote
            done, result = queue.popleft()
            if not isinstance(result, list):
                remote -= 1
                result = result.get()
            return zip(done, result)

        for chunk in _chunks(files, WORK_CHUNK):
            while queue and head_ready():
                yield from pop()
            if remote < limit:
                queue.append((chunk, pool.apply_async(_work_chunk, (chunk,))))
            elif len(queue) < 2 * limit + 2:
                queue.append((chunk, _work_chunk(chunk)))  # the pool is full: extract here
                continue
            else:  # many chunks extracted here wait on a slow one of the pool: wait for it
                yield from pop()
                queue.append((chunk, pool.apply_async(_work_chunk, (chunk,))))
            remote += 1
        while queue:
            yield from pop()


WORK_CHUNK = 32  # files a worker extracts per task (one pickle of outcomes back)
IN_FLIGHT_PER_WORKER = 16  # chunks queued per pool process: enough work to last while this one accounts a batch


def _work_chunk(files: list[SourceFile]) -> list[Outcome]:
    return [_work(f) for f in files]


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
        if init_args[0]:  # the key file travels as a file Spark ships, not inside the closure
            sc.addFile(init_args[0])
        slices = max(sc.defaultParallelism, min(len(todo) // 256, 10_000))
        def extract_partition(it):
            _init_worker(*init_args)
            for f in it:
                yield f, _work(f)

        yield from sc.parallelize(todo, slices).mapPartitions(extract_partition).toLocalIterator()
    finally:
        spark.stop()


# --- the run -------------------------------------------------------------------------------
def run_load(session: Session, settings: Settings, sources: list[str], options: LoadOptions | None = None,
             progress: Progress | None = None, log: Callable[[str], None] = lambda m: None) -> LoadSummary:
    options = options or LoadOptions()
    policy = options.policy or DeidPolicy.from_settings(settings, options.private_allow)
    t = {spec.name: metastore.describe(session, spec.qualified(settings)) for spec in (
        tables.DICOM_METADATA, tables.LOAD_ERRORS, tables.LOAD_RUNS, tables.IMAGE_LOCATIONS, tables.FILE_REFS)}
    if options.keep_phi_map:
        t["patient_map"] = metastore.describe(session, tables.PATIENT_MAP.qualified(settings))

    lock = command_lock(settings, "load", "load")
    lock.acquire(options.lock_timeout, on_wait=lambda h: log(f"waiting for another load to finish ({h})"))
    try:
        key = _checked_key(session, settings, options)
        run_id = new_run_id()
        deid = Deidentifier(key, policy) if key is not None else None
        inputs = [source_dataset(src, deid) for src in sources]
        with Emitter(settings).run("load", run_id, inputs, [i.name for i in t.values()]) as lineage:
            summary = _run(session, settings, sources, options, progress, log, t, run_id, key, deid)
            summary.lineage_warnings = lineage.warnings
            return summary
    finally:
        lock.release()


def _checked_key(session: Session, settings: Settings, options: LoadOptions) -> bytes | None:
    """The key this run uses, after checking that every earlier run of the database used it too.

    A missing key file is created only for a database that no de-identified run has written: for
    any other, a new key would give every returning patient a second pseudonym.
    """
    history = table_rows.select(session, tables.LOAD_RUNS, tables.LOAD_RUNS.qualified(settings),
                                "status = 'succeeded'")
    earlier = {(r["deid"], r["key_fingerprint"]) for r in history}
    key = None
    if options.deid:
        create = not any(d == "on" for d, _ in earlier)
        if not create and not Path(settings.key_file).expanduser().exists():
            raise KeyMismatch(
                f"the de-identification key file {settings.key_file} is missing, but earlier loads into "
                f"{settings.database} used a key: restore that file (or set MIW_KEY_FILE to it), or load into "
                "a new database (MIW_DATABASE, MIW_PHI_DATABASE)")
        key = load_key(settings.key_file, create=create)
    check_key_history(settings, earlier, options.deid, key_fingerprint(key) if key is not None else None)
    return key


def file_ref(uri: str, deid: Deidentifier | None) -> str:
    """How the core database names a file or source: its URI, or when de-identifying a path-free
    reference (`mi-file:<keyed hash>`), resolved through <phi_db>.file_refs. Paths often hold
    PatientIDs and dates (/<PatientID>/<StudyDate>/...)."""
    if deid is None:
        return uri
    return "mi-file:" + deid.pseudonym("path", uri)[:24]


def source_dataset(src: str, deid: Deidentifier | None = None) -> tuple[str, str]:
    """An OpenLineage (namespace, name) for a load source: file://host or the URI's scheme and
    authority; when de-identifying, the source's path-free reference."""
    from urllib.parse import urlparse

    if deid is not None:
        return "mi-warehouse:file-refs", file_ref(src, deid)
    u = urlparse(src)
    if u.scheme in ("", "file"):
        return f"file://{socket.gethostname()}", os.path.abspath(u.path if u.scheme else src)
    return f"{u.scheme}://{u.netloc}", u.path


def _run(session, settings, sources, options, progress, log, t, run_id, key, deid) -> LoadSummary:
    started = dt.datetime.now()
    t0 = time.monotonic()
    summary = LoadSummary(run_id)
    table = t["dicom_metadata"]
    # Left by killed runs of this database (we hold its load lock); loads of other databases
    # from the same MIW_HOME run meanwhile, each in its own folder.
    staging_root = settings.home / "staging" / settings.database
    shutil.rmtree(staging_root, ignore_errors=True)
    writer = BucketedWriter(table.location, staging_root / run_id, max(table.buckets, 1),
                            table.bucketing_version)
    # The ledger holds paths: it lives with the PHI database, never in the core one.
    ledger = Ledger(_database_location(t["image_locations"]), legacy=_database_location(table)).load()
    workers = options.workers or os.cpu_count() or 1

    error_rows: list[dict] = []
    ledger_rows: list[tuple] = []
    phi_rows: dict[str, tuple] = {}
    locations: list[tuple] = []
    refs: dict[str, tuple] = {}  # path-free reference -> (ref, uri, kind, run_id, recorded_at)
    run_sops: dict[str, str] = {}
    batch: list[dict] = []
    now = dt.datetime.now

    def ref(uri: str, kind: str = "file") -> str:
        r = file_ref(uri, deid)
        if deid is not None and r not in refs:
            refs[r] = (r, uri, kind, run_id, now())
        return r

    def error_row(f: SourceFile, error_class: str, message: str, severity: str = "error",
                  first: str | None = None) -> None:
        error_rows.append({"run_id": run_id, "path": ref(f.uri), "error_class": error_class, "message": message,
                           "file_size": f.size, "first_path": ref(first) if first else None,
                           "recorded_at": now(), "severity": severity})

    def pending() -> Iterator[SourceFile]:
        """The files walked that the ledger has not seen unchanged, asked a chunk at a time."""
        for chunk in _chunks(iter_files(sources), WALK_CHUNK):
            summary.files_seen += len(chunk)
            new = ledger.unseen(chunk)
            summary.skipped += len(chunk) - len(new)
            yield from new

    last_report = 0.0
    key_file = str(Path(settings.key_file).expanduser()) if key is not None else None
    init_args = (key_file, run_id, options.bulk_limit, options.keep_phi_map, deid.policy if deid else None,
                 settings.missing_patient_id, settings.strictness)
    outcomes = _spark_outcomes(pending(), init_args, options.spark_master) if options.engine == "spark" \
        else _outcomes(pending(), workers, init_args)
    def account(f: SourceFile, o, first_loaded: str | None) -> None:
        nonlocal batch
        summary.bytes += f.size
        if o.row is not None:
            sop = o.row["sop_instance_uid"]
            first = first_loaded or run_sops.get(sop)
            if first is not None and first != f.uri:
                error_row(f, "duplicate", f"SOPInstanceUID {sop} already loaded from {ref(first)}", first=first)
                summary.duplicates += 1
                ledger_rows.append((f.uri, f.size, f.mtime_ns, sop, "duplicate", run_id))
            else:
                run_sops[sop] = f.uri
                batch.append(o.row)
                locations.append((sop, f.uri, f.size, run_id))
                summary.loaded += 1
                ledger_rows.append((f.uri, f.size, f.mtime_ns, sop, "loaded", run_id))
                for w in o.warnings:  # a message (invalid_value), or (class, message)
                    error_row(f, *(w if isinstance(w, tuple) else ("invalid_value", w)), severity="warning")
                    summary.warnings += 1
                if o.phi:
                    phi_rows[o.phi[0]] = o.phi
        else:
            error_row(f, o.error_class, o.message)
            summary.errors += 1
            summary.error_classes[o.error_class] = summary.error_classes.get(o.error_class, 0) + 1
            ledger_rows.append((f.uri, f.size, f.mtime_ns, None, o.error_class, run_id))
        if len(batch) >= options.batch_rows:
            writer.stage(batch)
            batch = []

    for group in _chunks(outcomes, SOP_BATCH):  # SOPInstanceUIDs loaded before: asked a batch at a time
        firsts = ledger.first_paths(o.row["sop_instance_uid"] for _, o in group if o.row is not None)
        for f, o in group:
            account(f, o, firsts.get(o.row["sop_instance_uid"]) if o.row is not None else None)
        summary.seconds = time.monotonic() - t0
        if progress and summary.seconds - last_report >= 0.5:
            progress(summary)
            last_report = summary.seconds
    if batch:
        writer.stage(batch)

    log(f"committing {writer.staged_rows} rows")
    recover_partitions(session, table, writer.touched_partitions())  # a compaction killed midway
    suspect = ledger.pending_buckets()  # buckets a killed run may have written: check those only
    ledger.mark_pending(run_id, writer.touched())
    result = writer.commit(check_buckets=suspect)
    summary.partitions = len(result.partitions)
    if result.partitions:
        metastore.add_partitions(session, table.name, table.location, result.partitions)
    metastore.refresh(session, table.name)

    source_refs = [ref(src, "source") for src in sources]
    _append(session, t["image_locations"], tables.IMAGE_LOCATIONS, locations, run_id)
    _append(session, t["load_errors"], tables.LOAD_ERRORS, error_rows, run_id)
    _append(session, t["file_refs"], tables.FILE_REFS, list(refs.values()), run_id)
    if "patient_map" in t:
        _append(session, t["patient_map"], tables.PATIENT_MAP,
                [(k, pid, name, shift, run_id, now()) for k, pid, name, shift in phi_rows.values()], run_id)
    summary.seconds = time.monotonic() - t0
    _append(session, t["load_runs"], tables.LOAD_RUNS, [{
        "run_id": run_id, "started_at": started, "finished_at": now(), "sources": ", ".join(source_refs),
        "files_seen": summary.files_seen, "files_loaded": summary.loaded, "files_skipped": summary.skipped,
        "duplicates": summary.duplicates, "errors": summary.errors, "warnings": summary.warnings,
        "bytes": summary.bytes, "seconds": summary.seconds, "status": "succeeded",
        "deid": "on" if options.deid else "off", "host": socket.gethostname(), "loader_version": __version__,
        "key_fingerprint": key_fingerprint(key) if key is not None else None,
        "deid_method": deid.policy.summary() if deid is not None else None,
    }], run_id)
    ledger.write(run_id, ledger_rows)
    ledger.clear_pending(run_id)
    writer.discard_staging()
    if progress:
        progress(summary)
    return summary


WALK_CHUNK = 8192  # files walked per ledger lookup
SOP_BATCH = 512  # extracted files per SOPInstanceUID lookup (also how often progress can print)


def _chunks(items: Iterable, size: int) -> Iterator[list]:
    chunk: list = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _database_location(table: metastore.TableInfo) -> str:
    return table.location.rsplit("/", 1)[0]


def _append(session: Session, table: metastore.TableInfo, spec: tables.TableSpec, rows: list, run_id: str) -> None:
    """One Parquet file per run and table (named after the run: a re-run replaces, never doubles)."""
    table_rows.append_to(session, table, spec, rows, f"{run_id}.parquet")
