"""`detector daily [--date D]`: ingest the inbox, score, deliver hooks, export, write the report.

For cron or an orchestrator: exit 0 on success (one JSON summary on stdout), 1 when a step
fails, 2 on a usage problem (no inbox, bad date, another daily run holding the lock); the
stderr line says which step failed and why. Safe to re-run.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from detector.cli.common import handle_errors, settings_from


def register(app: typer.Typer) -> None:
    @app.command("daily")
    @handle_errors
    def daily(
        ctx: typer.Context,
        date: Annotated[str | None, typer.Option(
            "--date", help="Day to score and report, YYYY-MM-DD (default: latest evaluated day).")] = None,
        inbox: Annotated[Path | None, typer.Option(
            "--inbox", help="Folder of new log files (default: the `inbox` setting).")] = None,
        out: Annotated[Path | None, typer.Option(
            "--out", help="Report HTML file (default: <home>/reports/daily/<D>/report.html).")] = None,
        hooks_wait: Annotated[float, typer.Option(
            "--hooks-wait", min=0, help="Keep retrying hook deliveries for up to this many seconds.")] = 0.0,
    ) -> None:
        """Ingest new files, score changed days, deliver hooks, export verdicts, write the report."""
        from detector.pipeline import DailyStepError, run_daily

        def step(name: str) -> None:
            sys.stderr.write(f"daily: {name}\n")

        try:
            result = run_daily(settings_from(ctx), date, inbox, out, hooks_wait, on_step=step)
        except DailyStepError as exc:
            sys.stderr.write(f"error: daily: {exc}\n")
            raise typer.Exit(code=1) from None
        for warning in result.warnings:
            sys.stderr.write(f"warning: {warning}\n")
        sys.stderr.write(f"daily: report {result.report}\n")
        typer.echo(json.dumps(result.as_dict()))
