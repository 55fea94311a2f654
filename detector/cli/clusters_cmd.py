"""`detector clusters list|show|compute`: coordinated account clusters and their evidence."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from detector.cli.common import fail, handle_errors, settings_from

out = Console()
err = Console(stderr=True)

_LIST_COLUMNS = ("cluster_id", "kind", "size", "first_seen", "clu_total_requests", "clu_shared_payment",
                 "clu_template_overlap", "clu_timing_sync", "clu_new_account_share")


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 1000 else f"{value:.0f}"
    return str(value)


def _print_list(rows: list[dict[str, Any]]) -> None:
    table = Table(title=f"clusters on {rows[0]['date']}" if rows else "clusters")
    for col in _LIST_COLUMNS:
        table.add_column(col.removeprefix("clu_"))
    for row in rows:
        table.add_row(*[_fmt(row.get(c)) for c in _LIST_COLUMNS])
    out.print(table)


def _print_cluster(c: dict[str, Any]) -> None:
    out.print(f"[bold]{c['cluster_id']}[/bold] on {c['date']} (seen {', '.join(c['days'])}): "
              f"{c.get('kind', 'linked')}, {c['size']} accounts, first seen {c['first_seen']}")
    feats = {k: v for k, v in c.items() if k.startswith("clu_")}
    out.print("  " + "  ".join(f"{k}={_fmt(v)}" for k, v in feats.items()))
    members = Table(title="members")
    for col in ("account_id", "degree", "strength"):
        members.add_column(col)
    for m in c["members"]:
        members.add_row(m["account_id"], _fmt(m["degree"]), _fmt(m["strength"]))
    out.print(members)
    edges = Table(title="edges (evidence)")
    for col in ("src", "dst", "type", "window", "weight", "linked", "evidence"):
        edges.add_column(col)
    for e in c["edges"]:
        edges.add_row(e["src"], e["dst"], e["edge_type"], e["window"], _fmt(e["weight"]),
                      "yes" if e["linked"] else "", json.dumps(e["evidence"], sort_keys=True))
    out.print(edges)


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="Coordinated account clusters: members and the evidence linking them.",
                        no_args_is_help=True)
    app.add_typer(group, name="clusters")

    @group.command("list")
    @handle_errors
    def list_cmd(
        ctx: typer.Context,
        date: Annotated[str | None, typer.Option("--date", help="Day (YYYY-MM-DD); default: latest clustered.")] = None,
        limit: Annotated[int, typer.Option("--limit", help="At most this many clusters (largest first).")] = 50,
        json_out: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
    ) -> None:
        """Clusters of one day, largest first."""
        from detector.clusters import list_clusters
        from detector.clusters.store import clustered_days

        settings = settings_from(ctx)
        if date is not None and date not in clustered_days(settings):
            fail(f"--date {date}: no clusters for that day (clustered: "
                 f"{', '.join(clustered_days(settings)) or 'none'}; run `detector run` first)")
        rows = list_clusters(settings, date)[: max(limit, 0)]
        if json_out:
            typer.echo(json.dumps(rows))
        elif not rows:
            err.print("no clusters")
        else:
            _print_list(rows)

    @group.command("show")
    @handle_errors
    def show_cmd(
        ctx: typer.Context,
        cluster_id: Annotated[str, typer.Argument(help="Cluster id, e.g. c_1a2b3c4d5e6f.")],
        date: Annotated[str | None, typer.Option("--date", help="Day (YYYY-MM-DD); default: latest it exists.")] = None,
        json_out: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
    ) -> None:
        """One cluster: features, members and every edge with its evidence."""
        from detector.clusters import show_cluster

        settings = settings_from(ctx)
        c = show_cluster(settings, cluster_id, date)
        if c is None:
            where = f" on {date}" if date else ""
            fail(f"cluster {cluster_id!r}: not found{where} under {settings.home / 'clusters'}")
        if json_out:
            typer.echo(json.dumps(c))
        else:
            _print_cluster(c)

    @group.command("compute")
    @handle_errors
    def compute_cmd(
        ctx: typer.Context,
        date: Annotated[list[str] | None, typer.Option("--date", help="Day to cluster; repeatable.")] = None,
        all_days: Annotated[bool, typer.Option("--all", help="Every ingested day.")] = False,
    ) -> None:
        """Cluster accounts for the given days (also done by `detector run`); the campaign pass
        runs again on the verdicts already written (none before the first `detector run`)."""
        from detector.clusters.campaigns import campaign_day
        from detector.clusters.pipeline import compute_day
        from detector.lake.db import lake_dates

        settings = settings_from(ctx)
        known = lake_dates(settings)
        days = known if all_days else sorted(set(date or []))
        if not days:
            fail("clusters compute: give --date YYYY-MM-DD or --all")
        missing = [d for d in days if d not in known]
        if missing:
            fail(f"--date {', '.join(missing)}: no ingested data for that day "
                 f"(ingested days: {', '.join(known) or 'none'})")
        params = settings.clusters
        for day in days:
            with err.status(f"clustering {day}"):
                s = compute_day(settings, day, params, set(known))
            err.print(f"{day}: {s['clusters']} clusters, {s['clustered_accounts']} of "
                      f"{s['accounts']} accounts, {s['seconds']['total_s']} s")
            if params.campaign_enabled:
                c = campaign_day(settings, day, params)
                err.print(f"{day}: {c['campaigns']} campaigns among {c['suspects']} flagged "
                          "accounts")
