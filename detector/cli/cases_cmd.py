"""`detector cases`: analyst decisions, allow-list, labels and audit log from the shell."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from detector.cases import DECISIONS

if TYPE_CHECKING:
    from detector.cases import CaseStore
from detector.cli.common import fail, handle_errors, settings_from

cases_app = typer.Typer(help="Case state: decisions, allow-list, labels, audit log.",
                        no_args_is_help=True)


def _store(ctx: typer.Context) -> CaseStore:
    settings = settings_from(ctx)
    settings.ensure_dirs()
    from detector.cases import CaseStore
    from detector.hooks import outbox

    return CaseStore(settings, outbox=outbox)  # decisions announce their events


def _print(rows: object) -> None:
    sys.stdout.write(json.dumps(rows, default=str) + "\n")


@cases_app.command("decide")
@handle_errors
def decide(
    ctx: typer.Context,
    account_id: Annotated[str, typer.Argument(help="The account decided on.")],
    decision: Annotated[str, typer.Option("--decision", help=", ".join(DECISIONS))],
    analyst: Annotated[str, typer.Option("--analyst", help="Who decides (audit actor).")],
    note: Annotated[str, typer.Option("--note")] = "",
    date: Annotated[str | None, typer.Option("--date", help="Verdict day (YYYY-MM-DD).")] = None,
) -> None:
    """Record an analyst decision (prints it as JSON)."""
    if decision not in DECISIONS:
        fail(f"--decision: expected one of {', '.join(DECISIONS)}, got {decision!r}")
    _print(_store(ctx).record_decision(account_id, decision, analyst, note, date))


@cases_app.command("list")
@handle_errors
def list_cases(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option("--status", help="Only this case status.")] = None,
) -> None:
    """Cases as a JSON array, most recently updated first."""
    _print(_store(ctx).cases(status))


@cases_app.command("allow")
@handle_errors
def allow(
    ctx: typer.Context,
    reason: Annotated[str, typer.Option("--reason")],
    analyst: Annotated[str, typer.Option("--analyst")],
    account: Annotated[str | None, typer.Option("--account")] = None,
    org: Annotated[str | None, typer.Option("--org")] = None,
    until: Annotated[str | None, typer.Option("--until", help="Date or timestamp.")] = None,
) -> None:
    """Allow-list one account or one organisation (exactly one of --account / --org)."""
    _print(_store(ctx).allowlist_add(account, org, until, reason, analyst))


@cases_app.command("labels")
@handle_errors
def labels(ctx: typer.Context) -> None:
    """Training labels (decisions + explicit labels) as CSV on stdout."""
    _store(ctx).labels().to_csv(sys.stdout, index=False)


@cases_app.command("audit")
@handle_errors
def audit(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option("--limit", min=1)] = 100,
) -> None:
    """The newest audit rows as a JSON array."""
    _print(_store(ctx).audit_log(limit=limit))


def register(app: typer.Typer) -> None:
    app.add_typer(cases_app, name="cases")
