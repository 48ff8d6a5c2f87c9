"""The worker side of `load`: files in, chunks of outcomes out, their rows already as Arrow.

A chunk of WORK_CHUNK files is extracted (headers, conversion, de-identification, header_json),
and its rows are turned into one Arrow table in the staging schema, bucket ids included, in the
process that extracted them: the process that runs the load (walk, ledger, accounting, commit)
receives one table per chunk (from a pool process, as an Arrow file in a spool folder that it
memory-maps; `spool_chunk`), instead of a dict per file.
The loaded outcomes keep their SOPInstanceUID (`Outcome.sop`), warnings and PHI map entry; their
row is in the table, in outcome order.

`local_chunks` runs the chunks in this process and a pool of processes; `spark_chunks` as a Spark
job over the executors. Both hand on (files, Extracted) in walk order.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import shutil
import sys
import tempfile
import warnings
from collections import deque
from dataclasses import dataclass
from typing import Iterable, Iterator

import pyarrow as pa

from .deid import DeidPolicy, Deidentifier, load_key
from .extract import Outcome, extract
from .sources import SourceFile, open_source
from .writer import Staged, stage_rows

WORK_CHUNK = 32  # files a worker extracts per task (one pickle of outcomes and one Arrow table back)
# Chunks queued per pool process: enough to last while this process extracts a chunk or accounts a
# batch, few enough that at the end of the walk the pool's last chunks are done soon (with 16, this
# process waited 0.3-0.4 s of a 12,000-file run for the 16 chunks the one pool process still had).
IN_FLIGHT_PER_WORKER = 4
# Chunks this process may have extracted and hold behind the oldest chunk of the pool (handed on in
# walk order): past that it waits for the pool instead of running further ahead (memory: a chunk's
# outcomes and table, about 130 KB for 32 CT headers). With twice the in-flight count it waited
# 0.3-0.5 s a run, idle, whenever it had outpaced the pool.
AHEAD = 64


@dataclass
class WorkerArgs:
    """What a worker needs, picklable: the key travels as the path of its 0600 key file (on Spark
    executors, the copy Spark shipped with `addFile`), never as bytes inside pickled arguments."""
    key_file: str | None
    run_id: str
    bulk_limit: int = 1024
    keep_phi: bool = False
    policy: DeidPolicy | None = None
    missing_patient_id: str = "reject"
    strictness: str = "default"
    buckets: int = 1
    bucketing_version: int = 2


@dataclass
class Extracted:
    """One chunk: an outcome per file (a loaded file's row moved into `staged`, in outcome order).
    From a pool process, the rows come as `spooled` instead: an Arrow file and the pairs it touches."""
    outcomes: list[Outcome]
    staged: Staged | None
    spooled: tuple[str, set] | None = None

    def unspooled(self) -> Extracted:
        """The rows read back from the spool file (memory-mapped; the file is removed at once)."""
        if self.spooled is not None:
            path, touched = self.spooled
            table = pa.ipc.open_file(pa.memory_map(path)).read_all()  # the map lives as long as its buffers
            os.unlink(path)
            self.staged, self.spooled = Staged(table, touched), None
        return self


_W: dict = {}


def init_worker(args: WorkerArgs) -> None:
    warnings.simplefilter("ignore")  # pydicom's own warnings: our outcome carries what matters
    import logging

    logging.getLogger("pydicom").setLevel(logging.ERROR)
    key = load_key(_local_key_file(args.key_file), create=False) if args.key_file else None
    _W.update(deid=Deidentifier(key, args.policy) if key is not None else None, args=args, buckets={})


def work(f: SourceFile) -> Outcome:
    a: WorkerArgs = _W["args"]
    try:
        with open_source(f.uri) as fp:
            return extract(f.uri, fp, f.size, _W["deid"], a.run_id, a.bulk_limit, a.keep_phi,
                           a.missing_patient_id, a.strictness)
    except OSError as e:
        return Outcome(f.uri, f.size, error_class="unreadable", message=f"{type(e).__name__}: {e}")


def work_chunk(files: list[SourceFile]) -> Extracted:
    a: WorkerArgs = _W["args"]
    outcomes = [work(f) for f in files]
    rows = []
    for o in outcomes:
        if o.row is not None:
            o.sop = o.row["sop_instance_uid"]
            rows.append(o.row)
            o.row = None
    staged = stage_rows(rows, a.buckets, a.bucketing_version, _W["buckets"]) if rows else None
    return Extracted(outcomes, staged)


def spool_chunk(files: list[SourceFile], spool: str) -> Extracted:
    """`work_chunk` in a pool process, its rows written to an Arrow file under `spool`.

    A chunk's rows are about 150 KB for 32 CT headers: sent back through the pool's pipe (64 KB) they
    take several writes, each waiting for the receiving thread of the load's process, which waits
    for its GIL behind the extraction that process runs itself (5 ms a switch): the pool process sat
    idle about 5 ms a chunk. A file in the page cache costs a copy, and the pipe carries the outcomes.
    """
    done = work_chunk(files)
    if done.staged is not None:
        _W["spooled"] = n = _W.get("spooled", 0) + 1
        path = os.path.join(spool, f"{os.getpid()}-{n}.arrow")
        with pa.OSFile(path, "wb") as sink, pa.ipc.new_file(sink, done.staged.table.schema) as out:
            out.write_table(done.staged.table)
        done.spooled, done.staged = (path, done.staged.touched), None
    return done


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


def chunks(items: Iterable, size: int) -> Iterator[list]:
    chunk: list = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def local_chunks(files: Iterable[SourceFile], workers: int, args: WorkerArgs, spool_root: str | None = None
                 ) -> Iterator[tuple[list[SourceFile], Extracted]]:
    """(files, Extracted) in walk order, extracted by `workers` processes: this one and workers - 1
    in a pool.

    Chunks go out to the pool and come back one pickle per chunk; a bounded number in flight keeps
    memory flat however many files there are. This process does its own work (walk, ledger
    lookups, accounting, staging) and, whenever the pool has all the chunks it may hold and the
    oldest is not back yet, extracts the next chunk itself instead of waiting: on N cores the run
    keeps N processes busy, not N workers plus a parent competing for the cores. Chunks are handed
    on in walk order (the ledger, duplicates and error rows follow the walk). The pool's rows come
    back through files in a spool directory under `spool_root` (the load's staging folder, which
    the next run clears if this one is killed; None: the system's temporary folder).
    """
    init_worker(args)
    if workers <= 1:
        for chunk in chunks(files, WORK_CHUNK):
            yield chunk, work_chunk(chunk)
        return
    if spool_root is not None:
        os.makedirs(spool_root, exist_ok=True)
    spool = tempfile.mkdtemp(prefix="miw-spool-", dir=spool_root)  # rows of the pool's chunks (`spool_chunk`)
    try:
        yield from _pooled(files, workers, args, spool)
    finally:
        shutil.rmtree(spool, ignore_errors=True)


def _pooled(files: Iterable[SourceFile], workers: int, args: WorkerArgs, spool: str
            ) -> Iterator[tuple[list[SourceFile], Extracted]]:
    with mp.get_context("spawn").Pool(workers - 1, initializer=init_worker, initargs=(args,)) as pool:
        queue: deque = deque()  # (chunk, AsyncResult of the pool, or the Extracted of this process)
        remote = 0
        limit = IN_FLIGHT_PER_WORKER * (workers - 1)

        def head_ready() -> bool:
            result = queue[0][1]
            return isinstance(result, Extracted) or result.ready()

        def pop() -> tuple[list[SourceFile], Extracted]:
            nonlocal remote
            done, result = queue.popleft()
            if not isinstance(result, Extracted):
                remote -= 1
                result = result.get().unspooled()
            return done, result

        for chunk in chunks(files, WORK_CHUNK):
            while queue and head_ready():
                yield pop()
            if remote < limit:
                queue.append((chunk, pool.apply_async(spool_chunk, (chunk, spool))))
            elif len(queue) < limit + AHEAD:
                queue.append((chunk, work_chunk(chunk)))  # the pool is full: extract here
                continue
            else:  # many chunks extracted here wait on a slow one of the pool: wait for it
                yield pop()
                queue.append((chunk, pool.apply_async(spool_chunk, (chunk, spool))))
            remote += 1
        while queue:
            yield pop()


def spark_chunks(files: Iterable[SourceFile], args: WorkerArgs, master: str | None
                 ) -> Iterator[tuple[list[SourceFile], Extracted]]:
    """Extraction as a Spark job: files spread over the executors, chunks streamed back to the
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
        if args.key_file:  # the key file travels as a file Spark ships, not inside the closure
            sc.addFile(args.key_file)
        slices = max(sc.defaultParallelism, min(len(todo) // 256, 10_000))

        def extract_partition(it):
            init_worker(args)
            for chunk in chunks(it, WORK_CHUNK):
                yield chunk, work_chunk(chunk)

        yield from sc.parallelize(todo, slices).mapPartitions(extract_partition).toLocalIterator()
    finally:
        spark.stop()
