"""The decision policy and risk on the executors (``detector.decide.spark_policy``) give the
driver's verdicts: ``score_frame`` with ``engine = "spark"`` (``local[1]``) decides every
account-day as the DuckDB path does (decision, score to 6 decimals, risk, reasons, sources,
explanations, order), on stored feature files with clusters that escalate and a cluster whose
members block only on their pooled evidence; and forcing many more partitions than cluster-days
changes nothing (a cluster-day's rows split over partitions would lose both).

Runs when pyspark and a Java runtime are available; skipped otherwise, except under CI
(``CI=true``), where a missing runtime is a failure.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from detector.decide import returning
from detector.decide.policy import apply_policy
from detector.decide.scoring import policy_config, score_frame
from detector.features import store
from detector.features.assemble import account_features
from detector.lake.db import connect
from detector.model.estimator import DistillationClassifier
from detector.rules import load_ruleset
from detector.settings import load_settings
from tests.decide.test_returning import many, write_lake
from tests.spark_support import spark_marks

pytestmark = spark_marks()

DAYS = ["2026-11-23", "2026-11-24"]
FEATURES = ["x_signal", "vol_requests", "tim_hour_entropy"]
TABLES = {"weekly": ["w7_vol_requests"], "history": ["hist_days_since_first_seen"],
          "coverage": ["cov_n_sampled"], "cluster": ["cluster_id", "clu_size"]}


def _accounts(rng: np.random.Generator) -> pd.DataFrame:
    """Per account-day: random rows, relays, new accounts, rule hits; and three clusters on the
    first day: ``cA`` (five members each blocked by the model on the cluster's pooled requests
    only, one clean member escalated to block), ``cB`` (two of four reviewed: the other two
    escalated to review) and ``cC`` (too few flagged: nothing)."""
    rows = []
    for d, day in enumerate(DAYS):
        for i in range(80):
            rows.append({"account_id": f"a{i:03d}", "date": day,
                         "x_signal": rng.uniform(0, 1), "vol_requests": int(rng.integers(5, 400)),
                         "tim_hour_entropy": rng.uniform(0, 4.5),
                         "div_multiturn_share": rng.uniform(0, 0.6),
                         "inf_distinct_end_users": int(rng.choice([0, 1, 3, 25, 40])),
                         "inf_account_age_days": float(rng.integers(0, 400)),
                         "hist_days_since_first_seen": float(rng.integers(0, 30)),
                         "vol_output_tokens": int(rng.integers(0, 2_000_000)),
                         "hv_output_input_ratio": rng.uniform(0, 30),
                         "vol_active_hours": int(rng.integers(1, 24)),
                         "div_distinct_prompt_ratio": rng.uniform(0.5, 1),
                         "tim_burstiness": rng.uniform(-1, 1),
                         "hv_high_effort_share": rng.uniform(0, 1),
                         "hv_reasoning_token_share": rng.uniform(0, 1),
                         "rel_new_model_share": rng.uniform(0, 1),
                         "w7_vol_requests": int(rng.integers(0, 600)),
                         "cov_n_sampled": int(rng.integers(0, 80)),
                         "cluster_id": None, "clu_size": None})
        if d == 0:
            members = [("cA", 0.99, 15)] * 5 + [("cA", 0.02, 15)]
            members += [("cB", 0.7, 200)] * 2 + [("cB", 0.05, 200)] * 2
            members += [("cC", 0.7, 200)] + [("cC", 0.05, 200)] * 3
            rows.append({**rows[0], "account_id": "n00", "date": DAYS[1], "x_signal": 0.01,
                         "hist_days_since_first_seen": 0.0})  # links to blocked m00 on day 2
            for j, (cluster, x, vol) in enumerate(members):
                rows.append({**rows[j], "account_id": f"m{j:02d}", "x_signal": x,
                             "vol_requests": vol, "w7_vol_requests": vol,
                             "div_multiturn_share": 0.0, "inf_distinct_end_users": 0,
                             "tim_burstiness": 0.5, "hv_high_effort_share": 0.0,
                             "rel_new_model_share": 0.0,
                             "cluster_id": cluster, "clu_size": 6})
    frame = pd.DataFrame(rows)
    frame.loc[frame.index % 7 == 0, ["vol_output_tokens", "vol_active_hours"]] = [2_000_000, 20]
    frame.loc[frame.index % 7 == 0, ["hv_output_input_ratio", "div_multiturn_share"]] = [20.0, 0.0]
    return frame


def _write(settings, frame: pd.DataFrame) -> None:
    daily = [c for c in frame.columns if c not in {c for cs in TABLES.values() for c in cs}]
    for day in DAYS:
        part = frame[frame["date"] == day]
        for table, cols in {"daily": daily, **TABLES}.items():
            cols = [c for c in cols if c not in ("account_id", "date")]
            keep = part if table != "cluster" else part[part["cluster_id"].notna()]
            if keep.empty:
                continue
            data = {"account_id": pa.array(keep["account_id"]),
                    "date": pa.array([dt.date.fromisoformat(day)] * len(keep), pa.date32())}
            for c in cols:
                data[c] = pa.array(keep[c].tolist())
            store.write_table(settings, table, day, pa.table(data))


def _lake(settings, frame: pd.DataFrame) -> None:
    """Three requests per account-day; ``m00`` pays with the card ``n00`` uses the next day,
    its requests carry org ids o2 and o1, ``m01``'s o9."""
    rows = []
    for r in frame[["account_id", "date"]].itertuples(index=False):
        pay = "card-cA" if r.account_id in ("m00", "n00") else f"card-{r.account_id}"
        for i, req in enumerate(many(r.account_id, r.date, 3, pay=pay)):
            org = {"m00": ("o2", "o1", "o2")[i], "m01": "o9"}.get(r.account_id)
            rows.append({**req, "org_id": org})
    write_lake(settings, rows)


