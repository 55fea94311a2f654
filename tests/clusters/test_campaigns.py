"""Campaign pass: the sweep search among flagged accounts, after decide, without feedback.

Population from ``test_sweeps``: a group of 4 accounts splitting 160 topics between them, 14
independent sweepers of the same topics and 20 casual accounts. Verdicts are written by hand
(the pass reads decisions, whoever made them).
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from detector.clusters import campaigns, compute, list_clusters, show_cluster
from detector.clusters.params import ClusterParams
from detector.clusters.store import read
from detector.clusters.sweeps import signed_communities
from detector.verdicts import VERDICT_SCHEMA

from .conftest import DAY, write_lake
from .test_sweeps import _cache, _population

#: The population is small (4 members, 40 prompts each): a lower group threshold, as in
#: test_sweeps; the test checks mechanics and evidence, not the operating point.
P = replace(ClusterParams(), campaign_min_group_surprise=10.0)


def _verdicts(settings, day: str, decisions: dict[str, str]) -> None:
    rows = [{"account_id": a, "date": date.fromisoformat(day), "score": 0.6 if d != "allow" else 0.1,
             "decision": d, "reasons": "w7_hv_output_input_ratio" if d != "allow" else "",
             "cluster_id": None, "model_score": 0.6, "anomaly_score": 0.0, "rule_hits": [],
             "shadow_hits": [], "explanation_json": json.dumps({"sources": ["model"]}),
             "model_version": "t", "ruleset_hash": "h", "feature_run_id": "f", "run_id": "r",
             "created_at": pd.Timestamp("2026-11-28", tz="UTC")} for a, d in sorted(decisions.items())]
    path = settings.verdicts_dir / f"date={day}" / "verdicts.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=VERDICT_SCHEMA), path)


def _setup(home, flagged_prefixes=("grp_", "ind_")) -> tuple[list[str], list[str]]:
    rows, vectors, group = _population()
    write_lake(home, rows)
    _cache(home, vectors)
    compute(home, [DAY], P)  # linked clusters: the group shares nothing pairwise
    accounts = sorted({r["account_id"] for r in rows})
    _verdicts(home, DAY, {a: "review" if a.startswith(flagged_prefixes) else "allow"
                          for a in accounts})
    return group, accounts


def test_group_of_flagged_accounts_becomes_a_campaign(home) -> None:
    group, _ = _setup(home)
    assert not read(home, DAY, "members")["account_id"].isin(group).any()
    before = pq.read_table(home.verdicts_dir / f"date={DAY}" / "verdicts.parquet").to_pandas()
    assert campaigns.compute(home, [DAY], P) == {DAY: 1}
    members = read(home, DAY, "campaign_members")
    assert sorted(members["account_id"]) == group
    cid = members["cluster_id"].iloc[0]
    # verdicts: the campaign id and reason on members, decisions untouched
    after = pq.read_table(home.verdicts_dir / f"date={DAY}" / "verdicts.parquet").to_pandas()
    assert after["decision"].tolist() == before["decision"].tolist()
    tagged = after[after["cluster_id"].notna()]
    assert sorted(tagged["account_id"]) == group and set(tagged["cluster_id"]) == {cid}
    assert all(r.split(";") == ["w7_hv_output_input_ratio", campaigns.REASON]
               for r in tagged["reasons"])
    assert json.loads(tagged["explanation_json"].iloc[0])["campaign"]["size"] == 4
    # shown like any cluster, with kind and coverage evidence
    listed = {c["cluster_id"]: c for c in list_clusters(home, DAY)}
    assert listed[cid]["kind"] == "campaign" and listed[cid]["size"] == 4
    assert listed[cid]["clu_total_requests"] == 160
    assert listed[cid]["summary"].startswith("campaign: 4 flagged accounts split one topic sweep")
    assert listed[cid]["group_surprise_nats"] >= 10 and listed[cid]["random_sets_as_disjoint"] <= 0.01
    shown = show_cluster(home, cid)
    assert {m["account_id"] for m in shown["members"]} == set(group)
    assert shown["edges"] and {e["edge_type"] for e in shown["edges"]} == {"coverage"}
    assert shown["edges"][0]["evidence"]["shared_topics"] == 0
    summary = json.loads((home.home / "clusters" / f"date={DAY}" / "campaigns.json").read_text())
    assert summary["suspects"] == 18 and summary["campaigns"] == 1
    # the classifier's cluster features are untouched: no feedback into scores
    feats = pq.read_table(home.features_dir / "cluster" / f"date={DAY}" / "part-0.parquet")
    assert feats.to_pandas().set_index("account_id").loc[group, "cluster_id"].isna().all()


def test_rerun_is_idempotent(home) -> None:
    _setup(home)
    campaigns.compute(home, [DAY], P)
    path = home.verdicts_dir / f"date={DAY}" / "verdicts.parquet"
    first = pq.read_table(path).to_pandas()
    campaigns.compute(home, [DAY], P)
    second = pq.read_table(path).to_pandas()
    pd.testing.assert_frame_equal(first, second)
    assert len(read(home, DAY, "campaigns")) == 1


def test_unflagged_group_is_not_searched(home) -> None:
    group, accounts = _setup(home, flagged_prefixes=("ind_",))
    assert campaigns.compute(home, [DAY], P) == {DAY: 0}
    assert read(home, DAY, "campaign_members").empty
    assert [c for c in list_clusters(home, DAY) if c["kind"] == "campaign"] == []


def test_annotation_removed_when_campaign_goes(home) -> None:
    group, accounts = _setup(home)
    campaigns.compute(home, [DAY], P)
    _verdicts(home, DAY, {a: "review" if a.startswith("ind_") else "allow" for a in accounts})
    campaigns.compute(home, [DAY], P)
    v = pq.read_table(home.verdicts_dir / f"date={DAY}" / "verdicts.parquet").to_pandas()
    assert v["cluster_id"].isna().all()
    assert not v["reasons"].str.contains(campaigns.REASON).any()


def test_reclustering_drops_stale_campaigns(home) -> None:
    _setup(home)
    campaigns.compute(home, [DAY], P)
    compute(home, [DAY], P)
    assert read(home, DAY, "campaign_members") is None
    assert not (home.home / "clusters" / f"date={DAY}" / "campaigns.json").exists()


def test_suspects_come_from_the_window_up_to_the_day(home) -> None:
    d = date.fromisoformat(DAY)
    _verdicts(home, (d - timedelta(days=3)).isoformat(), {"a": "review", "b": "allow"})
    _verdicts(home, (d - timedelta(days=9)).isoformat(), {"c": "block"})   # outside 7 days
    _verdicts(home, (d + timedelta(days=1)).isoformat(), {"e": "block"})   # later: unknown then
    _verdicts(home, DAY, {"d": "block", "b": "allow"})
    assert campaigns.suspects(home, DAY, 7) == {"a", "d"}


def test_switched_off(home) -> None:
    _setup(home)
    assert campaigns.compute(home, [DAY], replace(P, campaign_enabled=False)) == {}
    assert read(home, DAY, "campaign_members") is None


def test_signed_communities_keep_groups_apart() -> None:
    # two groups of 3 with evidence for inside pairs; a chain link between them; evidence
    # against the cross pairs. Louvain on positive edges may chain them; the signed merge won't.
    w = np.full((6, 6), -2.0)
    for g in ([0, 1, 2], [3, 4, 5]):
        for i in g:
            for j in g:
                w[i, j] = 3.0
    w[2, 3] = w[3, 2] = 4.0
    np.fill_diagonal(w, 0.0)
    assert sorted(signed_communities(w)) == [[0, 1, 2], [3, 4, 5]]


def test_signed_communities_leave_lone_accounts_alone() -> None:
    w = np.array([[0.0, -1.0, 2.0], [-1.0, 0.0, -1.0], [2.0, -1.0, 0.0]])
    assert sorted(signed_communities(w)) == [[0, 2], [1]]


def test_partition_parameter_is_checked() -> None:
    with pytest.raises(ValueError, match="campaign_partition"):
        ClusterParams(campaign_partition="kmeans")


def test_cli_lists_and_shows_a_campaign(home) -> None:
    from typer.testing import CliRunner

    from detector.cli.main import app

    group, _ = _setup(home)
    campaigns.compute(home, [DAY], P)
    cid = read(home, DAY, "campaign_members")["cluster_id"].iloc[0]
    def run(app, args):  # a wide terminal: rich would cut the table cells
        return CliRunner().invoke(app, args, env={"COLUMNS": "250"})

    res = run(app, ["--home", str(home.home), "clusters", "list"])
    assert res.exit_code == 0 and "campaign" in res.stdout, res.output
    res = run(app, ["--home", str(home.home), "clusters", "show", cid])
    assert res.exit_code == 0 and "coverage" in res.stdout and group[0] in res.stdout, res.output
    # `clusters compute` re-clusters the day and runs the campaign pass again
    res = run(app, ["--home", str(home.home), "clusters", "compute", "--date", DAY])
    assert res.exit_code == 0 and "campaigns among" in res.stderr, res.output
    assert sorted(read(home, DAY, "campaign_members")["account_id"]) == group
