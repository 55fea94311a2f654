"""Turn ReportData into the three files of a daily report: HTML, ``report.json``, ``flagged.csv``.

The HTML is one self-contained file: CSS inline, charts embedded as SVG data URIs, no script,
no external link, every value from the logs escaped (account ids are attacker-controlled).
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit

import jinja2

from detector.errors import ConfigError
from detector.lake.io import write_text_atomic
from detector.report.data import ReportData
from detector.report.plots import score_chart, trend_chart
from detector.settings import Settings

FLAGGED_COLUMNS = ("account_id", "date", "decision", "score", "reasons", "cluster_id",
                   "requests", "completion_tokens", "new")

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("detector.report", "templates"),
    autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
)


@dataclass(frozen=True)
class ReportFiles:
    """Where one report was written."""

    html: Path
    json: Path
    csv: Path


def account_link(base: str) -> Callable[[str], str | None]:
    """``id -> <base>/accounts/<id, percent-encoded>``, or always None when ``base`` is empty.

    Only http(s) bases are accepted (a report must not carry a ``javascript:`` link).
    """
    base = (base or "").strip().rstrip("/")
    if not base:
        return lambda _account_id: None
    scheme = urlsplit(base).scheme.lower()
    if scheme not in ("http", "https") or not urlsplit(base).netloc:
        raise ConfigError(f"setting 'report_base_url': expected an http(s) URL, got {base!r}")
    return lambda account_id: f"{base}/accounts/{quote(str(account_id), safe='')}"


def render_html(data: ReportData, settings: Settings | None = None) -> str:
    """The report page as one HTML string."""
    link = account_link(settings.report_base_url if settings else "")
    charts = {
        "trend": trend_chart(data.trend),
        "scores": score_chart(data.score_hist,
                              settings.review_threshold if settings else None,
                              settings.block_threshold if settings else None),
    }
    return _ENV.get_template("report.html.j2").render(d=data, charts=charts, account_url=link)


def _cell(value: object) -> object:
    """Neutralise spreadsheet formulas: text from the logs starting with = + - @ gets a quote."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def flagged_csv(data: ReportData) -> str:
    """Every flagged or blocked account of the day, most severe first.

    Meant for people with a spreadsheet: text cells that would start a formula are prefixed
    with a quote (machine readers should use the verdict export instead).
    """
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=FLAGGED_COLUMNS, extrasaction="ignore",
                            lineterminator="\n")
    writer.writeheader()
    for row in data.flagged:
        clean = {k: _cell(v) for k, v in row.items()}
        writer.writerow({**clean, "cluster_id": clean["cluster_id"] or "",
                         "new": "" if row["new"] is None else str(bool(row["new"])).lower()})
    return buf.getvalue()


def report_json(data: ReportData) -> str:
    payload = data.to_json()
    payload.pop("flagged")  # in flagged.csv; the JSON keeps the capped top list
    payload["flagged_count"] = len(data.flagged)
    return json.dumps(payload, indent=2, sort_keys=False, default=str) + "\n"


def write_report_files(data: ReportData, out: Path, settings: Settings | None = None) -> ReportFiles:
    """Write ``out`` (HTML) and ``report.json`` and ``flagged.csv`` beside it, each atomically."""
    out = Path(out)
    files = ReportFiles(html=out, json=out.with_name("report.json"),
                        csv=out.with_name("flagged.csv"))
    write_text_atomic(files.json, report_json(data))
    write_text_atomic(files.csv, flagged_csv(data))
    write_text_atomic(files.html, render_html(data, settings))
    for path in (files.json, files.csv, files.html):
        os.chmod(path, 0o644)  # atomic writes create 0600 temp files; a report is for reading
    return files
