"""Entry point for `spark-submit`: `mi-warehouse load --engine spark` on a cluster.

    spark-submit --master yarn --deploy-mode client \\
        $(python -c 'import mi_warehouse.loaders.spark_submit as m; print(m.__file__)') \\
        hdfs://nameservice1/dicom/raw --keep-phi-map

Arguments: the sources, then `--keep-phi-map`, `--deid on|off`, `--bulk-limit N`, `--private-allow
GGGGEEEE` (repeatable), as for `mi-warehouse load`; the master comes from spark-submit. The key
file ([deid] key_file / MIW_KEY_FILE, on the driver) is shipped to the executors by Spark as a
file, never inside a closure. The executors need Python with mi-warehouse installed (a shared
environment or `--archives`); the driver needs HiveServer2 (MIW_HIVE_URL) to register
partitions, as the local loader does. This calls the loader library directly, not the CLI.
"""

from __future__ import annotations

import argparse
import sys


def parse(argv: list[str]):
    from mi_warehouse.loaders.load import LoadOptions
    from mi_warehouse.loaders.private_tags import private_tags

    ap = argparse.ArgumentParser(prog="spark_submit.py", description="mi-warehouse load as a Spark job")
    ap.add_argument("sources", nargs="+")
    ap.add_argument("--keep-phi-map", action="store_true")
    ap.add_argument("--deid", choices=["on", "off"], default="on")
    ap.add_argument("--bulk-limit", type=int, default=1024)
    ap.add_argument("--private-allow", action="append", default=[])
    a = ap.parse_args(argv)
    return a.sources, LoadOptions(deid=a.deid == "on", keep_phi_map=a.keep_phi_map, bulk_limit=a.bulk_limit,
                                  private_allow=private_tags(a.private_allow), engine="spark")


def main(argv: list[str] | None = None) -> int:
    from mi_warehouse.config import load_settings
    from mi_warehouse.engine.connection import connect
    from mi_warehouse.errors import MiWarehouseError
    from mi_warehouse.loaders.load import run_load

    sources, options = parse(sys.argv[1:] if argv is None else argv)
    settings = load_settings()
    try:
        with connect(settings) as session:
            s = run_load(session, settings, sources, options, log=lambda m: print(m, file=sys.stderr))
    except MiWarehouseError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"run {s.run_id}: {s.files_seen} files seen, {s.loaded} loaded, {s.skipped} already loaded, "
          f"{s.duplicates} duplicates, {s.errors} errors, {s.warnings} warnings")
    return 0


if __name__ == "__main__":
    sys.exit(main())
