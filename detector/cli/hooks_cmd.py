"""`detector hooks list|deliver|worker|retry|replay|record|secret`: the webhook outbox."""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated

import typer

from detector.cli.common import handle_errors, settings_from
from detector.errors import ConfigError

hooks_app = typer.Typer(help="Webhook outbox: list, deliver, retry, replay, record.",
                        no_args_is_help=True)


def _endpoint(settings, name: str):
    for ep in settings.hooks:
        if ep.name == name:
            return ep
    known = ", ".join(ep.name for ep in settings.hooks) or "none configured"
    raise ConfigError(f"--endpoint {name!r}: no such hook endpoint in {settings.home}/detector.toml "
                      f"(known: {known})")


def _when(ts: float | None) -> str:
    if ts is None:
        return ""
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@hooks_app.command("list")
@handle_errors
def list_cmd(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option(help="pending, delivered, dead or shadow.")] = None,
    endpoint: Annotated[str | None, typer.Option(help="Only this endpoint.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="Rows to show, newest first.")] = 50,
    json_out: Annotated[bool, typer.Option("--json", help="One JSON object on stdout.")] = False,
) -> None:
    """Deliveries per endpoint and state, then the latest deliveries."""
    from detector.hooks.outbox import DELIVERY_STATES, delivery_counts, list_deliveries, open_db

    if status is not None and status not in DELIVERY_STATES:
        raise ConfigError(f"--status: expected one of {', '.join(DELIVERY_STATES)}, got {status!r}")
    conn = open_db(settings_from(ctx))
    try:
        counts = delivery_counts(conn)
        rows = list_deliveries(conn, status, endpoint, limit)
        events = conn.execute("SELECT count(*) FROM hook_events").fetchone()[0]
    finally:
        conn.close()
    if json_out:
        typer.echo(json.dumps({"events": events, "counts": counts, "deliveries": rows}))
        return
    typer.echo(f"{events} events in the outbox")
    for name, by_state in counts.items():
        typer.echo(f"  {name}: " + ", ".join(f"{k} {v}" for k, v in by_state.items()))
    for r in rows:
        extra = r["last_error"] or ""
        if r["status"] == "pending":
            extra = f"next {_when(r['next_attempt_at'])} {extra}".strip()
        typer.echo(f"{r['event_id']}  {r['event_type']:<17} {r['subject'] or '':<24} "
                   f"{r['endpoint']:<12} {r['status']:<9} {r['attempts']:>2}  {extra}")


@hooks_app.command("deliver")
@handle_errors
def deliver_cmd(
    ctx: typer.Context,
    until_idle: Annotated[float, typer.Option(
        "--until-idle", min=0, help="Keep retrying for up to this many seconds.")] = 0.0,
) -> None:
    """One delivery pass (or passes until nothing is pending, with --until-idle)."""
    from detector.hooks.delivery import deliver, deliver_until_idle

    settings = settings_from(ctx)
    report = (deliver_until_idle(settings, until_idle) if until_idle else deliver(settings))
    typer.echo(json.dumps(report.as_dict()))


@hooks_app.command("retry")
@handle_errors
def retry_cmd(
    ctx: typer.Context,
    endpoint: Annotated[str | None, typer.Option(help="Only this endpoint.")] = None,
    event: Annotated[list[str] | None, typer.Option(help="Only these event ids; repeatable.")] = None,
    pending: Annotated[bool, typer.Option(
        "--pending", help="Also make waiting deliveries due now (reset their backoff).")] = False,
) -> None:
    """Put dead-lettered deliveries back in the queue (attempts reset); next pass sends them."""
    from detector.hooks.outbox import open_db, retry, transaction

    conn = open_db(settings_from(ctx))
    try:
        with transaction(conn):
            n = retry(conn, endpoint, event, include_pending=pending)
    finally:
        conn.close()
    typer.echo(f"{n} deliveries queued again; run `detector hooks deliver`", err=True)
    typer.echo(json.dumps({"queued": n}))


@hooks_app.command("replay")
@handle_errors
def replay_cmd(
    ctx: typer.Context,
    endpoint: Annotated[str, typer.Option(help="Endpoint to send to (as named in the settings).")],
    event: Annotated[list[str] | None, typer.Option(help="Only these event ids; repeatable.")] = None,
    since: Annotated[str | None, typer.Option(help="Only events created on or after YYYY-MM-DD.")] = None,
    type_: Annotated[str | None, typer.Option("--type", help="Only this event type.")] = None,
) -> None:
    """Send events again (same webhook-id), delivered ones and older ones included."""
    from detector.hooks.outbox import open_db, replay, transaction
    from detector.lake.days import parse_date

    settings = settings_from(ctx)
    ep = _endpoint(settings, endpoint)
    day = parse_date(since, "--since")
    conn = open_db(settings)
    try:
        with transaction(conn):
            n = replay(conn, ep, event, day.isoformat() if day else None, type_)
    finally:
        conn.close()
    typer.echo(f"{n} deliveries queued for {ep.name}; run `detector hooks deliver`", err=True)
    typer.echo(json.dumps({"queued": n}))


@hooks_app.command("record")
@handle_errors
def record_cmd(
    ctx: typer.Context,
    date: Annotated[list[str] | None, typer.Option(help="Verdict day; repeatable.")] = None,
    all_days: Annotated[bool, typer.Option("--all", help="Every evaluated day.")] = False,
) -> None:
    """Enqueue the events implied by verdicts (idempotent: re-running enqueues nothing twice)."""
    from detector.hooks.events import record_verdict_events
    from detector.verdicts import evaluated_days

    settings = settings_from(ctx)
    days = list(date or [])
    if all_days or not days:
        known = [d.isoformat() for d in evaluated_days(settings)]
        days = known if all_days else known[-1:]
    n = record_verdict_events(settings, days)
    typer.echo(json.dumps({"dates": days, "events_enqueued": n}))


@hooks_app.command("worker")
@handle_errors
def worker_cmd(
    ctx: typer.Context,
    once: Annotated[bool, typer.Option("--once", help="One pass, then exit.")] = False,
    max_seconds: Annotated[float, typer.Option(
        "--max-seconds", min=0, help="Stop after this long (0: until SIGTERM/SIGINT).")] = 0.0,
) -> None:
    """Deliver the outbox continuously, retrying on each delivery's schedule (the same worker
    `detector serve` runs in a thread; run this when hooks go out from a separate process)."""
    import signal
    import threading

    from detector.hooks.worker import DeliveryWorker

    settings = settings_from(ctx)
    worker = DeliveryWorker(settings.home, settings)
    if once:
        worker.run_once()
        typer.echo(json.dumps(worker.totals.as_dict()))
        return
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    worker.start()
    done.wait(max_seconds or None)
    worker.stop()
    typer.echo(json.dumps({"passes": worker.passes, **worker.totals.as_dict()}))


@hooks_app.command("secret")
def secret_cmd() -> None:
    """Print a new random signing secret (whsec_...) for a [[hooks]] entry."""
    from detector.hooks.signing import new_secret

    typer.echo(new_secret())


def register(app: typer.Typer) -> None:
    app.add_typer(hooks_app, name="hooks")
