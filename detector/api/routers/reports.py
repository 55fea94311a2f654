"""``/v1/reports/{date}``: the daily report's data (JSON), or its HTML when written."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path as FsPath
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query
from fastapi.responses import FileResponse, JSONResponse

from detector.api.deps import Svc, Viewer
from detector.api.models import ErrorBody
from detector.errors import DetectorError

_cache: dict[tuple, dict[str, Any]] = {}  # (day, verdict files signature) -> report JSON
router = APIRouter(prefix="/v1/reports", tags=["reports"],
                   responses={401: {"model": ErrorBody}, 403: {"model": ErrorBody},
                              404: {"model": ErrorBody}, 422: {"model": ErrorBody}})


def find_html_report(settings, day: str) -> FsPath | None:
    """The HTML report of ``day``: ``reports/daily/D/report.html`` (the default of
    ``detector report``), else an ``*.html`` in ``reports/`` whose ``report.json`` beside it is
    of that day (``make run`` writes ``reports/latest.html``)."""
    from detector.report import default_report_path

    path = default_report_path(settings, day)
    if path.is_file():
        return path
    folder = settings.reports_dir
    meta = folder / "report.json"
    try:
        written = json.loads(meta.read_text(encoding="utf-8")).get("date")
    except (OSError, ValueError, AttributeError):
        return None
    if str(written)[:10] != day:
        return None
    pages = sorted(folder.glob("*.html"), key=lambda p: p.stat().st_mtime, reverse=True)
    return pages[0] if pages else None


@router.get("/{date}", response_model=dict[str, Any],
            summary="Daily report of one day ('latest' for the newest); format=html for the page")
def get_report(
    svc: Svc, _: Viewer,
    date: Annotated[str, Path(pattern=r"^(\d{4}-\d{2}-\d{2}|latest)$")],
    fmt: Annotated[str, Query(alias="format", pattern="^(json|html)$")] = "json",
) -> Any:
    from detector.report.data import collect_report_data

    day = None if date == "latest" else date
    if day is not None:
        try:
            dt.date.fromisoformat(day)
        except ValueError:
            raise HTTPException(422, f"date: {day} is not a calendar day (YYYY-MM-DD)") from None
    if fmt == "html":
        day = day or svc.verdicts.index.latest_date
        path = find_html_report(svc.settings, day) if day else None
        if path is None:
            raise HTTPException(404, f"no HTML report written for {date} "
                                     "(write one with `detector report`)")
        return FileResponse(path, media_type="text/html")
    key = (day, svc.verdicts.index.signature)
    if key not in _cache:
        try:
            data = collect_report_data(svc.settings, day).to_json()
        except DetectorError as exc:
            raise HTTPException(404, str(exc)) from None
        if len(_cache) > 32:
            _cache.clear()
        _cache[key] = data
    return JSONResponse(_cache[key])
