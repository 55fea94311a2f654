"""`detector summary`: a short table of verdicts per day (and detection figures given a truth file)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from detector.cli.common import handle_errors, settings_from
from detector.verdicts import load_verdicts

out = Console()


def register(app: typer.Typer) -> None:
    @app.command("summary")
    @handle_errors
    def summary(
        ctx: typer.Context,
        truth: Annotated[Path | None, typer.Option(help="truth.json of a simulation: add detection figures.")] = None,
    ) -> None:
        """Accounts, reviews and blocks per evaluated day."""
        settings = settings_from(ctx)
        df = load_verdicts(settings)
        table = Table(title=f"verdicts in {settings.home}")
        for col in ("date", "accounts", "allow", "review", "block", "in clusters"):
            table.add_column(col, justify="right")
        for date, day in df.groupby("date"):
            counts = day["decision"].value_counts()
            table.add_row(str(date), str(len(day)), *(str(int(counts.get(d, 0))) for d in ("allow", "review", "block")),
                          str(int(day["cluster_id"].notna().sum())))
        out.print(table)
        if truth is not None:
            from detector.evaluate import evaluate
            from detector.model.dataset import read_truth

            metrics = evaluate(read_truth(truth), df)
            _print_metrics(metrics)


def _print_metrics(m: dict) -> None:
    acct = m.get("accounts", m)
    keys = ["recall_flagged", "recall_blocked", "fpr_flagged", "fpr_blocked",
            "distilled_token_share_flagged", "average_precision"]
    table = Table(title="detection vs truth (accounts)")
    for k in keys:
        table.add_column(k, justify="right")
    table.add_row(*(f"{acct[k]:.4f}" if isinstance(acct.get(k), float) else str(acct.get(k, "")) for k in keys))
    out.print(table)
    per = m.get("per_archetype")
    if per:
        t = Table(title="per archetype (share flagged / blocked)")
        for col in ("archetype", "distiller", "accounts", "flagged", "blocked"):
            t.add_column(col, justify="right")
        for name, row in sorted(per.items()):
            t.add_row(name, str(row.get("is_distiller")), str(row.get("accounts")),
                      f"{row.get('flagged_share', 0):.3f}", f"{row.get('blocked_share', 0):.3f}")
        out.print(t)
