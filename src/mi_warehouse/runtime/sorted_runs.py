"""A table cut into runs of equal keys, each sorted: the writer's buckets, the ledger's shards."""

from __future__ import annotations

from typing import Iterator

import pyarrow as pa
import pyarrow.compute as pc


def sorted_runs(table: pa.Table, by: list[str], then: list[str]) -> Iterator[tuple[tuple, pa.Table]]:
    """(values of `by`, rows) for each run of equal `by` values, in ascending order of `by` then
    `then`. One sort, one take of the whole table, then each run is a zero-copy slice: a take or a
    filter per run would pass over the whole table each time (Arrow also concatenates a chunked
    column before each take)."""
    names = by + then
    order = pc.sort_indices(table.select(names), sort_keys=[(n, "ascending") for n in names])
    ordered = table.take(order)
    del table
    keys = list(zip(*(ordered[n].to_pylist() for n in by)))
    start = 0
    for i in range(1, len(keys) + 1):
        if i == len(keys) or keys[i] != keys[start]:
            yield keys[start], ordered.slice(start, i - start)
            start = i
