"""`detector verdicts`: print verdicts (CSV or JSON) on stdout."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from detector.cli.common import fail, handle_errors, settings_from
from detector.verdicts import evaluated_dates, load_verdicts


def register(app: typer.Typer) -> None:
    @app.command("verdicts")
    @handle_errors
    def verdicts(
        ctx: typer.Context,
        date: Annotated[str | None, typer.Option("--date", help="Only this day (YYYY-MM-DD).")] = None,
        fmt: Annotated[str, typer.Option("--format", help="csv or json.")] = "csv",
    ) -> None:
        """One row per account per evaluated day: account_id, date, score, decision, reasons, cluster_id."""
        settings = settings_from(ctx)
        if fmt not in ("csv", "json"):
            fail(f"--format: expected 'csv' or 'json', got {fmt!r}")
        if date and date not in evaluated_dates(settings):
            fail(f"--date {date}: no verdicts for that day (evaluated: "
                 f"{', '.join(evaluated_dates(settings)) or 'none'}; run `detector run` first)")
        df = load_verdicts(settings, date)
        if fmt == "csv":
            df.to_csv(sys.stdout, index=False, float_format="%.6f")
        else:
            records = json.loads(df.to_json(orient="records", double_precision=6))
            sys.stdout.write(json.dumps(records) + "\n")
