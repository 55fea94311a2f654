"""`detector run`: features, rules, classifier, clusters and verdicts for the given days."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console

from detector.cli.common import handle_errors, settings_from

err = Console(stderr=True)


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
        from detector.pipeline import dates_to_run, score_days  # heavy: only when run

        settings = settings_from(ctx)
        dates = dates_to_run(settings, date, all_days)
        if not dates:
            err.print("nothing to score: no ingested day is new or changed (use --all to rescore)")
            if json_out:
                typer.echo(json.dumps({"dates": [], "verdicts": {}}))
            return
        with err.status("scoring") as status:
            summary = score_days(settings, dates,
                                 on_stage=lambda s: status.update(f"{s}: {', '.join(dates)}"))
        for w in summary["warnings"]:
            err.print(f"warning: {w['message']}", markup=False, highlight=False)
        if json_out:
            typer.echo(json.dumps(summary))
        else:
            err.print(f"scored {sum(summary['verdicts'].values())} account-days over "
                      f"{len(dates)} day(s) in {sum(summary['seconds'].values()):.1f} s "
                      f"({', '.join(f'{k} {v}s' for k, v in summary['seconds'].items())})")
