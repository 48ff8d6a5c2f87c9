"""`mi-warehouse audit phi`: every file of the core database scanned for the patients' identifiers.

Every file under `<storage root>/<core db>/` is read, hidden and `_`-prefixed folders
(`_ledger`, `_work`, `.tmp-` files) included, and every file name too. Parquet files are read
column by column (string columns value by value, a JSON value such as `header_json` by tag path,
nested columns as JSON; numeric columns only tell which numbers are not MRNs), their key-value
metadata too; ORC files the same way; any other file is read as text. A finding says where (table, file relative to the database, column, tag path) and
what kind of identifier, with a count; never the identifier itself.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Callable, Iterator

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from ..runtime.storage import exists, filesystem, join
from .errors import AuditTargetMissing
from .identifiers import Identifiers, from_phi_database, from_sources
from .matcher import Matcher
from .walk import BINARY, parse_json, strings

FILE_NAME = "(file name)"
TEXT = "(text)"
METADATA = "(parquet metadata)"
UNREADABLE = "unreadable Parquet (not checked)"
_BATCH_ROWS = 2048


@dataclass(frozen=True, order=True)
class Finding:
    table: str  # the first folder under the database (`dicom_metadata`, `_ledger`), or `-`
    file: str  # relative to the database's location
    column: str  # a column, `(text)` for a file that is not Parquet, `(file name)` for the path
    tag: str  # the tag or key path inside a JSON value, else ""
    kind: str  # `PatientID`, `StudyDate`, `phone pattern`, ...
    count: int

    @property
    def where(self) -> str:
        return f"{self.table}.{self.column}" + (f" {self.tag}" if self.tag else "")


def identifiers(settings, sources: list[str] | tuple[str, ...] = (), use_phi_database: bool = True) -> Identifiers:
    """The identifiers to look for: the PHI database's and those of the original headers."""
    ids = Identifiers()
    keys = _keys(settings, ids) if sources else None
    for directory in sources:
        from_sources(ids, directory, keys)
    if use_phi_database:
        from_phi_database(ids, settings.storage_path, settings.phi_database)
    return ids


def _keys(settings, ids: Identifiers):
    """The loader's keyed derivations, to tell which patient a row's patient_key stands for."""
    from ..errors import MiWarehouseError
    from ..loaders.deid import Keys, load_key

    try:
        return Keys(load_key(settings.key_file, create=False))
    except (MiWarehouseError, OSError):
        ids.notes.append("no readable de-identification key: rows whose patient is not in patient_map are "
                         "checked against every patient's original dates")
        return None


def scan(settings, sources: list[str] | tuple[str, ...] = (), use_phi_database: bool = True,
         log: Callable[[str], None] = lambda m: None) -> list[Finding]:
    """Every finding in the core database of `settings` (notes, such as an empty map, go to `log`)."""
    ids = identifiers(settings, sources, use_phi_database)
    for note in ids.notes:
        log(note)
    return scan_location(join(settings.storage_path, settings.database), ids)


def scan_location(uri: str, ids: Identifiers) -> list[Finding]:
    """Every finding in the files under `uri` (a database's location)."""
    fs, base = filesystem(uri)
    if not exists(fs, base):
        raise AuditTargetMissing(f"no core database at {uri}: check [storage] root and [databases] core, "
                                 f"or run `mi-warehouse apply`")
    matcher = Matcher(ids)
    counts: Counter = Counter()
    for info in sorted(fs.get_file_info(pafs.FileSelector(base, recursive=True)), key=lambda i: i.path):
        rel = info.path[len(base.rstrip("/")) + 1:]
        table = rel.split("/", 1)[0] if "/" in rel else "-"
        for kind, n in matcher.kinds(rel).items():
            counts[(table, rel, FILE_NAME, "", kind)] += n
        if info.type != pafs.FileType.File:
            continue
        for column, tag, kind, n in _scan_file(fs, info.path, matcher):
            counts[(table, rel, column, tag, kind)] += n
    return sorted(Finding(*key, n) for key, n in counts.items())


