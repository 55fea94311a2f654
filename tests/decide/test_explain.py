import datetime as dt
import json

import duckdb
import numpy as np
import pandas as pd

from detector.decide.explain import explain_rows, explanation_json, reasons_text, rule_values
from detector.model.estimator import DistillationClassifier


def _frame(n=400, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    # Two redundant, perfectly separating features: occluding either one alone changes nothing.
    a = np.where(y == 1, 10.0, 0.0) + rng.normal(0, 0.1, n)
    b = np.where(y == 1, 10.0, 0.0) + rng.normal(0, 0.1, n)
    noise = rng.normal(0, 1, n)
    return pd.DataFrame({"account_id": [f"a{i}" for i in range(n)], "date": dt.date(2026, 11, 24),
                         "hv_a": a, "hv_b": b, "vol_noise": noise}), y


def test_saturated_scores_fall_back_to_the_most_extreme_features():
    frame, y = _frame()
    model = DistillationClassifier(max_iter=30).fit(frame, y)
    pos = int(frame["hv_a"].idxmax())  # the most extreme account on hv_a
    items = explain_rows(model, frame, np.array([pos]))[pos]
    names = [i["feature"] for i in items]
    assert set(names) <= {"hv_a", "hv_b", "vol_noise"}
    assert {"hv_a", "hv_b"} & set(names)
    for item in items:
        assert item["percentile"] >= 95.0
        assert item["contribution"] is None


def test_reasons_put_rules_first_and_drop_the_model_marker():
    features = [{"feature": "hv_a"}, {"feature": "hv_b"}]
    assert reasons_text(["harvest_x", "model", "cluster_escalation"], features) == \
        "harvest_x;cluster_escalation;hv_a;hv_b"


class _Named:
    """The one attribute ``explain_rows`` reads of a model when contributions are given."""

    feature_names_in_ = np.array(["inf_distinct_end_users", "div_multiturn_share"])


def test_null_integers_and_floats_from_duckdb_are_json_null():
    # as scoring reads the view: a nullable INTEGER comes back as pandas Int32 (pd.NA when null)
    frame = duckdb.connect().sql(
        "SELECT * FROM (VALUES ('a0', DATE '2026-11-24', 7, 0.1234567), "
        "('a1', DATE '2026-11-24', NULL, NULL), ('a2', DATE '2026-11-24', 3, 0.5)) "
        "t(account_id, date, inf_distinct_end_users, div_multiturn_share)").df()
    assert isinstance(frame["inf_distinct_end_users"].dtype, pd.api.extensions.ExtensionDtype)
    picked = [("inf_distinct_end_users", 0.2), ("div_multiturn_share", 0.1)]
    items = explain_rows(_Named(), frame, np.array([0, 1]), contributions=[picked, picked])
    hits = rule_values(frame, [["r"], ["r"], []],
                       {"r": ("inf_distinct_end_users", "div_multiturn_share")})
    docs = [json.loads(explanation_json(["r"], items[i], 0.5, hits[i])) for i in (0, 1)]
    values = [{f["feature"]: f["value"] for f in d["top_features"]} for d in docs]
    assert values[1] == {"inf_distinct_end_users": None, "div_multiturn_share": None}
    assert docs[1]["rule_values"]["r"] == values[1]
    assert [f["percentile"] for f in docs[1]["top_features"]] == [None, None]
    # the other values keep their form: an integer stays an integer, a float is rounded
    assert values[0] == {"inf_distinct_end_users": 7, "div_multiturn_share": 0.123457}
    assert docs[0]["rule_values"]["r"] == values[0]
    assert isinstance(values[0]["inf_distinct_end_users"], int)
    assert hits[2] == {}
