"""``detector ingest PATH… [--format auto] [--json] [--workers N] [--account-id ID]``: request
logs into the lake."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from detector.cli.common import handle_errors, settings_from


def register(app: typer.Typer) -> None:
    @app.command("ingest")
    @handle_errors
    def ingest(
        ctx: typer.Context,
        paths: Annotated[list[str], typer.Argument(help="Files, folders or globs of request logs.")],
        fmt: Annotated[str, typer.Option(
            "--format", help="auto, native, litellm, otel, openai-batch, mapped (see docs/ingest.md).",
        )] = "auto",
        as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
        workers: Annotated[int, typer.Option(
            "--workers", min=0, help="Parallel processes across files (0: settings.threads or all cores).",
        )] = 0,
        account_id: Annotated[str | None, typer.Option(
            "--account-id", help="Account of files that carry none (OpenAI Batch input/output files).",
        )] = None,
    ) -> None:
        """Ingest request logs; bad lines are quarantined and counted, never fatal."""
        from detector.ingest import ingest_paths

        settings = settings_from(ctx)
        result = ingest_paths(settings, list(paths), fmt=fmt, progress=True,
                              workers=workers or None, account_id=account_id)
        if as_json:
            sys.stdout.write(result.to_json() + "\n")
            return
        typer.echo(f"read {result.read}  accepted {result.accepted}  duplicates "
                   f"{result.duplicates}  quarantined {result.quarantined}  "
                   f"({len(result.files)} files, {result.seconds:.1f} s)")
        if result.dates:
            typer.echo(f"days touched: {', '.join(result.dates)}")
        if result.rescore_dates:
            typer.echo(f"days marked for re-scoring: {', '.join(result.rescore_dates)}")
        for w in result.warnings:
            typer.echo(f"warning: {w}", err=True)
