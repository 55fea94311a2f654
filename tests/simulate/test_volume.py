"""Volume multiplier, the wide benign population, seed sets and eval_volume's statistics."""

from __future__ import annotations

import csv
import importlib.util
import json
import math
import random
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from detector.simulate import simulate
from detector.simulate.context import truncated_lognormal
from detector.simulate.scenario import scenario_from_dict
from detector.simulate.stats import archetype_stats

REPO = Path(__file__).resolve().parents[2]
WIDE_APPS = ("app_backend", "tutor_app", "batch_job", "research_logprobs")

MIX = {"casual": 4, "developer": 3, "campus": 3, "templated_app": 1, "hydra": 4, "low_and_slow": 3,
       "bulk_harvester": 1, "app_backend": 4, "tutor_app": 2, "heavy_chat": 2, "batch_job": 2,
       "research_logprobs": 2, "enterprise": 4, "eval_runner": 1}
PARAMS = {"templated_app": {"requests_per_day": [100, 200]},
          "bulk_harvester": {"requests_per_day": [100, 200]},
          "eval_runner": {"burst_requests": [50, 100]},
          "campus": {"cluster_size": [6, 6]}, "enterprise": {"cluster_size": [8, 8]},
          "hydra": {"cluster_size": [8, 8]}, "low_and_slow": {"cluster_size": [6, 6]},
          "app_backend": {"requests_per_day": {"median": 60, "sigma": 1.0, "low": 10, "high": 300}},
          "batch_job": {"requests_per_day": [50, 100], "weekend_share": 1.0},
          "tutor_app": {"requests_per_day": [30, 60]},
          "research_logprobs": {"requests_per_day": [30, 60]}}


def _run(tmp: Path, volume: float) -> dict:
    sc = scenario_from_dict({"name": "vol", "mix": MIX, "archetypes": PARAMS}, "vol-test")
    out = tmp / f"v{volume}"
    simulate(out, 80, 2, 11, scenario=sc, volume=volume)
    return json.loads((out / "truth.json").read_text())


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("volume")
    return {v: _run(tmp, v) for v in (0.5, 1.0, 3.0)}


def test_volume_keeps_accounts_and_scales_requests(runs):
    base = runs[1.0]["accounts"]
    assert runs[1.0]["volume"] == 1.0 and runs[3.0]["volume"] == 3.0
    for v in (0.5, 3.0):
        other = runs[v]["accounts"]
        assert set(other) == set(base)  # the same accounts ...
        for a, t in base.items():  # ... with the same identities and archetypes
            for key in ("archetype", "is_distiller", "cluster", "org_id", "shared_ip_group",
                        "account_created_at"):
                assert other[a][key] == t[key], (a, key)
        ratio = sum(t["requests"] for t in other.values()) / sum(t["requests"] for t in base.values())
        assert abs(ratio - v) / v < 0.1, (v, ratio)
        for arch in {t["archetype"] for t in base.values()} - {"eval_runner"}:
            n1 = sum(t["requests"] for t in base.values() if t["archetype"] == arch)
            nv = sum(t["requests"] for t in other.values() if t["archetype"] == arch)
            assert abs(nv / n1 - v) / v < 0.35, (arch, v, nv / n1)


def test_volume_is_validated_and_read_from_toml():
    sc = scenario_from_dict({"volume": 3}, "x")
    assert sc.volume == 3.0
    from detector.errors import ConfigError
    with pytest.raises(ConfigError, match="volume"):
        scenario_from_dict({"volume": 0}, "x")
    with pytest.raises(ConfigError, match="median"):
        scenario_from_dict({"archetypes": {"app_backend": {"requests_per_day": {"median": 5}}}}, "x")


def test_wide_archetypes_volume_spread_and_diversity(tmp_path):
    """App-like archetypes: daily volume log-normal over 10..10,000 (three orders of magnitude);
    their prompts do not repeat (distinct-prompt share stated in docs/simulator.md)."""
    sc = scenario_from_dict({"name": "wide", "mix": {a: 1 for a in WIDE_APPS}}, "wide-test")
    r = random.Random(3)
    spec = sc.params["app_backend"]["requests_per_day"]
    draws = [truncated_lognormal(r, spec) for _ in range(4000)]
    assert min(draws) >= 10 and max(draws) <= 10000
    assert sum(d < 30 for d in draws) > 40 and sum(d > 3000 for d in draws) > 20  # both tails
    assert abs(math.log10(sorted(draws)[2000]) - math.log10(spec["median"])) < 0.1
    out = tmp_path / "wide"
    small = scenario_from_dict({"name": "wide", "mix": {a: 1 for a in WIDE_APPS} | {"heavy_chat": 1,
                                "enterprise": 1}, "archetypes": {
        a: {"requests_per_day": {"median": 300, "sigma": 0.3, "low": 10, "high": 10000}}
        for a in ("app_backend", "tutor_app", "batch_job", "research_logprobs")}}, "wide-test")
    simulate(out, 24, 1, 4, scenario=small)
    stats = archetype_stats(out)
    assert set(stats) == set(WIDE_APPS) | {"heavy_chat", "enterprise"}
    for arch in ("app_backend", "tutor_app", "batch_job"):
        assert stats[arch]["distinct_prompt_share"]["min"] >= 0.9, (arch, stats[arch])
    # the same questions under 1-4 prompt conditions
    assert stats["research_logprobs"]["distinct_prompt_share"]["min"] >= 0.2


