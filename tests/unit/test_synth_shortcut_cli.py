"""`mi-warehouse synth --shortcut-site`: the CLI over synth.Shortcut."""

from __future__ import annotations

import hashlib

from click.testing import CliRunner

from mi_warehouse.cli import main

from .test_synth_shortcut import SIZE, _chest


def test_cli_option(tmp_path):
    res = CliRunner().invoke(main, ["synth", "--out", str(tmp_path / "c"), "--patients", "20", "--seed", "3",
                                    "--image-size", str(SIZE), "--shortcut-site", "lii", "--shortcut-marker", "box"])
    assert res.exit_code == 0, res.output
    images = _chest(tmp_path / "c")
    n = sum(ds.BurnedInAnnotation == "YES" for ds, _ in images.values())
    assert f"{n} images marked at LII" in res.output
    digest = hashlib.sha256()
    for path in sorted((tmp_path / "c").rglob("*.dcm")):
        digest.update(path.read_bytes())
    res = CliRunner().invoke(main, ["synth", "--out", str(tmp_path / "d"), "--patients", "20", "--seed", "3",
                                    "--image-size", str(SIZE), "--shortcut-site", "LII", "--shortcut-marker", "box"])
    again = hashlib.sha256()
    for path in sorted((tmp_path / "d").rglob("*.dcm")):
        again.update(path.read_bytes())
    assert again.hexdigest() == digest.hexdigest()  # deterministic
    bad = CliRunner().invoke(main, ["synth", "--out", str(tmp_path / "e"), "--shortcut-site", "XYZ"])
    assert bad.exit_code == 2 and "XYZ" in bad.output
