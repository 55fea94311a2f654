"""Scenario files load, bad ones fail with a message naming the key; planning is exact."""

from __future__ import annotations

from pathlib import Path

import pytest

from detector.errors import ConfigError
from detector.simulate import load_scenario, plan_units
from detector.simulate.engine import _counts
from detector.simulate.scenario import ARCHETYPES, SCENARIO_DIR, scenario_from_dict

#: The wide benign population: in the training and evaluation scenarios; the demo
#: (`make run`) keeps its earlier mix.
WIDE = ("app_backend", "tutor_app", "heavy_chat", "batch_job", "research_logprobs", "enterprise")


@pytest.mark.parametrize("name", ["demo", "train", "eval", "shift", "volume"])
def test_shipped_scenarios_load(name):
    sc = load_scenario(name)
    assert sc.name == name
    assert abs(sum(sc.mix.values()) - 1.0) < 1e-9
    expected = [a for a in ARCHETYPES if name != "demo" or a not in WIDE]
    assert all(sc.mix[a] > 0 for a in expected)  # every archetype present


def test_eval_and_shift_use_evaluation_corpora_and_other_seeds():
    train, ev, shift = load_scenario("train"), load_scenario("eval"), load_scenario("shift")
    assert train.corpus_split == "train"
    assert ev.corpus_split == shift.corpus_split == "eval"
    assert len({train.defaults["seed"], ev.defaults["seed"], shift.defaults["seed"]}) == 3


def test_default_scenario_is_demo():
    assert load_scenario(None).name == "demo"
    assert (SCENARIO_DIR / "demo.toml").exists()


@pytest.mark.parametrize(("data", "needle"), [
    ({"mix": {"pirates": 1}}, "mix.pirates"),
    ({"mix": {"casual": -1}}, "mix.casual"),
    ({"archetypes": {"hydra": {"cluster_size": [50, 10]}}}, "archetypes.hydra.cluster_size"),
    ({"archetypes": {"hydra": {"speed": 3}}}, "archetypes.hydra.speed"),
    ({"corpus_split": "test"}, "corpus_split"),
    ({"colour": "red"}, "colour"),
])
def test_bad_scenarios_name_the_key(data, needle):
    with pytest.raises(ConfigError, match=needle.replace(".", r"\.")):
        scenario_from_dict(data, "x.toml")


def test_missing_and_invalid_files(tmp_path: Path):
    with pytest.raises(ConfigError, match="not found"):
        load_scenario(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("mix = [", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_scenario(bad)


def test_counts_largest_remainder_hand_computed():
    mix = {a: 0.0 for a in ARCHETYPES}
    mix.update({"casual": 0.5, "hydra": 0.3, "developer": 0.2})
    assert {k: v for k, v in _counts(mix, 10).items() if v} == {"casual": 5, "hydra": 3, "developer": 2}
    got = {k: v for k, v in _counts(mix, 7).items() if v}
    assert sum(got.values()) == 7 and got["casual"] == 4  # 3.5 -> 3 + the largest remainder


@pytest.mark.parametrize("n", [1, 15, 100, 3000])
def test_plan_units_is_exact_and_groups_respect_sizes(n):
    sc = load_scenario("demo")
    units = plan_units(sc, n, 7)
    assert sum(s for _, s in units) == n
    for arch, size in units:
        if arch == "hydra" and n >= 3000:
            lo, hi = sc.params["hydra"]["cluster_size"]
            assert size <= 2 * hi


def test_none_takes_scenario_defaults(tmp_path, small_scenario):
    from detector.simulate import simulate

    small_scenario.defaults = {"accounts": 12, "days": 1, "seed": 3}
    s = simulate(tmp_path, None, None, None, scenario=small_scenario)
    assert (s.days, s.seed) == (1, 3) and s.accounts <= 12
