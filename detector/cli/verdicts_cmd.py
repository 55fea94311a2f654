"""`detector verdicts`: print verdicts (CSV or JSON) on stdout."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from detector.cli.common import fail, handle_errors, settings_from
from detector.decide.reasons import default_rule_words, structured_reasons
from detector.verdicts import CONTRACT_COLUMNS, EXTRA_COLUMNS, evaluated_dates, load_verdicts


def register(app: typer.Typer) -> None:
    @app.command("verdicts")
    @handle_errors
    def verdicts(
        ctx: typer.Context,
        date: Annotated[str | None, typer.Option("--date", help="Only this day (YYYY-MM-DD).")] = None,
        fmt: Annotated[str, typer.Option("--format", help="csv or json.")] = "csv",
    ) -> None:
        """One row per account per evaluated day: account_id, date, score, decision, reasons, cluster_id.

        JSON rows also carry ``reasons_structured``: the reasons as sentences (schema
        ``reason/1``, ``detector.decide.reasons``)."""
        settings = settings_from(ctx)
        if fmt not in ("csv", "json"):
            fail(f"--format: expected 'csv' or 'json', got {fmt!r}")
        if date and date not in evaluated_dates(settings):
            fail(f"--date {date}: no verdicts for that day (evaluated: "
                 f"{', '.join(evaluated_dates(settings)) or 'none'}; run `detector run` first)")
        if fmt == "csv":
            load_verdicts(settings, date).to_csv(sys.stdout, index=False, float_format="%.6f")
            return
        df = load_verdicts(settings, date,
                           columns=[*CONTRACT_COLUMNS, *EXTRA_COLUMNS, "explanation_json"])
        explanations = df.pop("explanation_json").tolist()
        records = json.loads(df.to_json(orient="records", double_precision=6))
        words = default_rule_words()
        for rec, expl in zip(records, explanations, strict=True):
            rec["reasons_structured"] = structured_reasons(rec.get("reasons"), expl, rules=words)
        sys.stdout.write(json.dumps(records) + "\n")
