"""The daily report: one self-contained HTML page plus ``report.json`` and ``flagged.csv``.

Public API::

    write_report(settings, out, date=None, top_n=25) -> ReportFiles
    collect_report_data(settings, date=None, top_n=25) -> ReportData
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from detector.report.data import ReportData, collect_report_data
from detector.report.render import ReportFiles, render_html, write_report_files
from detector.settings import Settings

__all__ = ["ReportData", "ReportFiles", "collect_report_data", "default_report_path",
           "render_html", "write_report"]


def default_report_path(settings: Settings, date: str) -> Path:
    """``reports/daily/D/report.html`` in the home folder."""
    return settings.reports_dir / "daily" / date / "report.html"


def write_report(settings: Settings, out: str | Path | None = None,
                 date: str | dt.date | None = None, top_n: int = 25) -> ReportFiles:
    """Build the report of ``date`` (default: latest evaluated day) and write its three files.

    ``out`` is the HTML path (default :func:`default_report_path`); ``report.json`` and
    ``flagged.csv`` go beside it.
    """
    data = collect_report_data(settings, date, top_n=top_n)
    target = Path(out) if out is not None else default_report_path(settings, data.date)
    return write_report_files(data, target, settings)
