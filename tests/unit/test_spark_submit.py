"""The spark-submit entry point parses load's options itself and never imports the CLI."""

import subprocess
import sys

import pytest

from mi_warehouse.loaders.spark_submit import parse


def test_options_reach_the_loader():
    sources, opts = parse(["hdfs://nn/dicom", "/local", "--keep-phi-map", "--private-allow", "00091001",
                           "--bulk-limit", "64"])
    assert sources == ["hdfs://nn/dicom", "/local"]
    assert (opts.engine, opts.keep_phi_map, opts.private_allow, opts.bulk_limit, opts.deid) == \
        ("spark", True, ("00091001",), 64, True)
    assert parse(["x", "--deid", "off"])[1].deid is False


def test_bad_private_tag_is_a_named_error():
    from mi_warehouse.errors import InvalidPrivateTag

    with pytest.raises(InvalidPrivateTag, match="GGGGEEEE"):
        parse(["x", "--private-allow", "zz"])


def test_runs_as_a_script_without_the_cli():
    code = ("import runpy, sys; sys.argv = ['spark_submit.py', '--help']\n"
            "try:\n    runpy.run_path(sys.argv_path, run_name='__main__')\nexcept SystemExit:\n    pass\n"
            "print('cli' if 'mi_warehouse.cli' in sys.modules else 'no-cli')")
    import mi_warehouse.loaders.spark_submit as m

    r = subprocess.run([sys.executable, "-c", code.replace("sys.argv_path", repr(m.__file__))],
                       capture_output=True, text=True, timeout=60)
    assert "mi-warehouse load as a Spark job" in r.stdout and r.stdout.strip().endswith("no-cli"), r.stderr
