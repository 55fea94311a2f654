import datetime as dt

import numpy as np
import pandas as pd

from detector.decide.explain import explain_rows, reasons_text
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
