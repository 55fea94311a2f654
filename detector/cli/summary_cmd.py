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
    figures = {
        "recall (flagged)": m["recall"]["flag"], "recall (blocked)": m["recall"]["block"],
        "benign FPR (flagged)": m["benign_fpr"]["flag"], "benign FPR (blocked)": m["benign_fpr"]["block"],
        "distilled tokens flagged": m["distilled_token_share"]["flag"],
        "average precision": m["average_precision"],
    }
    table = Table(title="detection vs truth (per account)")
    for k in figures:
        table.add_column(k, justify="right")
    table.add_row(*(f"{v:.4f}" if isinstance(v, float) else "n/a" for v in figures.values()))
    out.print(table)
    per = m.get("per_archetype") or {}
    t = Table(title="per archetype (share of accounts flagged / blocked)")
    for col in ("archetype", "distiller", "accounts", "flagged", "blocked"):
        t.add_column(col, justify="right")
    for name, row in sorted(per.items(), key=lambda kv: (not kv[1]["is_distiller"], kv[0])):
        t.add_row(name, "yes" if row["is_distiller"] else "no", str(row["accounts"]),
                  f"{row['flag_rate']:.3f}", f"{row['block_rate']:.3f}")
    out.print(t)
