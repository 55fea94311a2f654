"""`detector report [--date D] --out FILE.html`: the daily report (HTML + report.json + flagged.csv)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from detector.cli.common import handle_errors, settings_from


def register(app: typer.Typer) -> None:
    @app.command("report")
    @handle_errors
    def report(
        ctx: typer.Context,
        date: Annotated[str | None, typer.Option(
            "--date", help="Day to report, YYYY-MM-DD (default: the latest evaluated day).")] = None,
        out: Annotated[Path | None, typer.Option(
            "--out", help="HTML file to write; report.json and flagged.csv go beside it "
                          "(default: <home>/reports/daily/<D>/report.html).")] = None,
        top: Annotated[int, typer.Option("--top", min=1, help="Accounts in the top table.")] = 25,
    ) -> None:
        """Write the daily report: one self-contained HTML page, report.json and flagged.csv."""
        from detector.report import write_report

        files = write_report(settings_from(ctx), out, date, top_n=top)
        typer.echo(str(files.html))
        typer.echo(f"wrote {files.html}, {files.json.name} and {files.csv.name}", err=True)
