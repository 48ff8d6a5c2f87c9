"""Machinery every feature shares, and that depends on no feature package.

| module | what it does |
| --- | --- |
| `storage` | files on the warehouse's storage (local, HDFS, S3), written crash-safely |
| `locks` | advisory file locks with one path rule and per-command timeouts |
| `runs` | run ids |
| `tables` | one spec per table: DDL columns, Arrow schema, row encoding, the one row writer |
| `lineage` | OpenLineage run events; a failing endpoint is a warning, never a failed run |

Loaders, inference, migrations and dbt_like import from here, never from one another.
"""
