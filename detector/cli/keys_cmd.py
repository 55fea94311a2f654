"""`detector keys`: create, list and revoke API keys (stored hashed in the case store)."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from detector.cases import ROLES
from detector.cli.common import fail, handle_errors, settings_from

keys_app = typer.Typer(help="API keys for the service (roles: viewer, analyst, admin, hook).",
                       no_args_is_help=True)


@keys_app.command("create")
@handle_errors
def create(
    ctx: typer.Context,
    role: Annotated[str, typer.Option("--role", help="viewer, analyst, admin or hook.")],
    name: Annotated[str, typer.Option("--name", help="Who or what uses it (shown as actor).")] = "",
) -> None:
    """Create a key and print it once on stdout (only its sha256 is stored)."""
    if role not in ROLES:
        fail(f"--role: expected one of {', '.join(ROLES)}, got {role!r}")
    settings = settings_from(ctx)
    settings.ensure_dirs()
    from detector.cases import CaseStore

    secret, rec = CaseStore(settings).create_key(role, name, actor="cli")
    sys.stderr.write(f"created {rec['role']} key {rec['key_id']} ({rec['name']}); "
                     "store it now, it is not shown again\n")
    sys.stdout.write(secret + "\n")


@keys_app.command("list")
@handle_errors
def list_keys(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON array on stdout.")] = False,
) -> None:
    """Every key's id, name, role, creation and revocation time (never the secret)."""
    settings = settings_from(ctx)
    from detector.cases import CaseStore
    rows = CaseStore(settings).keys() if settings.cases_db.exists() else []
    if as_json:
        sys.stdout.write(json.dumps(rows) + "\n")
        return
    for r in rows:
        state = f"revoked {r['revoked_at']}" if r["revoked_at"] else "active"
        sys.stdout.write(f"{r['key_id']}\t{r['role']}\t{r['name']}\t{r['created_at']}\t{state}\n")


@keys_app.command("revoke")
@handle_errors
def revoke(
    ctx: typer.Context,
    key_id: Annotated[str, typer.Argument(help="The key id (8 hex characters after 'dg_').")],
) -> None:
    """Revoke a key; a running service stops accepting it within seconds."""
    settings = settings_from(ctx)
    if not settings.cases_db.exists():
        fail(f"no case store at {settings.cases_db}: no keys to revoke")
    from detector.cases import CaseStore
    rec = CaseStore(settings).revoke_key(key_id, actor="cli")
    sys.stderr.write(f"revoked key {rec['key_id']} ({rec['name']}) at {rec['revoked_at']}\n")


@keys_app.command("revoke-sessions")
@handle_errors
def revoke_sessions(
    ctx: typer.Context,
    key_id: Annotated[str, typer.Argument(help="The key id whose page sessions end.")],
) -> None:
    """End every page session (browser login) of a key, keeping the key; `keys revoke` ends
    them too. Each ended session is audited."""
    settings = settings_from(ctx)
    if not settings.cases_db.exists():
        fail(f"no case store at {settings.cases_db}: no sessions to revoke")
    from detector.cases import CaseStore
    n = CaseStore(settings).revoke_sessions(key_id, actor="cli")
    sys.stderr.write(f"ended {n} page session(s) of key {key_id}\n")


@keys_app.command("dev")
@handle_errors
def dev(ctx: typer.Context) -> None:
    """Print the home's dev key (created on first use). It only works when the service runs
    in dev mode (`serve --dev` or DETECTOR_DEV_MODE=1)."""
    from detector.api.auth import dev_key

    settings = settings_from(ctx)
    settings.ensure_dirs()
    sys.stdout.write(f"{dev_key(settings)}\n")


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")
