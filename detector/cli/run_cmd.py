"""`detector run`: features, rules, classifier, clusters and verdicts for the given days."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console

from detector.cli.common import fail, handle_errors, settings_from
from detector.lake.db import lake_dates
from detector.pipeline import run_pipeline

err = Console(stderr=True)


def _dates(settings, date: list[str] | None, all_days: bool) -> list[str]:
    known = lake_dates(settings)
    if all_days:
        return known
    if date:
        missing = [d for d in date if d not in known]
        if missing:
            fail(f"--date {', '.join(missing)}: no ingested data for that day "
                 f"(ingested days: {', '.join(known) or 'none'})")
        return sorted(set(date))
    from detector.ingest import dirty_dates

    return dirty_dates(settings)


def _announce(settings, dates: list[str]) -> dict:
    """Outbox events for new verdicts, then one delivery pass when endpoints are configured."""
    try:
        from detector import hooks
    except ImportError:
        return {}
    out = {"events_enqueued": hooks.record_verdict_events(settings, dates)}
    if settings.hooks:
        out["delivery"] = hooks.deliver(settings).as_dict()
    return out


def register(app: typer.Typer) -> None:
    @app.command("run")
    @handle_errors
    def run(
        ctx: typer.Context,
        date: Annotated[list[str] | None, typer.Option("--date", help="Day to score (YYYY-MM-DD); repeatable.")] = None,
        all_days: Annotated[bool, typer.Option("--all", help="Score every ingested day.")] = False,
        json_out: Annotated[bool, typer.Option("--json", help="Print a JSON summary on stdout.")] = False,
    ) -> None:
        """Compute features, evaluate rules and the classifier, cluster accounts, write verdicts.

        Without --date or --all: the days whose data changed since they were last scored."""
        settings = settings_from(ctx)
        dates = _dates(settings, date, all_days)
        if not dates:
            err.print("nothing to score: no ingested day is new or changed (use --all to rescore)")
            if json_out:
                typer.echo(json.dumps({"dates": [], "verdicts": {}}))
            return
        with err.status("scoring") as status:
            result = run_pipeline(settings, dates,
                                  on_stage=lambda s: status.update(f"{s}: {', '.join(dates)}"))
        from detector.ingest import mark_scored

        hooks_out = _announce(settings, dates)  # events first: a crash before marking re-announces
        mark_scored(settings, dates)
        summary = {"dates": result.dates, "verdicts": result.verdict_rows,
                   "seconds": result.seconds, **hooks_out, "warnings": result.warnings}
        for w in result.warnings:
            err.print(f"warning: {w['message']}", markup=False, highlight=False)
        if json_out:
            typer.echo(json.dumps(summary))
        else:
            err.print(f"scored {sum(result.verdict_rows.values())} account-days over "
                      f"{len(dates)} day(s) in {sum(result.seconds.values()):.1f} s "
                      f"({', '.join(f'{k} {v}s' for k, v in result.seconds.items())})")
