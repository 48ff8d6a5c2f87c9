"""Throw-away databases for the benchmarks: created fresh, dropped with their files after."""

from __future__ import annotations

import shutil


def drop(session, settings) -> None:
    """Drop the core and PHI databases of `settings`, and their files under a local storage root."""
    for db in (settings.database, settings.phi_database):
        session.execute(f"DROP DATABASE IF EXISTS {db} CASCADE")
        if settings.local_storage_dir is not None:
            shutil.rmtree(settings.local_storage_dir / db, ignore_errors=True)


def fresh(session, settings) -> None:
    """Drop whatever an earlier run left, then apply the migrations."""
    from mi_warehouse.migrations.runner import Migrator

    drop(session, settings)
    Migrator(session, settings).apply()