def _model(frame: pd.DataFrame, rng: np.random.Generator) -> DistillationClassifier:
    y = (frame["x_signal"] + rng.normal(0, 0.1, len(frame)) > 0.5).astype(int).to_numpy()
    return DistillationClassifier(features=FEATURES, max_iter=30, cv=2).fit(frame[FEATURES], y)


def make_homes(tmp_path_factory, name: str):
    """(DuckDB settings, Spark settings on local[1]) of one home, and the model."""
    rng = np.random.default_rng(11)
    home = tmp_path_factory.mktemp(name) / "home"
    duck = load_settings(home)
    duck.ensure_dirs()
    frame = _accounts(rng)
    _write(duck, frame)
    _lake(duck, frame)
    spark = load_settings(home, engine="spark", spark_master="local[1]")
    return duck, spark, _model(frame, rng)


@pytest.fixture(scope="module")
def homes(tmp_path_factory):
    return make_homes(tmp_path_factory, "spark_policy")


def _score(settings, model) -> pd.DataFrame:
    con = connect(settings)
    try:
        return score_frame(settings, con, account_features(con, settings, DAYS), (model, {}))
    finally:
        con.close()


def _rounded(out: pd.DataFrame) -> pd.DataFrame:
    out = out.copy()
    for c in ("model_score", "score", "anomaly_score", "risk"):
        out[c] = out[c].round(6)
    return out.reset_index(drop=True)


def test_verdicts_on_the_executors_are_the_drivers(homes):
    duck, spark, model = homes
    want, got = _rounded(_score(duck, model)), _rounded(_score(spark, model))
    assert list(got.columns) == list(want.columns)
    pd.testing.assert_frame_equal(got, want, check_dtype=False)
    sources = want.set_index("account_id")["sources"]
    # the scenario exercises what looks across rows: escalation and pooled evidence
    first = want[want["date"].astype(str) == DAYS[0]].set_index("account_id")
    assert "cluster_escalation" in first.loc["m05", "sources"]
    assert first.loc["m05", "decision"] == "block"
    pooled = first.loc[[f"m{j:02d}" for j in range(5)]]  # 15 requests each, 90 in the cluster
    assert (pooled["decision"] == "block").all()
    assert pooled["sources"].map(lambda s: "model_block_thin_evidence" not in s).all()
    assert first.loc[["m08", "m09"], "decision"].tolist() == ["review", "review"]
    assert first.loc[["m12", "m13"], "decision"].tolist() == ["allow", "allow"]
    assert sources.map(lambda s: "model_block_capped" in s).any()
    assert want["rule_hits"].map(len).sum() > 0 and want["shadow_hits"].map(len).sum() > 0
    assert want["explanation_json"].str.contains("rule_values").any()
    # the driver's later steps read what came back: n00 is new and pays with m00's card
    assert want.loc[want["account_id"] == "n00", "sources"].item() == [returning.REASON]


def test_a_cluster_day_is_decided_in_one_partition(homes):
    """Many more partitions than cluster-days: the verdicts do not move. Rows keyed by account
    would scatter ``cA`` (its members then capped at review on their own 15 requests, the
    clean member not escalated) and ``cB``."""
    from detector.decide import spark_policy
    from detector.features.spark_assemble import spark_account_features
    from detector.lake.spark import spark_session

    duck, spark, model = homes
    cfg = policy_config(spark, {})
    view = spark_account_features(spark, DAYS)
    ruleset = load_ruleset()
    hits = ruleset.evaluate_spark(spark_session(spark), view)
    one = spark_policy.decide_view(spark, view, model, hits, cfg, partitions=1)
    many = spark_policy.decide_view(spark, view, model, hits, cfg, partitions=16)
    pd.testing.assert_frame_equal(many, one)
    con = connect(duck)
    try:
        frame = con.sql(f"SELECT * FROM {account_features(con, duck, DAYS)} "
                        "ORDER BY date, account_id").df()
        want = apply_policy(frame, model.predict_proba(frame)[:, 1],
                            ruleset.evaluate(con, "account_features"), cfg)
    finally:
        con.close()
    for c in ("decision", "sources", "cluster_rank", "rule_hits"):
        assert many[c].tolist() == want[c].tolist(), c
    assert (many["cluster_rank"] == 2).sum() == 6 and (many["cluster_rank"] == 1).sum() == 4


def test_allow_lists_on_the_executors(homes):
    """An allow-listed account and an allow-listed org (the smallest org id of the account's
    requests, computed on the executors) are allowed, as on the driver."""
    from detector.decide import spark_policy
    from detector.features.spark_assemble import spark_account_features

    _, spark, model = homes
    cfg = policy_config(spark, {})
    view = spark_account_features(spark, DAYS)
    got = spark_policy.decide_view(spark, view, model, pd.DataFrame(
        columns=["account_id", "date", "rule_name", "action", "score", "shadow"]), cfg,
        allow_accounts={"m02"}, allow_orgs={"o1"})
    allowed = set(got.loc[got["allowlisted"], "account_id"])
    assert allowed == {"m00", "m02"}
    assert (got.loc[got["allowlisted"], "decision"] == "allow").all()
    assert (got.loc[got["account_id"] == "m01", "decision"] == "block").all()
