"""Campaign pass: low-and-slow groups among accounts the per-account detector already flagged.

Runs after ``decide`` (``detector run`` / ``detector daily``). Some operations share nothing
pairwise (own addresses, apps, timing; real-looking questions), so the account graph cannot
link them; what gives them away is the *set*: each member walks its own slice of one topic
space. The set-level sweep search (``sweeps.py``) finds such sets, but over *all* accounts
ordinary people both dilute its evidence and end up in its groups. Among *suspects* (accounts
with a review or block verdict on any day of the look-back window up to the day, never a
later one) the same search is sharp: the per-account detector reviews most low-and-slow
members one by one, and the campaign pass ties them into one case.

No feedback: a campaign does not change any decision and is not joined onto the account
features the classifier reads (``features/cluster`` is untouched), so a benign account
flagged by mistake cannot be escalated by the distillers it happens to be grouped with, and
running ``decide`` again gives the same decisions. What changes: the members' verdicts of the
day get the campaign's ``cluster_id`` (they had none: accounts already in a linked cluster
are not candidates) and the reason ``campaign_sweep``; ``clusters list|show`` and the API show
the campaign with kind ``campaign`` and its ``coverage`` edges with their evidence.

Stored per day D next to the linked clusters (``store``): ``campaigns.parquet`` (one row per
campaign: cluster_id, date, size, first_seen, previous_cluster_id, kind, volumes),
``campaign_members.parquet`` and ``campaign_edges.parquet``. The cluster stage deletes them
when it re-clusters D (they depend on its clusters); this pass writes them again.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import duckdb
import orjson
import pandas as pd

from detector import verdicts
from detector.clusters import store, sweeps
from detector.clusters.features import volume_table
from detector.clusters.ids import assign_ids
from detector.clusters.params import ClusterParams
from detector.clusters.window import open_text
from detector.lake.db import connect
from detector.lake.io import write_bytes_atomic
from detector.settings import Settings

#: Reason token added to the verdicts of campaign members (see ``decide.explain``).
REASON = "campaign_sweep"
FLAGGED = ("review", "block")


def compute(settings: Settings, dates: list[str], params: ClusterParams | None = None
            ) -> dict[str, int]:
    """Run the campaign pass for each clustered day of ``dates``; campaigns found per day."""
    params = params or settings.clusters
    out: dict[str, int] = {}
    for day in sorted(set(dates)):
        if not params.campaign_enabled or store.read(settings, day, "members") is None:
            continue
        out[day] = campaign_day(settings, day, params)["campaigns"]
    return out


def suspects(settings: Settings, day: str, days: int) -> set[str]:
    """Accounts with a review or block verdict on a day in [day - days + 1, day]."""
    end = date.fromisoformat(day)
    window = [(end - timedelta(days=k)).isoformat() for k in range(days)]
    rows = verdicts.read(settings, ["account_id"], days=window, decisions=FLAGGED, order="")
    return set(rows["account_id"].astype(str))


def _open_suspects(con: duckdb.DuckDBPyConnection, day: str, days: int,
                   accounts: list[str]) -> None:
    """``nodes`` = suspects active on ``day`` and view ``win_text`` over their window."""
    con.register("_sus", pd.DataFrame({"account_id": pd.Series(accounts, dtype=object)}))
    con.execute("CREATE OR REPLACE TEMP VIEW day AS SELECT * FROM requests "
                f"WHERE CAST(date AS DATE) = DATE '{day}'")
    con.execute("""CREATE OR REPLACE TEMP TABLE nodes AS
                   SELECT DISTINCT account_id FROM day
                   WHERE account_id IN (SELECT CAST(account_id AS VARCHAR) FROM _sus)""")
    con.unregister("_sus")
    open_text(con, day, days)


def campaign_day(settings: Settings, day: str, params: ClusterParams) -> dict[str, Any]:
    """Find, store and annotate the campaigns of one day; returns a summary (also stored)."""
    t0 = time.perf_counter()
    window = max(int(w) for w in params.windows)
    linked = store.read(settings, day, "members")
    clustered = set(linked["account_id"]) if linked is not None else set()
    flagged = sorted(suspects(settings, day, window) - clustered)
    summary: dict[str, Any] = {"date": day, "window_days": window, "suspects": len(flagged),
                               "campaigns": 0, "members": 0, "sweep": None}
    res = sweeps.SweepResult()
    con = connect(settings)
    try:
        if len(flagged) >= params.sweep_min_group:
            _open_suspects(con, day, window, flagged)
            p = replace(params, sweep_partition=params.campaign_partition,
                        sweep_min_group_surprise=params.campaign_min_group_surprise)
            res = sweeps.search(con, p, set(), settings.home / "embeddings" / "cache")
            summary["sweep"] = {"vectors": res.vector_source, "seconds": res.seconds,
                                **res.counts}
        tables = _tables(settings, day, params, res, linked, con)
    finally:
        con.close()
    store.write_campaigns(settings, day, *tables)
    annotate_verdicts(settings, day, tables[1], tables[0])
    summary.update(campaigns=len(res.groups), members=int(sum(map(len, res.groups))),
                   seconds=round(time.perf_counter() - t0, 2))
    write_bytes_atomic(store.day_dir(settings, day) / "campaigns.json",
                       orjson.dumps(summary, option=orjson.OPT_INDENT_2))
    return summary


def _previous(settings: Settings, day: str, params: ClusterParams,
              taken: set[str]) -> tuple[pd.DataFrame | None, dict[str, str]]:
    """Previous day's campaign members (ids the day's linked clusters hold removed) and the
    first_seen of each of its campaigns."""
    d = date.fromisoformat(day)
    for k in range(1, params.carry_lookback_days + 1):
        prev = (d - timedelta(days=k)).isoformat()
        members = store.read(settings, prev, "campaign_members")
        if members is not None:
            camps = store.read(settings, prev, "campaigns")
            first = (dict(zip(camps["cluster_id"], camps["first_seen"].astype(str), strict=True))
                     if camps is not None else {})
            return members[~members["cluster_id"].isin(taken)], first
    return None, {}


def _tables(settings: Settings, day: str, params: ClusterParams, res: sweeps.SweepResult,
            linked: pd.DataFrame | None,
            con: duckdb.DuckDBPyConnection) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(campaigns, campaign_members, campaign_edges) of the day, ids carried over."""
    groups, infos, edges = res.groups, res.group_info, res.edges
    taken = set(linked["cluster_id"]) if linked is not None else set()
    prev_members, first = _previous(settings, day, params, taken)
    # fresh ids cannot clash with the day's linked clusters: those are derived from other
    # member sets (clustered accounts are never candidates) and carried ids are filtered above
    ids = assign_ids(groups, prev_members, params.carry_min_jaccard)
    rows = [(cid, a) for cid, ms in zip(ids["cluster_id"], groups, strict=True) for a in ms]
    members = pd.DataFrame(rows, columns=["cluster_id", "account_id"])
    ends = pd.concat([edges[["src", "weight"]].set_axis(["account_id", "weight"], axis=1),
                      edges[["dst", "weight"]].set_axis(["account_id", "weight"], axis=1)])
    agg = ends.groupby("account_id")["weight"].agg(degree="size", strength="sum")
    members = members.merge(agg, left_on="account_id", right_index=True, how="left")
    members["degree"] = members["degree"].fillna(0).astype("int64")
    members["strength"] = members["strength"].fillna(0.0).astype("float64")
    members["date"] = pd.Timestamp(day).date()
    edges = edges.copy()
    edges["family"] = "coverage"
    edges["window"] = f"{max(int(w) for w in params.windows)}d"
    edges["pair_score"] = edges["weight"].astype("float64")
    edges["linked"] = True  # the group test, not a pairwise score, is what links them
    edges["date"] = pd.Timestamp(day).date()
    camps = ids[["cluster_id", "previous_cluster_id"]].copy()
    camps["date"] = pd.Timestamp(day).date()
    camps["size"] = [len(g) for g in groups]
    camps["kind"] = "campaign"
    camps["first_seen"] = [first.get(p, day) if isinstance(p, str) else day
                           for p in camps["previous_cluster_id"]]
    if groups:
        vols = volume_table(con, members)
        camps = camps.merge(vols, on="cluster_id", how="left").drop(columns=["union_prompts"])
        camps["group_surprise_nats"] = [i["group_surprise_nats"] for i in infos]
        camps["random_sets_as_disjoint"] = [i["random_sets_as_disjoint"] for i in infos]
    return camps, members, edges


