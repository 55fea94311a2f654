"""``detector ingest PATH… [--format auto] [--json] [--workers N] [--account-id ID]
[--account-key KEY] [--dry-run]``: request logs into the lake."""

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
            "--account-id", help="Account of files that carry none (OpenAI Batch input/output "
            "files) or one account for a whole file (LiteLLM, Langfuse).",
        )] = None,
        account_key: Annotated[str | None, typer.Option(
            "--account-key", help="Billing unit of sources that carry several, one for the whole "
            "command (LiteLLM: user|team|key|end_user; Bedrock: arn|account; Langfuse: "
            "user|session; default: detector.toml account_key, else each format's own; "
            "docs/own-logs.md).",
        )] = None,
        dry_run: Annotated[bool, typer.Option(
            "--dry-run", help="Read, detect, map and count; commit nothing; report fill rates "
            "and the rules this source leaves blind.",
        )] = False,
    ) -> None:
        """Ingest request logs; bad lines are quarantined and counted, never fatal."""
        from detector.ingest import ingest_paths

        settings = settings_from(ctx)
        result = ingest_paths(settings, list(paths), fmt=fmt, progress=True,
                              workers=workers or None, account_id=account_id,
                              account_key=account_key, dry_run=dry_run, fill_rates=as_json)
        if as_json:
            sys.stdout.write(result.to_json() + "\n")
            return
        typer.echo(f"{'dry run (nothing stored): ' if dry_run else ''}"
                   f"read {result.read}  accepted {result.accepted}  duplicates "
                   f"{result.duplicates}{_breakdown(result)}  quarantined {result.quarantined}  "
                   f"({len(result.files)} files, {result.seconds:.1f} s)")
        if result.fill_rates is not None:
            typer.echo("fill rates: " + "  ".join(
                f"{k} {v:.0%}" for k, v in result.fill_rates.items()))
            for rule, fields in (result.blind or {}).get("blind_rules", {}).items():
                typer.echo(f"blind rule: {rule} (no {', '.join(fields)})")
        if result.dates:
            typer.echo(f"days touched: {', '.join(result.dates)}")
        if result.rescore_dates:
            typer.echo(f"days marked for re-scoring: {', '.join(result.rescore_dates)}")
        for w in result.warnings:
            typer.echo(f"warning: {w}", err=True)


def _breakdown(result: object) -> str:
    """`` (enriched 3, conflicting 1)`` after the duplicates count, when any."""
    parts = [f"{name} {n}" for name in ("enriched", "conflicting")
             if (n := getattr(result, name))]
    return f" ({', '.join(parts)})" if parts else ""
