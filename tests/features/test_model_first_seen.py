"""The features run stores the lake's model first-seen table (read again by decide)."""

from __future__ import annotations

from detector.features import compute
from detector.features.store import read_model_first_seen, shift

from .feat_data import req, ts, write_day

D0 = "2026-04-01"


def test_compute_stores_each_models_first_request_over_the_whole_lake(settings):
    write_day(settings, D0, [req("a", ts(D0, 3), model="m-old"), req("b", ts(D0, 5), model="m-old")])
    d1 = shift(D0, 1)
    write_day(settings, d1, [req("a", ts(d1, 7), model="m-new"), req("a", ts(d1, 9), model="m-old")])
    compute(settings, [d1])  # only the second day is featured; first-seen covers the lake
    fs = read_model_first_seen(settings).to_pandas().set_index("model")["first_ts"]
    assert fs["m-old"].isoformat().startswith(f"{D0}T03:00")
    assert fs["m-new"].isoformat().startswith(f"{d1}T07:00")
