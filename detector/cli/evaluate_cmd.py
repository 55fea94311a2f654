"""`detector evaluate`: score verdicts against a simulator truth.json."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from detector.cli.common import handle_errors, settings_from


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def render_table(result: dict) -> str:
    """A plain-text summary: headline figures and the per-archetype table."""
    lines = [
        f"accounts {result['accounts']['total']} (distillers {result['accounts']['distillers']}, "
        f"without verdicts {result['accounts']['without_verdicts']})",
        f"recall flag {_pct(result['recall']['flag'])}  block {_pct(result['recall']['block'])}   "
        f"benign FPR flag {_pct(result['benign_fpr']['flag'])}  block {_pct(result['benign_fpr']['block'])}",
        f"distilled tokens from flagged {_pct(result['distilled_token_share']['flag'])}  "
        f"blocked {_pct(result['distilled_token_share']['block'])}   AP "
        + ("-" if result["average_precision"] is None else f"{result['average_precision']:.3f}"),
        "",
        f"{'archetype':<20}{'kind':<10}{'accts':>7}{'flag%':>8}{'block%':>8}{'score':>7}{'days':>6}",
    ]
    for arch, row in result["per_archetype"].items():
        days = row["median_days_to_flag"]
        lines.append(f"{arch:<20}{'distill' if row['is_distiller'] else 'benign':<10}"
                     f"{row['accounts']:>7}{_pct(row['flag_rate']):>8}{_pct(row['block_rate']):>8}"
                     f"{row['mean_score']:>7.2f}{'-' if days is None else f'{days:.0f}':>6}")
    return "\n".join(lines) + "\n"


@handle_errors
def evaluate_command(
    ctx: typer.Context,
    truth: Annotated[Path, typer.Option("--truth", help="truth.json written by `detector simulate`.")],
    verdicts: Annotated[Path | None, typer.Option(
        "--verdicts", help="Verdicts file (csv, json or jsonl); default: the home's verdicts.")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Also write the JSON result here.")] = None,
    table: Annotated[bool, typer.Option("--table", help="Print a readable table instead of JSON.")] = False,
) -> None:
    """Recall, false positives, token share, AP, per-archetype table and days-to-detect."""
    from detector.evaluate import evaluate, read_truth, read_verdicts_file, read_verdicts_home
    from detector.lake.io import write_text_atomic

    truth_data = read_truth(truth)
    frame = read_verdicts_file(verdicts) if verdicts else read_verdicts_home(settings_from(ctx))
    result = evaluate(truth_data, frame)
    text = json.dumps(result, indent=2, default=str)
    if out is not None:
        write_text_atomic(out, text + "\n")
    sys.stdout.write(render_table(result) if table else text + "\n")


def register(app: typer.Typer) -> None:
    app.command("evaluate")(evaluate_command)
