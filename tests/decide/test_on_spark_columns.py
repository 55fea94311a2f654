"""With ``engine = "spark"`` the executors decide on ``spark_policy.POLICY_COLUMNS`` of every
feature row (and its org id), and the driver's later steps read only ``on_spark.driver_frame``
of the rows it fetches: the policy and the risk order, the relay-stream candidates, the
returning-actor test and the near fleets' member profile must decide the same on those columns as on every column (a consumer
that starts reading another column fails here, not silently on Spark only)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pandas.testing as pdt

from detector.decide import near_fleets, on_spark, relay_streams, returning, spark_policy
from detector.decide.policy import apply_policy
from detector.decide.risk import frame_risk
from detector.decide.scoring import policy_config
from detector.features import catalog, derive
from detector.rules.evaluate import empty_hits
from detector.settings import load_settings


def _full_frame(n: int, rng: np.random.Generator) -> pd.DataFrame:
    names = [f.name for f in (*catalog.FEATURES, *catalog.HISTORY)]
    names += list(derive.weekly_value_columns()) + ["cov_mmd_ratio", "cov_n_sampled", "clu_size"]
    frame = pd.DataFrame({c: rng.uniform(0, 50, n) for c in dict.fromkeys(names)})
    frame["vol_requests"] = rng.integers(0, 120, n)  # the evidence floor (50) by the day,
    frame["w7_vol_requests"] = frame["vol_requests"] + rng.integers(0, 100, n)  # or the week
    frame["tim_hour_entropy"] = rng.uniform(0, 4.5, n)  # the burst and session guards
    frame["div_multiturn_share"] = rng.uniform(0, 1, n)  # the conversation guard
    frame["inf_distinct_end_users"] = rng.integers(0, 40, n)
    frame["inf_shared_prefix_share"] = rng.uniform(0, 1, n)  # the thin tier's network guard
    frame["vol_distinct_models"] = rng.integers(1, 4, n)  # the model-comparison guard
    frame["vol_top_model_share"] = rng.uniform(0.3, 1, n)
    frame["div_distinct_prompt_ratio"] = rng.uniform(0, 1, n)
    # the near fleets' member profile, met by about a tenth of the rows
    for c in ("hv_cot_lexicon_share", "hv_high_effort_share", "hv_max_tokens_high_share"):
        frame[c] = rng.uniform(0.6, 1, n)
    frame["div_multiturn_share"] = np.where(rng.uniform(0, 1, n) < 0.5, 0.0,
                                            frame["div_multiturn_share"])
    frame["div_distinct_prompt_ratio"] = rng.uniform(0.8, 1, n)
    frame.insert(0, "date", [dt.date(2026, 11, 23 + i % 2) for i in range(n)])
    frame.insert(0, "account_id", [f"a{i:03d}" for i in range(n)])
    frame["cluster_id"] = [f"c{i % 5}" if i % 3 == 0 else None for i in range(n)]
    frame["org_id"] = [f"o{i % 7}" for i in range(n)]
    return frame


def test_policy_and_driver_columns_decide_as_every_column(tmp_path):
    rng = np.random.default_rng(8)
    full = _full_frame(300, rng)
    cols = [c for c in full.columns if c in spark_policy.POLICY_COLUMNS]
    part = full[[*cols, "org_id"]]
    assert len(cols) < len(full.columns) / 4
    settings = load_settings(tmp_path / "home")
    cfg = policy_config(settings, {})
    proba = rng.uniform(0, 1, len(full))
    want = apply_policy(full, proba, empty_hits(), cfg, allow_orgs={"o3"})
    got = apply_policy(part, proba, empty_hits(), cfg, allow_orgs={"o3"})
    pdt.assert_frame_equal(got, want)
    assert (want["decision"] == "block").any() and want["sources"].map(
        lambda s: "model_block_capped" in s).any() and want["allowlisted"].any()
    score = want["score"].to_numpy()
    assert np.array_equal(frame_risk(part, score), frame_risk(full, score))
    # what comes back with the verdicts: the driver's later steps decide the same on it
    verdicts = got.assign(**{c: full[c].astype("float64") for c in spark_policy.DRIVER_COLUMNS})
    driver = on_spark.driver_frame(verdicts, "cov_mmd_ratio")
    assert len(driver.columns) == 7 + len(near_fleets.PROFILE)
    members = near_fleets.members(full)
    assert np.array_equal(near_fleets.members(driver), members) and 0 < members.sum() < len(full)
    relays = relay_streams.candidates(want, full, cfg)
    assert relay_streams.candidates(got, driver, cfg) == relays and relays
    params = returning.Params.from_settings(settings)
    new = returning._new_accounts(full, params)
    pdt.assert_series_equal(returning._new_accounts(driver, params), new)
    assert new.any() and not new.all()
    assert any(c.startswith("cov_") for c in driver.columns)  # relay streams' coverage switch
