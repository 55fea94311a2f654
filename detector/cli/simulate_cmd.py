"""`detector simulate`: generate labelled native-format request logs plus truth.json."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from detector.cli.common import handle_errors


def _progress() -> Progress:
    from rich.console import Console
    return Progress(TextColumn("simulating"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=Console(file=sys.stderr), disable=not sys.stderr.isatty(), transient=True)


@handle_errors
def simulate_command(
    out: Annotated[Path, typer.Option("--out", help="Output folder (one JSONL file per day + truth.json).")],
    accounts: Annotated[int | None, typer.Option(
        "--accounts", min=1, help="Number of accounts (default: the scenario's, else 3000).")] = None,
    days: Annotated[int | None, typer.Option(
        "--days", min=1, help="Number of days (default: the scenario's, else 3).")] = None,
    seed: Annotated[int | None, typer.Option(
        "--seed", help="Random seed; same seed, same files (default: the scenario's, else 7).")] = None,
    scenario: Annotated[str | None, typer.Option(
        "--scenario", help="Scenario TOML file or name in data/scenarios/ (default: demo).")] = None,
    corpus: Annotated[Path | None, typer.Option(
        "--corpus", help="Folder of public prompt corpora (e.g. ../shared/data).")] = None,
    start_date: Annotated[str, typer.Option("--start-date", help="First day (YYYY-MM-DD, UTC).")] = "2026-11-24",
    gzip: Annotated[bool, typer.Option("--gzip", help="Write .jsonl.gz files.")] = False,
    volume: Annotated[float | None, typer.Option(
        "--volume",
        help="Multiply every account's daily request volume (same accounts; default: the "
             "scenario's, else 1.0).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Generate realistic, labelled API traffic (benign and distilling archetypes)."""
    from detector.simulate import load_scenario, simulate

    sc = load_scenario(scenario)
    accounts = accounts if accounts is not None else sc.defaults["accounts"]
    days = days if days is not None else sc.defaults["days"]
    seed = seed if seed is not None else sc.defaults["seed"]
    with _progress() as bar:
        task = bar.add_task("simulate", total=None)

        def tick(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        summary = simulate(out, accounts, days, seed, scenario=sc, corpus=corpus,
                           start_date=start_date, gzip=gzip, progress=tick, volume=volume)
    if as_json:
        sys.stdout.write(json.dumps(summary.as_dict()) + "\n")
    else:
        sys.stdout.write(
            f"wrote {summary.requests} requests from {summary.accounts} accounts "
            f"({summary.distillers} distillers) over {summary.days} days to {summary.out_dir} "
            f"in {summary.seconds:.1f} s; truth: {summary.truth_path}\n")


def register(app: typer.Typer) -> None:
    app.command("simulate")(simulate_command)
