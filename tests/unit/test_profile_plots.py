"""The dataset profile plots (mi_warehouse.reports.profile_plots) from dataset_profile rows: the
counts each plot draws are the table's, the PNGs are real, the report carries them."""

from __future__ import annotations

import base64
import json
import re

import pytest

from mi_warehouse.reports.profile_plots import NONE_LABEL, load_profile, profile_plots, profile_section


def _rows():
    """dataset_profile as HiveServer2 returns it: the array columns as JSON text."""
    sites = [dict(institution_key="k2", n_images=5, n_positive=1, n_negative=2),
             dict(institution_key="k1", n_images=9, n_positive=3, n_negative=4),
             dict(institution_key=None, n_images=2, n_positive=0, n_negative=0)]
    makers = [dict(manufacturer="SIEMENS", n_images=6), dict(manufacturer="Agfa", n_images=10)]
    sizes = [dict(image_rows=64, image_columns=64, n_images=12), dict(image_rows=512, image_columns=400, n_images=4)]
    base = dict(images_by_site=json.dumps(sites), images_by_manufacturer=json.dumps(makers),
                images_by_size=json.dumps(sizes))
    return [dict(split="test", n_images=4, n_labelled=3, n_positive=1, n_negative=2, **base),
            dict(split="all", n_images=16, n_labelled=10, n_positive=4, n_negative=6, **base),
            dict(split="train", n_images=12, n_labelled=7, n_positive=3, n_negative=4, **base)]


class _Session:
    def __init__(self, rows=None, fail=False):
        self.rows, self.fail, self.sql = rows or [], fail, []

    def execute(self, sql):
        from mi_warehouse.engine.connection import Result
        from mi_warehouse.errors import MiWarehouseError

        self.sql.append(sql)
        if self.fail:
            raise MiWarehouseError("Table or view not found: dataset_profile")
        cols = list(dict.fromkeys(c for r in self.rows for c in r))
        return Result(cols, [tuple(r.get(c) for c in cols) for r in self.rows])


class _Settings:
    database = "mi_prof"


def test_plots_draw_the_tables_counts():
    rows = _rows()
    for r in rows:
        for k in ("images_by_site", "images_by_manufacturer", "images_by_size"):
            r[k] = json.loads(r[k])
    plots = {p.key: p for p in profile_plots(rows)}
    assert sorted(plots) == ["class_balance", "image_sizes", "manufacturers", "sites"]
    cb = plots["class_balance"]
    assert cb.labels == ("train", "test", "all")  # split order, whatever the row order
    for i, split in enumerate(cb.labels):
        r = next(r for r in rows if r["split"] == split)
        assert cb.series["positive"][i] == r["n_positive"] and cb.series["negative"][i] == r["n_negative"]
        assert sum(s[i] for s in cb.series.values()) == r["n_images"]
    assert plots["sites"].labels == ("k1", "k2", NONE_LABEL)  # most images first; NULL shown as such
    assert plots["sites"].series["positive"] == (3, 1, 0)
    assert [sum(s[i] for s in plots["sites"].series.values()) for i in range(3)] == [9, 5, 2]
    assert plots["manufacturers"].labels == ("Agfa", "SIEMENS") and plots["manufacturers"].series["images"] == (10, 6)
    assert plots["image_sizes"].labels == ("64 x 64", "512 x 400") and plots["image_sizes"].series["images"] == (12, 4)
    for p in plots.values():
        assert base64.b64decode(p.png.split(",", 1)[1]).startswith(b"\x89PNG\r\n\x1a\n")


def test_section_has_each_plot_and_its_numbers():
    rows = load_profile(_Session(_rows()), _Settings())
    assert isinstance(rows[0]["images_by_site"], list)  # JSON text decoded
    text = profile_section(profile_plots(rows))
    assert len(re.findall(r'<img src="data:image/png;base64,[^"]+" alt="[^"]+" data-plot="(\w+)"', text)) == 4
    sites = re.search(r'<table class=profile data-plot="sites">(.*?)</table>', text, re.S).group(1)
    assert "<td class=key>k1</td><td>3</td><td>4</td><td>2</td>" in sites
    assert f"<td class=key>{NONE_LABEL}</td>" in sites


def test_missing_table_or_no_rows_is_a_note_not_an_error():
    session = _Session(fail=True)
    assert load_profile(session, _Settings()) == []
    assert "`mi_prof`.`dataset_profile`" in session.sql[0]
    text = profile_section(profile_plots([]))
    assert "No dataset_profile table" in text and "<img" not in text


@pytest.mark.parametrize("value,want", [(None, []), ("[]", []), ('[{"a": 1}]', [{"a": 1}]), ([{"a": 2}], [{"a": 2}])])
def test_array_columns_decode(value, want):
    rows = load_profile(_Session([dict(split="all", images_by_site=value, images_by_manufacturer=None,
                                       images_by_size=None)]), _Settings())
    assert rows[0]["images_by_site"] == want


def test_the_evaluation_report_carries_the_profile(tmp_path):
    from mi_warehouse.config import load_settings
    from mi_warehouse.reports.eval_report import write_eval_report

    from .test_reports_eval import REPO, FakeSession

    settings = load_settings(REPO, env={"MIW_HOME": str(tmp_path / "home"), "MIW_DATABASE": "mi_eval",
                                        "MIW_PHI_DATABASE": "mi_eval_phi"})
    session = FakeSession()
    session.profile = _rows()
    text = write_eval_report(session, settings, "chest:2", "adult_chest_xr", tmp_path / "r").read_text()
    assert "<h2>Dataset profile</h2>" in text
    assert sorted(re.findall(r'<img [^>]*data-plot="(\w+)"', text)) == ["class_balance", "image_sizes", "manufacturers", "sites"]
    assert text.count("data:image/png;base64,") == 2 + 4  # ROC, calibration and the four profile plots
    balance = re.search(r'<table class=profile data-plot="class_balance">(.*?)</table>', text, re.S).group(1)
    assert "<td class=key>all</td><td>4</td><td>6</td><td>6</td>" in balance  # positive, negative, unlabelled
