"""The offline HTML report: run assets in, one self-contained file out."""

from zspace.report.assets import ReportConfig, load_assets, prepare_run
from zspace.report.build import build_report

__all__ = ["ReportConfig", "build_report", "load_assets", "prepare_run"]
