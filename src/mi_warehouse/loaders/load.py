"""`mi-warehouse load`: every file found ends up in `mi.dicom_metadata` or in `mi.load_errors`.

The run, in order: take the load lock; read the ledger; walk the sources, skipping files the
ledger has seen unchanged; extract headers in this process and a pool of worker processes
(extract_pool.py: each chunk of files comes back as outcomes and one Arrow table of rows), staged
in bounded batches, spilled to local disk; commit the bucket files; register partitions through
HiveServer2; write the error rows, the PHI map (if asked) and the run row; write the ledger last.
A run killed at any point leaves no partial file visible, and running it again completes it.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import socket
import time
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
from .extract_pool import WORK_CHUNK, WorkerArgs, chunks, local_chunks, spark_chunks
from .key_check import KeyMismatch, check_key_history, key_fingerprint
from .ledger import Ledger
from .sources import SourceFile, iter_files
from .writer import BucketedWriter, merge_staged


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

# --- the run -------------------------------------------------------------------------------
def run_load(session: Session, settings: Settings, sources: list[str], options: LoadOptions | None = None,
             progress: Progress | None = None, log: Callable[[str], None] = lambda m: None) -> LoadSummary:
    options = options or LoadOptions()
    policy = options.policy or DeidPolicy.from_settings(settings, options.private_allow)
    specs = [tables.DICOM_METADATA, tables.LOAD_ERRORS, tables.LOAD_RUNS, tables.IMAGE_LOCATIONS, tables.FILE_REFS]
    if options.keep_phi_map:
        specs.append(tables.PATIENT_MAP)
    found = metastore.describe_all(session, [spec.qualified(settings) for spec in specs],
                                   properties=[tables.DICOM_METADATA.qualified(settings)])  # its bucketing
    t = {spec.name: found[spec.qualified(settings)] for spec in specs}

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
        for chunk in chunks(iter_files(sources), WALK_CHUNK):
            summary.files_seen += len(chunk)
            new = ledger.unseen(chunk)
            summary.skipped += len(chunk) - len(new)
            yield from new

    last_report = 0.0
    args = WorkerArgs(str(Path(settings.key_file).expanduser()) if key is not None else None, run_id,
                      options.bulk_limit, options.keep_phi_map, deid.policy if deid else None,
                      settings.missing_patient_id, settings.strictness, writer.buckets, writer.version)
    extracted = spark_chunks(pending(), args, options.spark_master) if options.engine == "spark" \
        else local_chunks(pending(), workers, args, str(staging_root))
    batch: list = []  # Staged rows of chunks, staged together once they pass batch_rows
    batch_rows = 0

    def account(f: SourceFile, o, first_loaded: str | None) -> bool:
        """The file's ledger entry, error and warning rows; True if its row is to be staged."""
        summary.bytes += f.size
        if o.error_class is not None:
            error_row(f, o.error_class, o.message)
            summary.errors += 1
            summary.error_classes[o.error_class] = summary.error_classes.get(o.error_class, 0) + 1
            ledger_rows.append((f.uri, f.size, f.mtime_ns, None, o.error_class, run_id))
            return False
        sop = o.sop
        first = first_loaded or run_sops.get(sop)
        if first is not None and first != f.uri:
            error_row(f, "duplicate", f"SOPInstanceUID {sop} already loaded from {ref(first)}", first=first)
            summary.duplicates += 1
            ledger_rows.append((f.uri, f.size, f.mtime_ns, sop, "duplicate", run_id))
            return False
        run_sops[sop] = f.uri
        locations.append((sop, f.uri, f.size, run_id))
        summary.loaded += 1
        ledger_rows.append((f.uri, f.size, f.mtime_ns, sop, "loaded", run_id))
        for w in o.warnings:  # a message (invalid_value), or (class, message)
            error_row(f, *(w if isinstance(w, tuple) else ("invalid_value", w)), severity="warning")
            summary.warnings += 1
        if o.phi:
            phi_rows[o.phi[0]] = o.phi
        return True

    def stage_batch() -> None:
        nonlocal batch, batch_rows
        if batch:
            writer.stage_table(batch[0] if len(batch) == 1 else merge_staged(batch))
        batch, batch_rows = [], 0

    for group in chunks(extracted, SOP_BATCH // WORK_CHUNK or 1):  # earlier SOPInstanceUIDs: a batch at a time
        firsts = ledger.first_paths(o.sop for _, x in group for o in x.outcomes if o.error_class is None)
        for files, x in group:
            row, drop = 0, []
            for f, o in zip(files, x.outcomes):
                kept = account(f, o, firsts.get(o.sop))
                if o.error_class is None:  # a file with a row in the chunk's table
                    if not kept:
                        drop.append(row)
                    row += 1
            if x.staged is not None:
                staged = x.staged.without(drop) if drop else x.staged
                batch.append(staged)
                batch_rows += staged.table.num_rows
                if batch_rows >= options.batch_rows:
                    stage_batch()
        summary.seconds = time.monotonic() - t0
        if progress and summary.seconds - last_report >= 0.5:
            progress(summary)
            last_report = summary.seconds
    stage_batch()

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


def _database_location(table: metastore.TableInfo) -> str:
    return table.location.rsplit("/", 1)[0]


def _append(session: Session, table: metastore.TableInfo, spec: tables.TableSpec, rows: list, run_id: str) -> None:
    """One Parquet file per run and table (named after the run: a re-run replaces, never doubles)."""
    table_rows.append_to(session, table, spec, rows, f"{run_id}.parquet")