def _scan_file(fs: pafs.FileSystem, path: str, matcher: Matcher) -> Iterator[tuple[str, str, str, int]]:
    with fs.open_input_file(path) as f:
        data = f.read()
    reader = _COLUMNAR.get(data[:4]) or _COLUMNAR.get(data[:3])
    if reader is not None:
        try:
            yield from reader(pa.BufferReader(data), matcher)
            return
        except (OSError, pa.ArrowException):
            yield TEXT, "", UNREADABLE, 1
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    for kind, n in matcher.kinds(text).items():
        yield TEXT, "", kind, n


def _scan_parquet(source, matcher: Matcher) -> Iterator[tuple[str, str, str, int]]:
    pf = pq.ParquetFile(source)
    yield from _metadata_kinds(pf.metadata.metadata, "", matcher)  # the writers' key-value metadata
    for field in pf.schema_arrow:
        yield from _metadata_kinds(field.metadata, field.name, matcher)
    yield from _scan_batches(pf.iter_batches(batch_size=_BATCH_ROWS), matcher)


def _metadata_kinds(metadata, where: str, matcher: Matcher) -> Iterator[tuple[str, str, str, int]]:
    for key, value in (metadata or {}).items():
        if key == b"ARROW:schema":  # the columns' schema, base64; its fields' metadata is read apart
            continue
        text = f"{key.decode('utf-8', 'replace')} {value.decode('utf-8', 'replace')}"
        for kind, n in matcher.kinds(text).items():
            yield METADATA, where, kind, n


def _scan_orc(source, matcher: Matcher) -> Iterator[tuple[str, str, str, int]]:
    from pyarrow import orc

    yield from _scan_batches(orc.ORCFile(source).read().to_batches(_BATCH_ROWS), matcher)


def _scan_batches(batches, matcher: Matcher) -> Iterator[tuple[str, str, str, int]]:
    counts: Counter = Counter()
    for batch in batches:
        keys = _patient_keys(batch)
        numbers = frozenset(str(v) for col in batch.columns if _is_number(col.type)
                            for v in col.to_pylist() if v is not None)
        for name, col in zip(batch.schema.names, batch.columns):
            if _is_number(col.type) or pa.types.is_boolean(col.type) or pa.types.is_null(col.type):
                continue
            for i, value in enumerate(col.to_pylist()):
                if value is None:
                    continue
                for tag, kind, n in _value_kinds(value, matcher, keys[i], numbers):
                    counts[(name, tag, kind)] += n
    for (column, tag, kind), n in counts.items():
        yield column, tag, kind, n


_COLUMNAR = {b"PAR1": _scan_parquet, b"ORC": _scan_orc}


def _value_kinds(value, matcher: Matcher, key, numbers) -> Iterator[tuple[str, str, int]]:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    tree = parse_json(value) if isinstance(value, str) else value
    if tree is None or isinstance(tree, (str, int, float)):
        text = value if isinstance(value, str) else str(value)
        for kind, n in matcher.kinds(text, None, key, numbers).items():
            yield "", kind, n
        return
    for path, vr, text in strings(_plain(tree)):
        found = matcher.binary(text, key) if vr == BINARY else matcher.kinds(text, vr, key, numbers)
        for kind, n in found.items():
            yield path, kind, n


def _plain(value):
    """Nested Parquet values (lists, structs, maps, dates) as JSON-like Python values."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        if value and all(isinstance(v, tuple) and len(v) == 2 for v in value):  # a map
            return {str(k): _plain(v) for k, v in value}
        return [_plain(v) for v in value]
    return value if isinstance(value, str) or value is None else str(value)


def _patient_keys(batch: pa.RecordBatch) -> list:
    if "patient_key" in batch.schema.names:
        return batch.column("patient_key").to_pylist()
    return [None] * batch.num_rows


def _is_number(t: pa.DataType) -> bool:
    return pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)
