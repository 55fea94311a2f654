"""``detector daily``: one command for cron: ingest the inbox, score, announce, export, report.

Steps, in order: ``ingest`` (every file of the inbox; already ingested files add nothing),
``score`` (the days whose data changed, plus the requested day when it has no verdicts yet),
``events`` (outbox events of those days and of the report day, idempotent), ``mark`` (only now
are the days marked scored, so a crash before this point re-scores and re-announces them on the
next run, and nothing is skipped), ``deliver`` (one delivery pass, or passes for up to
``hooks_wait_s``), ``export`` (signed verdict files) and ``report``.

Re-running is safe: ingest deduplicates, scoring overwrites a day's verdicts, events have
deterministic idempotency keys, deliveries carry stable ids, files are replaced atomically. Two
daily runs on one home never overlap (a lock file in ``state/``).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from detector.errors import ConfigError, DetectorError, InputError
from detector.report.data import parse_date
from detector.settings import Settings


class DailyStepError(Exception):
    """A step of the daily run failed; ``step`` names it, the cause is chained."""

    def __init__(self, step: str, cause: BaseException) -> None:
        super().__init__(f"step '{step}' failed: {type(cause).__name__}: {cause}")
        self.step = step


@dataclass
class DailyResult:
    """What one daily run did."""

    ingest: dict[str, Any] = field(default_factory=dict)
    scored: list[str] = field(default_factory=list)
    events_enqueued: int = 0
    delivery: dict[str, Any] = field(default_factory=dict)
    export: dict[str, Any] = field(default_factory=dict)
    report: str = ""
    report_date: str = ""
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@contextmanager
def daily_lock(settings: Settings) -> Iterator[None]:
    """Exclusive, non-blocking lock on ``state/daily.lock``; InputError when held elsewhere."""
    path = settings.state_dir / "daily.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise InputError(f"another `detector daily` is running on {settings.home} "
                             f"(lock {path})") from None
        yield
    finally:
        os.close(fd)


def _step(name: str, fn: Callable[[], Any], on_step: Callable[[str], None] | None) -> Any:
    if on_step:
        on_step(name)
    try:
        return fn()
    except DetectorError:
        raise
    except Exception as exc:
        raise DailyStepError(name, exc) from exc


def _dates_to_score(settings: Settings, day: dt.date | None) -> list[str]:
    from detector.ingest import dirty_dates
    from detector.lake.db import lake_dates

    dates = set(dirty_dates(settings))
    if day is not None:
        if day.isoformat() not in lake_dates(settings):
            raise InputError(f"--date {day}: no ingested data for that day under "
                             f"{settings.requests_dir}")
        if not (settings.verdicts_dir / f"date={day}" / "verdicts.parquet").exists():
            dates.add(day.isoformat())
    return sorted(dates)


def run_daily(settings: Settings, date: str | dt.date | None = None,
              inbox: Path | None = None, out: Path | None = None, hooks_wait_s: float = 0.0,
              on_step: Callable[[str], None] | None = None) -> DailyResult:
    """Run the whole day. DetectorError for a usage problem, DailyStepError for a failed step."""
    from detector import hooks
    from detector.report import write_report

    day = parse_date(date)
    folder = Path(inbox) if inbox else settings.inbox
    if folder is None:
        raise ConfigError(f"no inbox folder: set inbox = \"/path\" in {settings.home}/detector.toml, "
                          "$DETECTOR_INBOX or --inbox")
    if not folder.is_dir():
        raise InputError(f"inbox {folder}: not a folder")
    settings.ensure_dirs()
    result = DailyResult()
    with daily_lock(settings):
        result.ingest = _step("ingest", lambda: _ingest(settings, folder), on_step)
        dates = _step("score", lambda: _score(settings, day), on_step)
        result.scored = dates
        report_day = day.isoformat() if day else _latest_day(settings)
        if report_day is None:
            raise InputError(f"no verdicts under {settings.verdicts_dir} and nothing new in "
                             f"{folder}: nothing to report")
        result.events_enqueued = _step(
            "events", lambda: hooks.record_verdict_events(settings, [*dates, report_day]), on_step)
        _step("mark", lambda: _mark(settings, dates), on_step)
        if settings.hooks:
            result.delivery = _step("deliver", lambda: _deliver(settings, hooks_wait_s), on_step)
            _delivery_warnings(result)
        files = _step("export", lambda: hooks.export_verdicts(settings, report_day), on_step)
        result.export = {"json": str(files.json), "csv": str(files.csv), "rows": files.rows}
        report = _step("report", lambda: write_report(settings, out, report_day), on_step)
        result.report, result.report_date = str(report.html), report_day
        result.warnings += _review_load_warnings(settings, [*dates, report_day])
    return result


def _review_load_warnings(settings: Settings, days: list[str]) -> list[str]:
    from detector.decide.review_load import review_load_warnings

    try:
        return [w["message"] for w in review_load_warnings(settings, days)]
    except Exception as exc:  # a warning must never fail the daily run
        return [f"review load check failed: {exc}"]


def _ingest(settings: Settings, folder: Path) -> dict[str, Any]:
    from detector.ingest import ingest_paths

    res = ingest_paths(settings, [folder], progress=False)
    return {"read": res.read, "accepted": res.accepted, "duplicates": res.duplicates,
            "quarantined": res.quarantined, "dates": res.dates}


def _score(settings: Settings, day: dt.date | None) -> list[str]:
    from detector.pipeline import run_pipeline

    dates = _dates_to_score(settings, day)
    if dates:
        run_pipeline(settings, dates)
    return dates


def _mark(settings: Settings, dates: list[str]) -> None:
    from detector.ingest import mark_scored

    mark_scored(settings, dates)


def _latest_day(settings: Settings) -> str | None:
    from detector.lake.db import connect
    from detector.report.data import evaluated_days

    con = connect(settings)
    try:
        days = evaluated_days(con)
    finally:
        con.close()
    return days[-1].isoformat() if days else None


def _deliver(settings: Settings, wait_s: float) -> dict[str, Any]:
    from detector.hooks import deliver, deliver_until_idle

    report = deliver_until_idle(settings, wait_s) if wait_s > 0 else deliver(settings)
    return report.as_dict()


def _delivery_warnings(result: DailyResult) -> None:
    d = result.delivery
    if d.get("pending"):
        result.warnings.append(f"{d['pending']} hook deliveries still pending (endpoint down or "
                               "retrying): `detector hooks list --status pending`")
    if d.get("dead"):
        result.warnings.append(f"{d['dead']} hook deliveries gave up (dead letters): "
                               "`detector hooks list --status dead`, then `detector hooks retry`")
