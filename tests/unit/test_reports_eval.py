"""The evaluation report on a small fake dataset: no engine, a fake session answers the queries."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import numpy as np
import pytest
import sklearn.metrics as sk  # scikit-learn is declared in the test extra

from mi_warehouse.config import load_settings
from mi_warehouse.engine.connection import Result
from mi_warehouse.reports.eval_report import ReportError, load_report_data, roc_curve, write_eval_report

REPO = Path(__file__).resolve().parents[2]
Y = [0, 0, 1, 1, 0, 1, 0, 1, 1, 0, 0, 1]
P = [0.1, 0.4, 0.35, 0.8, 0.4, 0.4, 0.2, 0.9, 0.55, 0.6, 0.05, 0.7]


def _metrics(**over):
    m = dict(model_name="chest", model_version="2", cohort="adult_chest_xr", split="all", n=12, n_positive=6,
             n_negative=6, prevalence=0.5, decision_threshold=0.5, tp=4, fp=1, tn=5, fn=2, accuracy=0.75,
             accuracy_ci_lower=0.468, accuracy_ci_upper=0.911, sensitivity=4 / 6, sensitivity_ci_lower=0.3,
             sensitivity_ci_upper=0.9, specificity=5 / 6, specificity_ci_lower=0.44, specificity_ci_upper=0.97,
             ppv=0.8, npv=5 / 7, f1=8 / 11, auc=0.8194, auc_se=0.12, auc_ci_lower=0.58, auc_ci_upper=1.0,
             brier=0.16, ece=0.12, n_cohort=15, n_scored=12, n_error=2, n_unscored=1, coverage=0.8,
             sensitivity_failed_as_wrong=0.5, sensitivity_failed_as_wrong_ci_lower=0.22,
             sensitivity_failed_as_wrong_ci_upper=0.78, specificity_failed_as_wrong=5 / 7,
             accuracy_failed_as_wrong=0.6, auc_failed_as_wrong=0.61, n_patients=5,
             auc_ci_lower_clustered=0.512, auc_ci_upper_clustered=0.999,
             sensitivity_ci_lower_clustered=0.21, sensitivity_ci_upper_clustered=0.93)
    m.update(over)
    return m


def _calibration():
    y, p = np.array(Y), np.array(P)
    bins = np.minimum(np.floor(p * 10).astype(int), 9)
    rows = []
    for b in range(10):
        sel = bins == b
        rows.append(dict(bin=b, bin_lower=b / 10, bin_upper=(b + 1) / 10, n=int(sel.sum()),
                         mean_predicted=float(p[sel].mean()) if sel.any() else None,
                         observed_rate=float(y[sel].mean()) if sel.any() else None, ece=0.12))
    return rows


class FakeSession:
    """Answers the report's four queries from in-memory rows and records the SQL it was sent."""

    def __init__(self, y=Y, p=P, metrics=None, sites=None):
        self.y, self.p = y, p
        self.metrics = [_metrics()] if metrics is None else metrics
        self.sites = sites if sites is not None else [
            dict(institution_key="site-a", n=7, n_positive=3, auc=0.9, auc_ci_lower=0.7, auc_ci_upper=1.0,
                 sensitivity=0.67, specificity=1.0, brier=0.1),
            dict(institution_key="<script>alert(1)</script>", n=5, n_positive=0, auc=None, sensitivity=None,
                 specificity=0.8, brier=0.2),
            dict(institution_key=None, n=1, n_positive=1, auc=None, sensitivity=1.0, specificity=None, brier=0.3)]
        self.sql: list[str] = []

    @staticmethod
    def _result(rows: list[dict]) -> Result:
        cols = list(dict.fromkeys(c for r in rows for c in r))
        return Result(cols, [tuple(r.get(c) for c in cols) for r in rows])

    def execute(self, sql: str) -> Result:
        self.sql.append(sql)
        if "`dataset_profile`" in sql:  # the profile plots (tests/unit/test_profile_plots.py)
            return self._result(getattr(self, "profile", []))
        if "`eval_predictions`" in sql:
            return Result(["label_value", "probability"], list(zip(self.y, self.p)))
        if "`eval_metrics_by_site`" in sql:
            return self._result(self.sites)
        if "`eval_calibration`" in sql:
            return self._result(_calibration())
        if "`eval_metrics`" in sql:
            return self._result(self.metrics)
        raise AssertionError(f"unexpected query {sql}")


@pytest.fixture()
def settings(tmp_path):
    return load_settings(REPO, env={"MIW_HOME": str(tmp_path / "home"), "MIW_DATABASE": "mi_eval",
                                    "MIW_PHI_DATABASE": "mi_eval_phi"})