def test_seed_sets_are_disjoint_and_training_matches_the_model():
    sets = tomllib.loads((REPO / "data/scenarios/seeds.toml").read_text())
    assert set(sets) == {"training", "development", "final", "spent"}
    for gen in ("sim", "foreign"):
        names = [set(sets[s][gen]) for s in sets]
        assert all(not (a & b) for i, a in enumerate(names) for b in names[i + 1:])
        assert all(s >= 12 for s in sets["development"]["foreign"] + sets["final"]["foreign"]) \
            if gen == "foreign" else all(s >= 1000 for s in sets["development"]["sim"] + sets["final"]["sim"])
    spec = importlib.util.spec_from_file_location("build_default_model",
                                                  REPO / "tools/build_default_model.py")
    build_default_model = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build_default_model)
    assert sets["training"]["sim"] == list(build_default_model.TRAIN_SEEDS)


def _eval_volume():
    spec = importlib.util.spec_from_file_location("eval_volume", REPO / "bench/eval_volume.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["eval_volume"] = mod
    spec.loader.exec_module(mod)
    return mod


def test_wilson_interval():
    ev = _eval_volume()
    assert ev.wilson(0, 0) is None
    lo, hi = ev.wilson(0, 100)
    assert lo == 0.0 and abs(hi - 0.036994) < 1e-5  # the "rule of three"-like bound
    lo, hi = ev.wilson(50, 100)
    assert abs(lo - 0.403832) < 1e-5 and abs(hi - 0.596168) < 1e-5
    lo, hi = ev.wilson(100, 100)
    assert hi == 1.0 and abs(lo - 0.963006) < 1e-5
    lo, hi = ev.wilson(3, 10)
    assert lo < 0.3 < hi and abs(lo - 0.107789) < 1e-5 and abs(hi - 0.603222) < 1e-5


def test_summarise_and_average_precision():
    ev = _eval_volume()
    acc = {"a": {"archetype": "hydra", "is_distiller": True, "distilled_tokens": 100},
           "b": {"archetype": "hydra", "is_distiller": True, "distilled_tokens": 300},
           "c": {"archetype": "casual", "is_distiller": False, "distilled_tokens": 0},
           "d": {"archetype": "casual", "is_distiller": False, "distilled_tokens": 0}}
    rows = [{"account_id": "a", "score": "0.9", "decision": "allow"},
            {"account_id": "a", "score": "0.95", "decision": "block"},
            {"account_id": "b", "score": "0.4", "decision": "allow"},
            {"account_id": "c", "score": "0.6", "decision": "review"},
            {"account_id": "zz", "score": "1", "decision": "block"}]  # not in the truth: ignored
    m = ev.summarise(acc, rows)
    assert m["recall"]["flag"]["k"] == 1 and m["recall"]["block"]["rate"] == 0.5
    assert m["benign_flagged"]["flag"]["rate"] == 0.5 and m["benign_flagged"]["block"]["k"] == 0
    assert m["distilled_token_share"]["flag"] == 0.25
    assert m["per_archetype"]["casual"]["flagged"]["ci95"] == ev.wilson(1, 2)
    # scores a .95, c .6, b .4, d 0 -> precision at the positives 1/1 and 2/3
    assert abs(m["average_precision"] - (0.5 * 1 + 0.5 * 2 / 3)) < 1e-6
    assert ev.average_precision([1, 0, 1], [0.5, 0.5, 0.5]) == pytest.approx(2 / 3)
    assert m["inactive"] == {}


def test_summarise_leaves_out_accounts_that_sent_nothing():
    """An account with no request in the window cannot be seen: not a miss, not a clean
    benign account; counted under inactive, out of every rate."""
    ev = _eval_volume()
    acc = {"a": {"archetype": "sweeper", "is_distiller": True, "distilled_tokens": 10, "requests": 4},
           "q": {"archetype": "sweeper", "is_distiller": True, "distilled_tokens": 0, "requests": 0},
           "c": {"archetype": "runner", "is_distiller": False, "distilled_tokens": 0, "requests": 9},
           "r": {"archetype": "runner", "is_distiller": False, "distilled_tokens": 0, "requests": 0}}
    rows = [{"account_id": "a", "score": "0.9", "decision": "block"},
            {"account_id": "c", "score": "0.6", "decision": "review"}]
    m = ev.summarise(acc, rows)
    assert m["accounts"] == 2 and m["inactive"] == {"runner": 1, "sweeper": 1}
    assert m["recall"]["block"]["rate"] == 1.0 and m["benign_flagged"]["flag"]["rate"] == 1.0
    assert m["per_archetype"]["runner"]["accounts"] == 1


def test_foreign_generator_volume(tmp_path):
    """bench/foreign: --volume keeps the accounts and archetypes and scales the requests."""
    truth, reqs = {}, {}
    for v in (1.0, 3.0):
        out = tmp_path / f"f{v}"
        subprocess.run([sys.executable, str(REPO / "bench/foreign/generate.py"), "--accounts", "80",
                        "--days", "1", "--seed", "12", "--volume", str(v), "--out", str(out),
                        "--data", str(tmp_path / "none")], check=True, capture_output=True)
        with open(out / "truth.csv", encoding="utf-8") as fh:
            truth[v] = {r["account_id"]: r["archetype"] for r in csv.DictReader(fh)}
        reqs[v] = json.loads((out / "summary.json").read_text())["requests"]
    assert truth[1.0] == truth[3.0]
    assert {"app_forwarder", "study_helper", "power_chatter", "research_lab"} <= set(truth[1.0].values())
    assert 2.4 < reqs[3.0] / reqs[1.0] < 3.6


def _foreign_generate_module():
    spec = importlib.util.spec_from_file_location("foreign_generate",
                                                  REPO / "bench/foreign/generate.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_foreign_balanced_shares_give_every_archetype_the_same_accounts():
    gen = _foreign_generate_module()
    table = gen.mix("wide")
    c = gen.counts(2600, "wide", "balanced")
    assert set(c) == set(table) and sum(c.values()) == 2600
    assert max(c.values()) - min(c.values()) <= 1 and min(c.values()) == 2600 // len(table)
    natural = gen.counts(2600, "wide")
    assert natural["eval_runner"] < 30 < c["eval_runner"]  # the rare kinds are what it is for
    with pytest.raises(ValueError, match="shares: expected one of"):
        gen.counts(100, "wide", "even")


def test_eval_volume_refuses_balanced_shares_for_the_simulator(capsys):
    ev = _eval_volume()
    with pytest.raises(SystemExit):
        ev.main(["--generator", "sim", "--shares", "balanced", "--quick"])
    assert "--shares balanced is for --generator foreign" in capsys.readouterr().err


def test_training_and_spent_seeds_are_refused_for_evaluation():
    ev = _eval_volume()
    sets = ev.load_seeds()
    for name in ("training", "spent"):
        with pytest.raises(SystemExit, match=name):
            ev.pick_seeds(name, "sim")
    spent = sets["spent"]["sim"][0]
    with pytest.raises(SystemExit, match=str(spent)):
        ev.pick_seeds(str(spent), "sim")
    assert ev.pick_seeds("final", "sim") == ("final", list(sets["final"]["sim"]))


def test_default_result_files_keep_development_runs_off_the_reported_figures():
    ev = _eval_volume()
    res = REPO / "bench" / "results"
    assert ev.default_out("final", "sim", 1) == res / "eval_volume.json"
    assert ev.default_out("development", "sim", 1) == res / "eval_volume_dev.json"
    assert ev.default_out("final", "foreign", 1) == res / "eval_volume_foreign.json"
    assert ev.default_out("final", "sim", 3) == res / "eval_volume_3days.json"
    assert ev.default_out("development", "foreign", 3) == res / "eval_volume_foreign_3days_dev.json"
    assert ev.default_out("custom", "sim", 1) == res / "eval_volume_custom.json"
    assert ev.default_out("final", "foreign", 1, shares="balanced") == (
        res / "eval_volume_foreign_balanced.json")
    assert ev.default_out("development", "foreign", 3, shares="balanced") == (
        res / "eval_volume_foreign_balanced_3days_dev.json")
    assert ev.default_out("development", "foreign", 1, quick=True) == (
        res / "eval_volume_foreign_quick.json")


def test_a_run_stopped_part_way_leaves_the_levels_it_finished(tmp_path, monkeypatch):
    ev = _eval_volume()
    share = {"rate": 0.5, "ci95": [0.4, 0.6], "k": 1, "n": 2}
    finished = {"recall": {"flag": share, "block": share},
                "benign_flagged": {"flag": share, "block": share}, "average_precision": 0.9,
                "distilled_token_share": {"flag": 1.0, "block": 1.0}, "inactive": {},
                "per_archetype": {}}

    def run_level(level, *args, **kwargs):
        if level > 0.5:
            raise KeyboardInterrupt  # stopped during the second level
        return finished

    monkeypatch.setattr(ev, "run_level", run_level)
    out = tmp_path / "volume.json"
    with pytest.raises(KeyboardInterrupt):
        ev.main(["--levels", "0.5,1", "--out", str(out), "--work", str(tmp_path / "w")])
    doc = json.loads(out.read_text())
    assert doc["complete"] is False and list(doc["levels"]) == ["0.5x"]
    assert doc["levels"]["0.5x"]["average_precision"] == 0.9 and doc["git_commit"]
    assert not list(tmp_path.glob("*.tmp"))
    monkeypatch.setattr(ev, "run_level", lambda *a, **k: finished)
    ev.main(["--levels", "0.5,1", "--out", str(out), "--work", str(tmp_path / "w")])
    doc = json.loads(out.read_text())
    assert doc["complete"] is True and list(doc["levels"]) == ["0.5x", "1x"]
