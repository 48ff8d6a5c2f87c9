"""Reports built from the shipped models (sql/models): self-contained HTML, readable offline."""

from .eval_report import ReportData, load_report_data, render_report, roc_curve, write_eval_report

__all__ = ["ReportData", "load_report_data", "render_report", "roc_curve", "write_eval_report"]