def _images(text: str) -> list[bytes]:
    return [base64.b64decode(m) for m in re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', text)]


def test_report_is_one_offline_html_file(settings, tmp_path):
    session = FakeSession()
    path = write_eval_report(session, settings, "chest:2", "adult_chest_xr", tmp_path / "out")
    assert path == tmp_path / "out" / "index.html"
    assert sorted(p.name for p in path.parent.iterdir()) == ["index.html"]
    text = path.read_text(encoding="utf-8")
    images = _images(text)
    assert len(images) == 2 and all(i.startswith(b"\x89PNG\r\n\x1a\n") for i in images)  # ROC, calibration
    links = re.findall(r"""\b(?:src|href)\s*=\s*["']?([^"'\s>]*)""", text)
    assert len(links) == 2 and all(v.startswith("data:image/png;base64,") for v in links)  # nothing to fetch
    assert "http" not in text.lower().replace("http-equiv", "")
    # the confusion matrix, the metrics and the per-site table
    for cell in ("TP 4", "FN 2", "FP 1", "TN 5"):
        assert cell in text
    assert "0.819" in text and "(0.580–1.000)" in text and "site-a" in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text and "<script>" not in text
    assert "12 images" in text and "chest:2" in text and "adult_chest_xr" in text


def test_queries_quote_their_arguments(settings, tmp_path):
    session = FakeSession()
    write_eval_report(session, settings, "chest:2", "x' OR '1'='1", tmp_path / "q")
    evaluation = [s for s in session.sql if "`dataset_profile`" not in s]
    assert len(evaluation) == 4 and len(session.sql) == 5
    assert all("cohort = 'x\\' OR \\'1\\'=\\'1'" in s for s in evaluation)
    assert all("`mi_eval`." in s for s in session.sql)
    load_report_data(session, settings, "chest:2", "adult_chest_xr", split="test")
    assert "split = 'test'" in session.sql[-4]


def test_coverage_failures_and_clustered_intervals_are_shown(settings, tmp_path):
    m = _metrics()
    text = write_eval_report(FakeSession(metrics=[m]), settings, "chest:2", "adult_chest_xr", tmp_path / "c").read_text()
    assert "Coverage, failures and patient clustering" in text
    assert f"{m['n_scored']} / {m['n_error']} / {m['n_unscored']}" in text
    assert f"{m['coverage']:.3f}" in text and f"{m['auc_failed_as_wrong']:.3f}" in text
    assert (f"{m['sensitivity_failed_as_wrong']:.3f} <span class=ci>({m['sensitivity_failed_as_wrong_ci_lower']:.3f}–"
            f"{m['sensitivity_failed_as_wrong_ci_upper']:.3f})") in text
    assert f"({m['auc_ci_lower_clustered']:.3f}–{m['auc_ci_upper_clustered']:.3f})" in text
    assert "Obuchowski" in text and "ratio estimator" in text
    assert "includes training images" not in text  # the default split is test
    session = FakeSession()
    text = write_eval_report(session, settings, "chest:2", "adult_chest_xr", tmp_path / "a", split="all").read_text()
    assert "includes training images" in text
    write_eval_report(session, settings, "chest:2", "adult_chest_xr", tmp_path / "t")
    assert "split = 'test'" in session.sql[-2]  # the headline is the test split (then the profile)


def test_one_class_only_has_no_roc_curve(settings, tmp_path):
    y = [1] * 5
    session = FakeSession(y=y, p=P[:5], metrics=[_metrics(n=5, n_negative=0, auc=None, auc_ci_lower=None,
                                                          auc_ci_upper=None, specificity=None)])
    text = write_eval_report(session, settings, "chest:2", "adult_chest_xr", tmp_path / "one").read_text()
    assert len(_images(text)) == 1  # calibration only
    assert "one class only" in text


@pytest.mark.parametrize("ref", ["chest", "chest:", ":2", ""])
def test_bad_model_reference(settings, tmp_path, ref):
    with pytest.raises(ReportError, match="NAME:VERSION"):
        write_eval_report(FakeSession(), settings, ref, "all", tmp_path / "bad")


def test_unknown_split_and_missing_evaluation(settings, tmp_path):
    with pytest.raises(ReportError, match="split"):
        write_eval_report(FakeSession(), settings, "chest:2", "all", tmp_path / "s", split="holdout")
    with pytest.raises(ReportError, match="no evaluation of chest:2"):
        write_eval_report(FakeSession(metrics=[]), settings, "chest:2", "all", tmp_path / "m")
    assert not (tmp_path / "m").exists()


def test_roc_curve_area_is_the_rank_sum_auc_with_ties():
    rng = np.random.default_rng(3)
    for _ in range(20):
        y = rng.integers(0, 2, 40)
        p = np.round(rng.uniform(size=40), 1)  # many ties
        if len(set(y)) < 2:
            continue
        fpr, tpr = roc_curve(y, p)
        assert fpr[0] == tpr[0] == 0 and fpr[-1] == tpr[-1] == 1
        assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0)
        assert abs(float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2)) - sk.roc_auc_score(y, p)) < 1e-12
        ref_fpr, ref_tpr, _ = sk.roc_curve(y, p, drop_intermediate=False)
        assert np.allclose(fpr, ref_fpr) and np.allclose(tpr, ref_tpr)
    assert roc_curve([1, 1], [0.2, 0.3]) is None and roc_curve([0, 0], [0.2, 0.3]) is None
    fpr, tpr = roc_curve([0, 1, 0, 1], [0.5] * 4)  # all scores equal: the diagonal, AUC 0.5
    assert list(fpr) == [0, 1] and list(tpr) == [0, 1]
