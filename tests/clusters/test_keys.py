"""Blocking-key edges (payment, address, prefix, fingerprint, creation) on hand-built tables."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import duckdb
import pandas as pd
import pytest

from detector.clusters import keys

T0 = datetime(2026, 11, 27, 10, tzinfo=UTC)


def _con(rows: list[dict], nodes: list[dict] | None = None) -> duckdb.DuckDBPyConnection:
    cols = ["account_id", "ts", "client_ip", "ip_prefix", "user_agent", "payment_fingerprint",
            "max_tokens", "temperature", "logprobs", "top_logprobs", "system_hash"]
    df = pd.DataFrame([{c: r.get(c) for c in cols} for r in rows], columns=cols)
    df["ts"] = pd.to_datetime(df["ts"], utc=True)
    for c in ("max_tokens", "top_logprobs"):
        df[c] = df[c].astype("Int64")
    df["temperature"] = df["temperature"].astype("Float64")
    df["logprobs"] = df["logprobs"].astype("boolean")
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.register("_w", df)
    con.execute("CREATE TABLE win AS SELECT * FROM _w")
    nd = pd.DataFrame(nodes or [], columns=["account_id", "created_at"])
    nd["created_at"] = pd.to_datetime(nd["created_at"], utc=True)
    con.register("_n", nd)
    con.execute("CREATE TABLE nodes AS SELECT * FROM _n")
    return con


def _weights(df: pd.DataFrame) -> dict[tuple[str, str], float]:
    return {(s, d): round(w, 4) for s, d, w in zip(df["src"], df["dst"], df["weight"], strict=True)}


def test_payment_pairs_weigh_one_and_big_cards_become_stars():
    rows = [{"account_id": a, "ts": T0, "payment_fingerprint": "pm_1"} for a in "abc"]
    rows += [{"account_id": "d", "ts": T0, "payment_fingerprint": "pm_2"}]
    con = _con(rows)
    pairs = keys.key_pairs(con, "payment", keys.payment_sql(), cap=10, weigh="one")
    assert _weights(pairs) == {("a", "b"): 1.0, ("a", "c"): 1.0, ("b", "c"): 1.0}
    assert json.loads(pairs["evidence"][0])["shared"][0] == {"key": "pm_1", "accounts": 3, "slots": 1}
    # above the cap: no pair edges, but m - 1 star edges to the smallest account id
    assert keys.key_pairs(con, "payment", keys.payment_sql(), cap=2, weigh="one").empty
    star = keys.star_pairs(con, "payment", keys.payment_sql(), cap=2)
    assert sorted(zip(star["src"], star["dst"], strict=True)) == [("a", "b"), ("a", "c")]
    assert json.loads(star["evidence"][0])["star"] is True


def test_shared_address_needs_the_same_hour_and_is_weighted_by_popularity():
    rows = [
        {"account_id": "a", "ts": T0, "client_ip": "198.51.100.7"},
        {"account_id": "b", "ts": T0 + timedelta(minutes=30), "client_ip": "198.51.100.7"},
        {"account_id": "c", "ts": T0 + timedelta(hours=5), "client_ip": "198.51.100.7"},
    ]
    pairs = keys.key_pairs(_con(rows), "ip", keys.address_sql("client_ip", 3600, 1.0), cap=50,
                           normalize=True)
    # three accounts hold the address: each shared slot weighs sqrt(2/3); c was never there
    # in the same hour as a or b
    assert _weights(pairs) == {("a", "b"): round((2 / 3) ** 0.5, 4)}


def test_nat_address_is_weak_and_over_the_cap_makes_nothing():
    nat = [{"account_id": f"u{i:02d}", "ts": T0 + timedelta(minutes=i), "client_ip": "203.0.113.9"}
           for i in range(50)]
    pairs = keys.key_pairs(_con(nat), "ip", keys.address_sql("client_ip", 3600, 1.0), cap=100,
                           normalize=True)
    assert len(pairs) == 50 * 49 // 2
    assert pairs["weight"].max() == pytest.approx((2 / 50) ** 0.5)  # 0.2: below a family's 0.3
    # with the production floor, such a crowd makes no edge at all; above the cap neither
    assert keys.key_pairs(_con(nat), "ip", keys.address_sql("client_ip", 3600, 1.0), cap=100,
                          normalize=True, min_weight=0.25).empty
    assert keys.key_pairs(_con(nat), "ip", keys.address_sql("client_ip", 3600, 1.0), cap=40,
                          normalize=True).empty


def test_address_sprayer_meeting_one_account_by_chance_is_normalised_away():
    rows = [{"account_id": "reseller", "ts": T0, "client_ip": f"192.0.2.{i}"} for i in range(100)]
    rows += [{"account_id": "user", "ts": T0, "client_ip": "192.0.2.5"}]
    pairs = keys.key_pairs(_con(rows), "ip", keys.address_sql("client_ip", 3600, 1.0), cap=50,
                           normalize=True)
    # one shared address of the reseller's 100: 1 / sqrt(100 * 1) = 0.1
    assert _weights(pairs) == {("reseller", "user"): 0.1}


def test_fingerprint_profile_and_generic_user_agents():
    custom = {"user_agent": "harvest/2.1", "max_tokens": 8192, "temperature": 0.7,
              "logprobs": True, "top_logprobs": 20, "system_hash": "s1"}
    stock = {"user_agent": "python-requests/2.32.3", "max_tokens": 8192, "temperature": 0.7}
    rows = [{"account_id": a, "ts": T0, **custom} for a in ("a", "b")]
    rows += [{"account_id": a, "ts": T0, **stock} for a in ("c", "d")]
    # e uses the custom profile for only 1 request in 10: below the 20% share
    rows += [{"account_id": "e", "ts": T0, **custom}]
    rows += [{"account_id": "e", "ts": T0, "user_agent": "curl/8", "max_tokens": 1}] * 9
    pairs = keys.key_pairs(_con(rows), "fingerprint", keys.fingerprint_sql(0.2, 0.25), cap=50)
    assert _weights(pairs) == {("a", "b"): 1.0, ("c", "d"): 0.25}
    key = json.loads(pairs.set_index(["src", "dst"]).loc[("a", "b"), "evidence"])["shared"][0]["key"]
    assert "ua=harvest/2.1" in key and "max_tokens=8192" in key and "logprobs=true/20" in key


def test_creation_burst_scores_by_surprise_against_the_neighbourhood():
    burst = [{"account_id": f"h{i}", "created_at": T0 + timedelta(minutes=5 * i)} for i in range(5)]
    spread = [{"account_id": f"b{i}", "created_at": T0 - timedelta(days=30 + 3 * i)}
              for i in range(20)]
    con = _con([], burst + spread)
    pairs = keys.key_pairs(con, "creation", keys.creation_sql(3600, False), cap=50,
                           weigh="factor")
    # 5 accounts in one hour, nobody else within +-36 hours: (5 - 1 - 0 - 3 * 0) / 5 = 0.8
    assert set(pairs["weight"].round(4)) == {0.8}
    assert len(pairs) == 10
    assert not {"b0", "b1"} & (set(pairs["src"]) | set(pairs["dst"]))


def test_creation_in_a_busy_period_is_no_evidence():
    # 4 sign-ups an hour for three days, then 6 in one hour: lam = 4, 6 - 1 - 4 - 6 < 0
    rows = [{"account_id": f"x{h}_{k}", "created_at": T0 + timedelta(hours=h, minutes=10 * k)}
            for h in range(-36, 37) for k in range(6 if h == 0 else 4)]
    pairs = keys.key_pairs(_con([], rows), "creation", keys.creation_sql(3600, False), cap=50,
                           weigh="factor", min_weight=0.15)
    assert pairs.empty


def test_shared_prefix_weighs_half_an_address():
    rows = [{"account_id": "a", "ts": T0, "ip_prefix": "34.82.17.0/24"},
            {"account_id": "b", "ts": T0 + timedelta(minutes=5), "ip_prefix": "34.82.17.0/24"}]
    pairs = keys.key_pairs(_con(rows), "prefix", keys.address_sql("ip_prefix", 3600, 0.5),
                           cap=50, normalize=True)
    assert _weights(pairs) == {("a", "b"): 0.5}
