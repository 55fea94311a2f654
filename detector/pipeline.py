"""The daily workflow: ingest -> score -> campaigns -> announce -> mark -> deliver -> export -> report.

The public Python API behind ``detector run`` and ``detector daily``; notebooks and benches call
the same functions:

- :func:`run_pipeline` runs the scoring stages for a set of days (features -> embeddings ->
  clusters -> decide -> campaigns) and returns their timings and verdict counts;
- :func:`score_days` is ``detector run``: :func:`run_pipeline`, then outbox events for the new
  verdicts, the days marked scored, and one delivery pass when hook endpoints are configured;
- :func:`run_daily` is ``detector daily``: ingest the inbox, then the same steps for the days
  whose data changed (plus the requested day), the signed export and the report.

Order matters for recovery: events are enqueued before the days are marked scored, so a crash in
between re-scores and re-announces them on the next run (events carry idempotency keys), and
nothing is skipped. Each stage reads only what the stages before it wrote.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from detector import clusters, decide, embeddings, features, hooks
from detector.clusters import campaigns
from detector.decide.review_load import review_load_warnings
from detector.errors import ConfigError, DetectorError, InputError
from detector.ingest import dirty_dates, ingest_paths, mark_scored
from detector.lake.days import parse_date
from detector.lake.db import lake_dates
from detector.report import write_report
from detector.settings import Settings
from detector.verdicts import evaluated_dates, evaluated_days, root

Stage = Callable[[Settings, list[str]], object]


# --- scoring stages --------------------------------------------------------------------------
@dataclass
class PipelineResult:
    dates: list[str]
    seconds: dict[str, float] = field(default_factory=dict)
    verdict_rows: dict[str, int] = field(default_factory=dict)
    #: change-control warnings (``detector.decide.review_load``): dicts with a ``message``
    warnings: list[dict] = field(default_factory=list)


def _stages(settings: Settings) -> list[tuple[str, Stage]]:
    stages: list[tuple[str, Stage]] = [("features", features.compute)]
    if settings.embedding_backend != "off":
        stages.append(("embeddings", embeddings.compute))
    stages.append(("clusters", clusters.compute))
    stages.append(("decide", decide.score))
    stages.append(("campaigns", campaigns.compute))  # shown with verdicts, never fed back
    return stages


def feature_stages(settings: Settings, dates: list[str]) -> dict[str, float]:
    """Every stage that produces account features (no scoring): used to build training data."""
    seconds = {}
    for name, fn in _stages(settings):
        if name in ("decide", "campaigns"):  # scoring, and what reads the scores
            continue
        t0 = time.perf_counter()
        fn(settings, dates)
        seconds[name] = round(time.perf_counter() - t0, 2)
    return seconds


def run_pipeline(settings: Settings, dates: list[str],
                 on_stage: Callable[[str], None] | None = None) -> PipelineResult:
    """Compute every stage for ``dates`` and write their verdicts (nothing announced or marked)."""
    settings.ensure_dirs()
    result = PipelineResult(dates=sorted(dates))
    for name, fn in _stages(settings):
        if on_stage:
            on_stage(name)
        t0 = time.perf_counter()
        out = fn(settings, result.dates)
        result.seconds[name] = round(time.perf_counter() - t0, 2)
        if name == "decide":
            result.verdict_rows = dict(out)
    result.warnings = review_load_warnings(settings, result.dates)
    return result


# --- detector run ----------------------------------------------------------------------------
def dates_to_run(settings: Settings, dates: list[str] | None = None,
                 all_days: bool = False) -> list[str]:
    """``all_days``: every ingested day; ``dates``: those (each must be ingested); else the days
    whose data changed since they were last scored."""
    known = lake_dates(settings)
    if all_days:
        return known
    if dates:
        missing = [d for d in dates if d not in known]
        if missing:
            raise InputError(f"--date {', '.join(missing)}: no ingested data for that day "
                             f"(ingested days: {', '.join(known) or 'none'})")
        return sorted(set(dates))
    return dirty_dates(settings)


def deliver_hooks(settings: Settings, wait_s: float = 0.0) -> dict[str, Any]:
    """One delivery pass (or passes for up to ``wait_s`` seconds) over the outbox."""
    report = hooks.deliver_until_idle(settings, wait_s) if wait_s > 0 else hooks.deliver(settings)
    return report.as_dict()


def score_days(settings: Settings, dates: list[str],
               on_stage: Callable[[str], None] | None = None) -> dict[str, Any]:
    """``detector run``: score ``dates``, enqueue their events, deliver once, mark them scored.

    Returns the run summary: ``dates``, ``verdicts`` (rows per day), ``seconds`` per stage,
    ``events_enqueued``, ``delivery`` (when endpoints are configured) and ``warnings``."""
    result = run_pipeline(settings, dates, on_stage=on_stage)
    # events first: a crash before marking re-announces
    announced: dict[str, Any] = {"events_enqueued": hooks.record_verdict_events(settings, dates)}
    if settings.hooks:
        announced["delivery"] = deliver_hooks(settings)
    mark_scored(settings, dates)
    return {"dates": result.dates, "verdicts": result.verdict_rows, "seconds": result.seconds,
            **announced, "warnings": result.warnings}


# --- detector daily --------------------------------------------------------------------------
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


def _daily_dates(settings: Settings, day: dt.date | None) -> list[str]:
    dates = set(dirty_dates(settings))
    if day is not None:
        if day.isoformat() not in lake_dates(settings):
            raise InputError(f"--date {day}: no ingested data for that day under "
                             f"{settings.requests_dir}")
        if day.isoformat() not in evaluated_dates(settings):
            dates.add(day.isoformat())
    return sorted(dates)


def run_daily(settings: Settings, date: str | dt.date | None = None,
              inbox: Path | None = None, out: Path | None = None, hooks_wait_s: float = 0.0,
              on_step: Callable[[str], None] | None = None) -> DailyResult:
    """``detector daily``: ingest the inbox, score the days whose data changed (plus ``date``
    when it has no verdicts yet), enqueue events, mark, deliver, export and write the report of
    ``date`` (default: the latest evaluated day). Two daily runs on one home never overlap.

    DetectorError for a usage problem, DailyStepError for a failed step."""
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
            raise InputError(f"no verdicts under {root(settings)} and nothing new in "
                             f"{folder}: nothing to report")
        result.events_enqueued = _step(
            "events", lambda: hooks.record_verdict_events(settings, [*dates, report_day]), on_step)
        _step("mark", lambda: mark_scored(settings, dates), on_step)
        if settings.hooks:
            result.delivery = _step("deliver", lambda: deliver_hooks(settings, hooks_wait_s),
                                    on_step)
            _delivery_warnings(result)
        files = _step("export", lambda: hooks.export_verdicts(settings, report_day), on_step)
        result.export = {"json": str(files.json), "csv": str(files.csv), "rows": files.rows}
        report = _step("report", lambda: write_report(settings, out, report_day), on_step)
        result.report, result.report_date = str(report.html), report_day
        result.warnings += _review_load_messages(settings, [*dates, report_day])
    return result


def _review_load_messages(settings: Settings, days: list[str]) -> list[str]:
    try:
        return [w["message"] for w in review_load_warnings(settings, days)]
    except Exception as exc:  # a warning must never fail the daily run
        return [f"review load check failed: {exc}"]


def _ingest(settings: Settings, folder: Path) -> dict[str, Any]:
    res = ingest_paths(settings, [folder], progress=False)
    return {"read": res.read, "accepted": res.accepted, "duplicates": res.duplicates,
            "quarantined": res.quarantined, "enriched": res.enriched,
            "conflicting": res.conflicting, "dates": res.dates}


def _score(settings: Settings, day: dt.date | None) -> list[str]:
    dates = _daily_dates(settings, day)
    if dates:
        run_pipeline(settings, dates)
    return dates


def _latest_day(settings: Settings) -> str | None:
    days = evaluated_days(settings)
    return days[-1].isoformat() if days else None


def _delivery_warnings(result: DailyResult) -> None:
    d = result.delivery
    if d.get("pending"):
        result.warnings.append(f"{d['pending']} hook deliveries still pending (endpoint down or "
                               "retrying): `detector hooks list --status pending`")
    if d.get("dead"):
        result.warnings.append(f"{d['dead']} hook deliveries gave up (dead letters): "
                               "`detector hooks list --status dead`, then `detector hooks retry`")