def annotate_verdicts(settings: Settings, day: str, members: pd.DataFrame,
                      camps: pd.DataFrame) -> int:
    """Give campaign members of ``day`` the campaign's cluster_id and reason (decisions are
    untouched), through ``verdicts.annotate``. Idempotent: earlier campaign annotations of the
    day are removed first. Returns the verdict rows annotated."""
    owner = dict(zip(members["account_id"], members["cluster_id"], strict=True))
    size = dict(zip(camps["cluster_id"], camps["size"], strict=True))
    hits = 0

    def tag(v: pd.DataFrame) -> pd.DataFrame | None:
        nonlocal hits
        was = v["reasons"].fillna("").str.split(";").map(lambda r: REASON in r)
        if not was.any() and members.empty:
            return None
        v.loc[was, "cluster_id"] = None
        v.loc[was, "reasons"] = v.loc[was, "reasons"].map(
            lambda r: ";".join(x for x in r.split(";") if x != REASON))
        v.loc[was, "explanation_json"] = v.loc[was, "explanation_json"].map(_drop_campaign)
        hit = v["account_id"].map(owner).notna() & v["cluster_id"].isna()
        v.loc[hit, "cluster_id"] = v.loc[hit, "account_id"].map(owner)
        v.loc[hit, "reasons"] = [";".join([*(x for x in (r or "").split(";") if x), REASON])
                                 for r in v.loc[hit, "reasons"]]
        v.loc[hit, "explanation_json"] = [
            _add_campaign(e, c, int(size[c])) for e, c in zip(v.loc[hit, "explanation_json"],
                                                              v.loc[hit, "cluster_id"],
                                                              strict=True)]
        v["cluster_id"] = v["cluster_id"].astype(object).where(v["cluster_id"].notna(), None)
        hits = int(hit.sum())
        return v

    verdicts.annotate(settings, day, tag)
    return hits


def _add_campaign(explanation: str | None, cluster_id: str, size: int) -> str:
    data = json.loads(explanation) if explanation else {}
    data["campaign"] = {"cluster_id": cluster_id, "size": size,
                        "why": "flagged accounts that split one topic sweep between them"}
    return json.dumps(data, sort_keys=True)  # as decide.explain writes it


def _drop_campaign(explanation: str | None) -> str | None:
    if not explanation:
        return explanation
    data = json.loads(explanation)
    data.pop("campaign", None)
    return json.dumps(data, sort_keys=True)
