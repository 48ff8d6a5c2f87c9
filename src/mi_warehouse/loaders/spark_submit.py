"""Entry point for `spark-submit`: `mi-warehouse load --engine spark` on a cluster.

    spark-submit --master yarn --deploy-mode client \\
        --conf spark.executorEnv.MIW_KEY_FILE=... \\
        $(python -c 'import mi_warehouse.loaders.spark_submit as m; print(m.__file__)') \\
        hdfs://nameservice1/dicom/raw --keep-phi-map

Arguments are those of `mi-warehouse load`; the master comes from spark-submit. The executors
need Python with mi-warehouse installed (a shared environment or `--archives`); the driver needs
HiveServer2 (MIW_HIVE_URL) to register partitions, as the local loader does.
"""

import sys

from mi_warehouse.cli import main

if __name__ == "__main__":
    main(["load", "--engine", "spark", *sys.argv[1:]], prog_name="mi-warehouse")
