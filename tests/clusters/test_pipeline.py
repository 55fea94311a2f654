"""End to end on a constructed lake: clusters found, hard negatives kept apart, ids stable."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import detector.clusters as C
from detector.clusters import store
from detector.clusters.catalog import COLUMNS
from detector.errors import InputError

from .conftest import DAY, scenario, write_lake


def _clusters(settings, day=DAY) -> list[set[str]]:
    members = store.read(settings, day, "members")
    return [set(g) for g in members.groupby("cluster_id")["account_id"].apply(list)]


def test_hydra_recovered_and_hard_negatives_apart(home):
    rows, truth = scenario()
    write_lake(home, rows)
    C.compute(home, [DAY])
    groups = _clusters(home)
    hydra = {a for a, c in truth.items() if c == "hydra"}
    assert hydra in groups  # every member, nobody else
    campus = {a for a in truth if a.startswith("campus")}
    assert all(len(g & campus) <= 1 for g in groups)  # the NAT merges no one
    # the reseller relays its end users' traffic (their addresses, agents, templates): a star of
    # pairwise links, not a fleet; neither it nor any end user is clustered (truth: None)
    clustered = set().union(*groups)
    assert "reseller" not in clustered
    assert not any(a.startswith("enduser") for a in clustered)


def test_outputs_follow_the_contract(home):
    rows, truth = scenario()
    write_lake(home, rows)
    C.compute(home, [DAY])
    edges = pq.read_table(store.day_dir(home, DAY) / "edges.parquet").to_pandas()
    assert {"src", "dst", "edge_type", "weight", "evidence"} <= set(edges.columns)
    assert (edges["src"] < edges["dst"]).all()
    assert all(isinstance(json.loads(e), dict) for e in edges["evidence"])
    feats = pq.read_table(store.feature_path(home, DAY))
    assert feats.schema.field("cluster_id").type == pa.string()
    df = feats.to_pandas()
    assert set(df["account_id"]) == set(truth)  # one row per active account
    catalog = {c["name"] for c in COLUMNS}
    assert catalog <= set(df.columns) and {"account_id", "date"} <= set(df.columns)
    hydra = df[df["account_id"].str.startswith("hydra")]
    assert hydra["cluster_id"].nunique() == 1
    assert (hydra["clu_size"] == 8).all()
    assert hydra["clu_total_requests"].iloc[0] == 8 * 40
    assert hydra["clu_total_output_tokens"].iloc[0] == 8 * 40 * 900
    assert hydra["clu_shared_payment"].iloc[0] == 1.0
    assert hydra["clu_new_account_share"].iloc[0] == 1.0
    assert hydra["clu_member_share"].sum() == pytest.approx(1.0)
    loner = df[df["account_id"] == "user00"].iloc[0]
    assert feats.column("cluster_id").null_count == len(df) - 8 - int(df["cluster_id"].notna().sum() - 8)
    assert pd.isna(loner["cluster_id"]) and loner["clu_size"] == 1 and np.isnan(loner["clu_timing_sync"])


def test_list_and_show(home):
    rows, _ = scenario()
    write_lake(home, rows)
    C.compute(home, [DAY])
    listed = C.list_clusters(home)
    assert listed and listed[0]["date"] == DAY
    cid = next(c["cluster_id"] for c in listed if c["size"] == 8)
    shown = C.show_cluster(home, cid)
    assert shown["days"] == [DAY]
    assert {m["account_id"] for m in shown["members"]} == {f"hydra{i:02d}" for i in range(8)}
    kinds = {e["edge_type"] for e in shown["edges"]}
    assert {"payment", "timing", "template"} <= kinds
    assert all(isinstance(e["evidence"], dict) for e in shown["edges"])
    json.dumps(shown)  # plain, JSON-ready values
    assert C.show_cluster(home, "c_unknown") is None
    assert C.list_clusters(home, "2020-01-01") == []


def test_cluster_id_carries_over_when_membership_persists(home):
    rows0, _ = scenario(0)
    rows1, _ = scenario(1, drop=("hydra07",))  # 7 of 8 stay: Jaccard 7/8
    write_lake(home, rows0 + rows1)
    day1 = "2026-11-28"
    C.compute(home, [DAY, day1])
    first = {frozenset(g): cid for cid, g in store.read(home, DAY, "members")
             .groupby("cluster_id")["account_id"].apply(set).items()}
    hydra0 = next(cid for g, cid in first.items() if "hydra00" in g)
    mem1 = store.read(home, day1, "members")
    hydra1 = mem1.loc[mem1["account_id"] == "hydra00", "cluster_id"].iloc[0]
    assert hydra1 == hydra0
    id_map = store.read(home, day1, "id_map").set_index("cluster_id")
    assert id_map.loc[hydra1, "previous_cluster_id"] == hydra0
    assert id_map.loc[hydra1, "jaccard"] == pytest.approx(7 / 8)
    assert id_map.loc[hydra1, "derived_id"] != hydra0
    table = store.read(home, day1, "clusters").set_index("cluster_id")
    assert table.loc[hydra1, "first_seen"] == DAY and table.loc[hydra1, "clu_age_days"] == 1
    assert C.show_cluster(home, hydra0)["days"] == [DAY, day1]


def test_centroids_are_used_when_present(home):
    rows, truth = scenario()
    write_lake(home, rows)
    accounts = sorted(truth)
    rng = np.random.default_rng(0)
    vec = {a: [1.0] + [0.0] * 15 if a.startswith("hydra") else list(rng.normal(size=16))
           for a in accounts}
    table = pa.table({"account_id": accounts, "date": [DAY] * len(accounts),
                      "centroid": pa.array([vec[a] for a in accounts], pa.list_(pa.float32()))})
    path = store.centroid_path(home, DAY)
    path.parent.mkdir(parents=True)
    pq.write_table(table, path)
    C.compute(home, [DAY])
    edges = store.read(home, DAY, "edges")
    emb = edges[edges["edge_type"] == "embedding"]
    assert len(emb) and emb["src"].str.startswith("hydra").all()
    hydra = next(c for c in C.list_clusters(home) if c["size"] == 8)
    assert hydra["clu_centroid_spread"] == pytest.approx(0.0, abs=1e-6)
    campus = {a for a in truth if a.startswith("campus")}
    assert all(len(g & campus) <= 1 for g in _clusters(home))


def test_unknown_day_is_an_input_error(home):
    rows, _ = scenario()
    write_lake(home, rows)
    with pytest.raises(InputError, match="2026-01-01"):
        C.compute(home, ["2026-01-01"])
    with pytest.raises(InputError, match="YYYY-MM-DD"):
        C.compute(home, ["yesterday"])


def test_a_day_without_any_link_writes_empty_tables(home):
    from datetime import timedelta

    from .conftest import T0, req

    rows = [req(f"solo{i}", T0 + timedelta(hours=i), f"hello number {i}", ip=f"192.0.2.{i}")
            for i in range(3)]
    rows.append(req("noprompt", T0, "", ip=None, prompt_text=None, prompt_hash=None))
    write_lake(home, rows)
    C.compute(home, [DAY])
    assert C.list_clusters(home) == []
    feats = pq.read_table(store.feature_path(home, DAY)).to_pandas()
    assert len(feats) == 4 and feats["cluster_id"].isna().all() and (feats["clu_size"] == 1).all()
    assert store.read(home, DAY, "members").empty
    summary = json.loads((store.day_dir(home, DAY) / "summary.json").read_text())
    assert summary["clusters"] == 0 and summary["accounts"] == 4
