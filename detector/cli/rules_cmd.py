"""`detector rules ...`: list, test and backtest the declarative detection rules."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from detector.cli.common import handle_errors, settings_from
from detector.errors import InputError

rules_app = typer.Typer(help="Declarative detection rules: list, test, backtest, diff.",
                        no_args_is_help=True)

RulesDir = Annotated[Path | None, typer.Option(
    "--rules-dir", envvar="DETECTOR_RULES_DIR",
    help="Folder of rule YAML files (default: the repository's rules/).")]


def register(app: typer.Typer) -> None:
    app.add_typer(rules_app, name="rules")


@rules_app.command("test")
@handle_errors
def test_cmd(rules_dir: RulesDir = None) -> None:
    """Validate every rule file and run every rule's tests; report all failures, exit 1 on any."""
    from detector.rules import collect_ruleset
    from detector.rules.testing import run_rule_tests

    ruleset, problems = collect_ruleset(rules_dir)
    report = run_rule_tests(ruleset)
    for p in problems:
        sys.stdout.write(f"INVALID {p}\n")
    for f in report.failures:
        sys.stdout.write(f"FAIL {f}\n")
    bad = len(problems) + len(report.failures)
    sys.stdout.write(f"{report.rules} rules loaded, {report.rows} test rows run, "
                     f"{len(problems)} invalid, {len(report.failures)} failing\n")
    if bad:
        raise typer.Exit(code=1)


@rules_app.command("list")
@handle_errors
def list_cmd(rules_dir: RulesDir = None,
             as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """List the rules: name, id, status, action, severity, score, condition."""
    from detector.rules import load_ruleset

    ruleset = load_ruleset(rules_dir)
    rows = [{"name": r.name, "id": r.id, "status": r.status, "action": r.action,
             "severity": r.severity, "score": r.score, "title": r.title,
             "condition": r.condition} for r in ruleset.rules]
    if as_json:
        sys.stdout.write(json.dumps({"hash": ruleset.hash, "rules": rows}, indent=2) + "\n")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{len(rows)} rules, hash {ruleset.hash[:12]}")
    for col in ("name", "status", "action", "severity", "score", "condition"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["name"], r["status"], r["action"], r["severity"],
                      "" if r["score"] is None else f"{r['score']:.2f}", r["condition"])
    Console().print(table)


@rules_app.command("backtest")
@handle_errors
def backtest_cmd(
    ctx: typer.Context,
    rules: Annotated[list[str] | None, typer.Argument(help="Rule names or ids (default: all).")] = None,
    since: Annotated[str | None, typer.Option("--since", help="First day, YYYY-MM-DD.")] = None,
    until: Annotated[str | None, typer.Option("--until", help="Last day, YYYY-MM-DD.")] = None,
    truth: Annotated[Path | None, typer.Option("--truth", help="Generated truth.json (labels).")] = None,
    rules_dir: RulesDir = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    out: Annotated[Path | None, typer.Option("--out", help="Also write the JSON result here.")] = None,
) -> None:
    """What the rules would have done on the stored features: hits per day, accounts hit,
    precision / recall against labels (analyst decisions, and --truth when given)."""
    from detector.rules import load_ruleset
    from detector.rules.backtest import backtest, render_backtest
    from detector.rules.labels import read_truth

    settings = settings_from(ctx)
    ruleset = load_ruleset(rules_dir)
    try:
        selected = ruleset.select(rules)
    except KeyError as exc:
        raise InputError(f"rules backtest: {exc.args[0]}") from None
    labels = read_truth(truth) if truth else None
    result = backtest(settings, selected, since=since, until=until, truth=labels)
    payload = result.to_dict()
    if out:
        from detector.lake.io import write_text_atomic
        write_text_atomic(out, json.dumps(payload, indent=2, default=str) + "\n")
    if as_json:
        sys.stdout.write(json.dumps(payload, indent=2, default=str) + "\n")
    else:
        render_backtest(result)


@rules_app.command("diff")
@handle_errors
def diff_cmd(
    ctx: typer.Context,
    candidate_dir: Annotated[Path, typer.Option(
        "--candidate-dir", help="Folder of the candidate rule YAML files.")],
    days: Annotated[int, typer.Option("--days", min=1, help="Last N evaluated days.")] = 7,
    date: Annotated[list[str] | None, typer.Option(
        "--date", help="These evaluated days instead of the last N (repeatable).")] = None,
    rules_dir: RulesDir = None,
    out: Annotated[Path | None, typer.Option(
        "--out", help="JSON file (default: <home>/reports/shadow/rules-<hash>-<day>.json).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the whole diff as JSON.")] = False,
) -> None:
    """Score the last days with the candidate rule set beside the rules in force (shadow, nothing
    written to verdicts): account-days newly flagged, cleared, escalated or de-escalated, by
    signal family."""
    from detector.decide.shadow import run_diff, shadow_days, summary_lines
    from detector.rules import load_ruleset

    settings = settings_from(ctx)
    if not candidate_dir.is_dir():
        raise InputError(f"--candidate-dir {candidate_dir}: not a folder")
    active, candidate = load_ruleset(rules_dir), load_ruleset(candidate_dir)
    dates = shadow_days(settings, days, date)
    label = {"kind": "rules", "active": active.hash, "candidate": candidate.hash,
             "candidate_dir": str(candidate_dir)}
    diff, path = run_diff(settings, dates, label, out, candidate_rules=candidate,
                          active_rules=active)
    if as_json:
        sys.stdout.write(json.dumps(diff, default=str) + "\n")
        return
    sys.stdout.write(f"rules diff: active {active.hash[:12]} -> candidate {candidate.hash[:12]} "
                     f"({candidate_dir})\n")
    for line in summary_lines(diff):
        sys.stdout.write(line + "\n")
    sys.stdout.write(f"diff written to {path}\n")
