"""`detector export [--date D] [--out DIR]`: signed verdict files for gateways that poll."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from detector.cli.common import handle_errors, settings_from


def register(app: typer.Typer) -> None:
    @app.command("export")
    @handle_errors
    def export(
        ctx: typer.Context,
        date: Annotated[str | None, typer.Option(
            "--date", help="Day, YYYY-MM-DD (default: the latest evaluated day).")] = None,
        out: Annotated[Path | None, typer.Option(
            "--out", help="Folder (default: <home>/reports/exports).")] = None,
    ) -> None:
        """Write verdicts-D.json and verdicts-D.csv (reviews and blocks), each with a .sig file."""
        from detector.hooks.export import export_verdicts

        files = export_verdicts(settings_from(ctx), date, out)
        typer.echo(json.dumps({"date": files.date, "rows": files.rows, "json": str(files.json),
                               "csv": str(files.csv)}))
