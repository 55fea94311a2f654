"""`detector retention` (every artefact's retention now) and `detector erase --account ID`
(one account's personal data removed everywhere, audited). See docs/security.md."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from detector.cli.common import handle_errors, settings_from


def register(app: typer.Typer) -> None:
    @app.command("retention")
    @handle_errors
    def retention(
        ctx: typer.Context,
        as_json: Annotated[bool, typer.Option("--json", help="One JSON object on stdout.")] = False,
    ) -> None:
        """Delete what each artefact's retention setting no longer allows (retention_days,
        features_/embeddings_cache_/clusters_/verdicts_/cases_/ingest_held_retention_days;
        the same runs after each ingest when retention_days > 0, the held store's always)."""
        from detector.privacy import apply_all_retention

        settings = settings_from(ctx)
        settings.apply_file_mode()
        out = apply_all_retention(settings)
        if as_json:
            sys.stdout.write(json.dumps(out) + "\n")
            return
        for artefact, gone in out.items():
            typer.echo(f"{artefact}: {len(gone)} removed")
            for item in gone:
                typer.echo(f"  {item}")

    @app.command("erase")
    @handle_errors
    def erase(
        ctx: typer.Context,
        account: Annotated[str, typer.Option("--account", help="The account id, exactly.")],
        actor: Annotated[str, typer.Option("--actor", help="Who asks (audit log).")] = "cli",
        as_json: Annotated[bool, typer.Option("--json", help="One JSON object on stdout.")] = False,
    ) -> None:
        """Remove an account's personal data from the lake, quarantine, features, embedding
        cache, clusters, verdicts, returning index, reports and case store; print what went
        and what is kept (and why). Audited as account.erase under the account's pseudonym."""
        from detector.privacy import erase_account

        settings = settings_from(ctx)
        settings.apply_file_mode()
        res = erase_account(settings, account, actor=actor).as_dict()
        if as_json:
            sys.stdout.write(json.dumps(res) + "\n")
            return
        typer.echo(f"erased account, now {res['account']} in what is kept")
        for what, n in sorted(res["removed"].items()):
            typer.echo(f"  removed {what}: {n}")
        if not res["removed"]:
            typer.echo("  nothing held this account")
        typer.echo("kept:")
        for what, why in res["kept"].items():
            typer.echo(f"  {what}: {why}")
