"""Occlusion explanations with and without threshold pruning, side by side (run by hand).

Takes a scored home (e.g. one written by ``bench/foreign/score.py`` or ``make bench``), loads
its account features for every scored day and the active model, and explains the account-days
at or above the review threshold twice per round, alternating: with the pruning of
``estimator.occluded_pairs`` (pairs no split threshold separates from the median are not
predicted) and as before it (every row for every feature some tree splits on). Checks that both give identical explanations and
writes timings to ``bench/results/explain.json``.

    .venv/bin/python bench/explain.py --home /tmp/foreign11-home
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
from _meta import stamp, write_atomic

from detector.decide.scoring import account_features
from detector.lake.db import connect
from detector.model import estimator
from detector.model.registry import load_active_model
from detector.settings import load_settings
from detector.verdicts import evaluated_dates

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--home", required=True)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "explain.json")
    args = ap.parse_args()
    settings = load_settings(args.home)
    dates = evaluated_dates(settings)
    con = connect(settings)
    frame = con.sql(f"SELECT * FROM {account_features(con, settings, dates)} "
                    "ORDER BY date, account_id").df()
    model, card = load_active_model(settings)
    flagged = frame.iloc[np.flatnonzero(
        model.predict_proba(frame)[:, 1] >= card["thresholds"]["review"])]
    pruned = estimator.occluded_pairs
    used = estimator.split_features(model.model_)

    def split_features_only(matrix, medians, thresholds, skip=None):
        """Before session 5: every row for every feature some tree splits on."""
        n, k = matrix.shape
        cols = [j for j in range(k) if j in used and (
            not np.isnan(matrix[:, j]).all() if skip is None else j not in skip)]
        return np.tile(np.arange(n), len(cols)), np.repeat(cols, n)

    cases = {"pruned": pruned, "split_features_only": split_features_only}
    times: dict[str, list[float]] = {k: [] for k in cases}
    results = {}
    try:
        for _ in range(args.rounds):
            for name, fn in cases.items():
                estimator.occluded_pairs = fn
                t0 = time.process_time()
                results[name] = model.explain(flagged)
                times[name].append(time.process_time() - t0)
    finally:
        estimator.occluded_pairs = pruned
    matrix = estimator.to_matrix(flagged, list(model.feature_names_in_))
    rows, _ = pruned(matrix, model.medians_, estimator.split_thresholds(model.model_))
    before, _ = split_features_only(matrix, model.medians_, None)
    result = {
        "home": args.home, "dates": dates, "account_days": len(frame),
        "explained_account_days": len(flagged), "features": matrix.shape[1],
        "pairs_predicted": {"pruned": len(rows), "split_features_only": len(before)},
        "pairs_total": int(matrix.size),
        "cpu_seconds_best": {k: round(min(v), 2) for k, v in times.items()},
        "identical_explanations": results["pruned"] == results["split_features_only"],
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        "command": f"python bench/explain.py --home {args.home}",
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    result = {"provenance": stamp("bench/explain.py"), **result}
    write_atomic(args.out, json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
