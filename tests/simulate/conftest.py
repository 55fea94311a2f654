"""A small simulation shared by the simulator tests (every archetype present)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from detector.simulate import simulate
from detector.simulate.scenario import scenario_from_dict

#: Every archetype with enough accounts to test its traits; volumes trimmed to stay fast.
SMALL = {
    "name": "small",
    "mix": {"casual": 20, "campus": 10, "newcomer": 5, "developer": 8, "templated_app": 1,
            "classifier_app": 1, "eval_runner": 2, "reseller": 1, "bulk_harvester": 1, "hydra": 12,
            "cot_coercion": 1, "logprob_harvester": 1, "low_and_slow": 6, "release_chaser": 1,
            "proxy_mixer": 1, "app_backend": 2, "tutor_app": 1, "heavy_chat": 1, "batch_job": 1,
            "research_logprobs": 1, "enterprise": 6},
    "archetypes": {
        "templated_app": {"requests_per_day": [300, 400]},
        "classifier_app": {"requests_per_day": [200, 300]},
        "eval_runner": {"burst_requests": [200, 300], "background_per_day": 0},
        "reseller": {"requests_per_day": [300, 400], "end_users": [100, 200]},
        "bulk_harvester": {"requests_per_day": [600, 800]},
        "hydra": {"cluster_size": [12, 12], "requests_per_day": [30, 40]},
        "cot_coercion": {"requests_per_day": [100, 150]},
        "logprob_harvester": {"requests_per_day": [100, 150]},
        "low_and_slow": {"cluster_size": [6, 6], "requests_per_day": [10, 20]},
        "release_chaser": {"pre_release_per_day": [20, 30], "post_release_per_day": [400, 500],
                           "lag_hours": [2, 4]},
        "proxy_mixer": {"requests_per_day": [300, 400], "distill_share": [0.2, 0.3]},
        "app_backend": {"requests_per_day": {"median": 100, "sigma": 1.0, "low": 10, "high": 400}},
        "tutor_app": {"requests_per_day": [50, 100]},
        "heavy_chat": {"requests_per_day": [40, 60]},
        "batch_job": {"requests_per_day": [100, 200], "weekend_share": 1.0},
        "research_logprobs": {"requests_per_day": [50, 100], "active_day_share": 1.0},
        "enterprise": {"cluster_size": [6, 6], "requests_per_day": [5, 20]},
    },
    "release": {"model": "frontier-large-2", "day": 1, "hour_utc": 6.0},
}


def _small():
    return scenario_from_dict(dict(SMALL), "small-test")


@pytest.fixture()
def small_scenario():
    """A fresh copy of the small all-archetype scenario."""
    return _small()


def read_records(out: Path) -> list[dict]:
    recs = []
    for p in sorted(out.glob("requests-*.jsonl*")):
        opener = gzip.open if p.suffix == ".gz" else open
        with opener(p, "rt", encoding="utf-8") as fh:
            for line in fh:
                rec = json.loads(line)
                rec["_file"] = p.name
                recs.append(rec)
    return recs


@pytest.fixture(scope="session")
def small_run(tmp_path_factory):
    """(summary, truth dict, records) of an 82-account, 3-day run with seed 5."""
    out = tmp_path_factory.mktemp("sim")
    summary = simulate(out, 82, 3, 5, scenario=_small())
    truth = json.loads((out / "truth.json").read_text())
    return summary, truth, read_records(out)
