"""``detector quarantine list|show``: let an analyst see the bad input lines."""

from __future__ import annotations

import sys
from typing import Annotated

import orjson
import typer

from detector.cli.common import handle_errors, settings_from


def register(app: typer.Typer) -> None:
    qapp = typer.Typer(help="Bad input records, kept verbatim with file, line and reason.",
                       no_args_is_help=True)
    app.add_typer(qapp, name="quarantine")

    @qapp.command("list")
    @handle_errors
    def list_cmd(
        ctx: typer.Context,
        file: Annotated[str | None, typer.Option("--file", help="Only this file (or path suffix).")] = None,
        reason: Annotated[str | None, typer.Option("--reason", help="Only reasons starting so.")] = None,
        limit: Annotated[int, typer.Option("--limit", min=1)] = 50,
        by_reason: Annotated[bool, typer.Option("--summary", help="Counts per reason code.")] = False,
        as_json: Annotated[bool, typer.Option("--json", help="JSON lines on stdout.")] = False,
    ) -> None:
        """List quarantined records (newest first) or a count per reason."""
        from detector.ingest.quarantine import list_quarantine, summary

        settings = settings_from(ctx)
        rows = summary(settings) if by_reason else list_quarantine(settings, file, reason, limit)
        for row in rows:
            if as_json:
                sys.stdout.write(orjson.dumps(row).decode() + "\n")
            elif by_reason:
                typer.echo(f"{row['count']:>8}  {row['reason']}{_label(row)}")
            else:
                typer.echo(f"{row['source_file']}:{row['source_line']}  {row['reason']}"
                           f"{_label(row)}\n    {row['preview']!r}")

    @qapp.command("show")
    @handle_errors
    def show_cmd(
        ctx: typer.Context,
        location: Annotated[str, typer.Argument(help="FILE:LINE as printed by `list`.")],
        raw: Annotated[bool, typer.Option("--raw", help="Write the verbatim bytes only.")] = False,
    ) -> None:
        """Show one quarantined record verbatim, with its reason."""
        from detector.ingest.quarantine import parse_location, show_quarantine

        file, line = parse_location(location)
        for rec in show_quarantine(settings_from(ctx), file, line):
            if raw:
                sys.stdout.buffer.write(rec["raw"] + b"\n")
                continue
            typer.echo(f"file:    {rec['source_file']}\nline:    {rec['source_line']}\n"
                       f"reason:  {rec['reason']}{_label(rec)}\ningest:  {rec['ingest_id']} at "
                       f"{rec['quarantined_at']}\nbytes:   {len(rec['raw'])}\nraw:")
            typer.echo(rec["raw"].decode("utf-8", "replace"))


def _label(row: dict) -> str:
    """Marks a kept record its ingest counted as a duplicate (a conflicting re-delivery)."""
    return "  [counted as duplicate]" if row["counted"] == "duplicates" else ""
