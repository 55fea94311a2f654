"""Scenarios: which archetypes, in what mix, with which parameter ranges (TOML files).

A scenario file (``data/scenarios/*.toml``) overrides the defaults below::

    name = "demo"
    corpus_split = "train"          # which real corpora --corpus may draw from
    [mix]                           # share of accounts per archetype (normalised)
    casual = 0.5
    [archetypes.hydra]              # parameter ranges [low, high], sampled per account/cluster
    cluster_size = [10, 60]

Parameters named ``*_per_day``, ``*_size`` or ``*_users`` are sampled log-uniformly (volumes
span orders of magnitude); other ranges uniformly; scalars are used as given. A table
``{median = M, sigma = S, low = L, high = H}`` is a log-normal draw truncated to [L, H] (the
app-like archetypes' daily volume: three orders of magnitude, most accounts in the middle).

``volume`` (default 1.0) multiplies every account's daily request volume (the parameters in
:data:`VOLUME_PARAMS`) after they are drawn: the same seed gives the same accounts with the same
parameters and behaviour at every volume, only their request counts scale.
"""

from __future__ import annotations

import copy
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from detector.errors import ConfigError
from detector.resources import scenario_dir

BENIGN = ("casual", "campus", "newcomer", "developer", "templated_app", "classifier_app",
          "eval_runner", "reseller", "app_backend", "tutor_app", "heavy_chat", "batch_job",
          "research_logprobs", "enterprise")
DISTILLING = ("bulk_harvester", "hydra", "cot_coercion", "logprob_harvester", "low_and_slow",
              "release_chaser", "proxy_mixer")
ARCHETYPES = BENIGN + DISTILLING
#: Archetypes generated as groups of accounts (one draw of ``cluster_size`` per group).
GROUPED = ("campus", "hydra", "low_and_slow", "enterprise")
#: Parameters that are request volumes: multiplied by the scenario's ``volume``.
VOLUME_PARAMS = ("requests_per_day", "burst_requests", "background_per_day", "pre_release_per_day",
                 "post_release_per_day")

DEFAULT_MIX: dict[str, float] = {
    "casual": 0.46, "campus": 0.05, "newcomer": 0.04, "developer": 0.17,
    "templated_app": 0.003, "classifier_app": 0.003, "eval_runner": 0.004, "reseller": 0.002,
    "bulk_harvester": 0.003, "hydra": 0.12, "cot_coercion": 0.004, "logprob_harvester": 0.003,
    "low_and_slow": 0.03, "release_chaser": 0.002, "proxy_mixer": 0.002,
}

DEFAULT_PARAMS: dict[str, dict[str, object]] = {
    "casual": {"requests_per_day": [2, 40], "active_day_share": [0.4, 1.0],
               "turns_mean": [1.5, 6.0], "age_days": [20, 1200], "completion_median": [150, 650]},
    "campus": {"cluster_size": [8, 40], "requests_per_day": [2, 30], "active_day_share": [0.5, 1.0],
               "turns_mean": [1.5, 5.0], "age_days": [5, 700], "completion_median": [150, 650]},
    "newcomer": {"requests_per_day": [5, 80], "turns_mean": [1.0, 4.0], "age_days": [-3, 2],
                 "completion_median": [150, 650]},
    "developer": {"requests_per_day": [5, 150], "sessions_per_day": [1, 5],
                  "repeat_share": [0.1, 0.6], "active_day_share": [0.5, 1.0],
                  "age_days": [30, 1500], "completion_median": [80, 400]},
    "templated_app": {"requests_per_day": [300, 3000], "end_users": [200, 20000],
                      "age_days": [60, 1200], "completion_median": [80, 250]},
    "classifier_app": {"requests_per_day": [200, 3000], "top_logprobs": [2, 5],
                       "batch_share": [0.0, 1.0], "age_days": [60, 1200]},
    "eval_runner": {"burst_requests": [300, 2500], "burst_hours": [0.5, 4.0], "cot_share": [0.2, 0.7],
                    "models_compared": [1, 3], "background_per_day": [0, 8],
                    "age_days": [30, 1200], "completion_median": [150, 600]},
    "reseller": {"requests_per_day": [500, 4000], "end_users": [50, 2000], "age_days": [90, 1500],
                 "completion_median": [150, 650]},
    "bulk_harvester": {"requests_per_day": [500, 3500], "max_tokens": [4096, 16384],
                       "age_days": [3, 120], "completion_median": [400, 2200],
                       "regular_share": [0.3, 1.0], "error_share": [0.01, 0.06]},
    "hydra": {"cluster_size": [10, 150], "requests_per_day": [25, 120], "cards_per_member": [0.03, 0.2],
              "subnets": [1, 3], "age_days": [0, 6], "completion_median": [800, 2000],
              "ua_variants": [1, 4]},
    "cot_coercion": {"requests_per_day": [100, 1200], "age_days": [3, 300],
                     "completion_median": [700, 1800], "reasoning_share": [0.5, 1.0]},
    "logprob_harvester": {"requests_per_day": [200, 2000], "age_days": [3, 300],
                          "completion_median": [500, 1500]},
    "low_and_slow": {"cluster_size": [4, 20], "requests_per_day": [8, 45], "turns_mean": [1.0, 1.6],
                     "age_days": [30, 600], "completion_median": [600, 1400],
                     "active_day_share": [0.7, 1.0]},
    "release_chaser": {"pre_release_per_day": [10, 80], "post_release_per_day": [800, 4000],
                       "lag_hours": [0.5, 20.0], "age_days": [10, 400], "completion_median": [800, 2000]},
    "proxy_mixer": {"requests_per_day": [500, 4000], "end_users": [30, 600],
                    "distill_share": [0.05, 0.4], "age_days": [60, 900],
                    "completion_median": [150, 650], "distill_completion_median": [900, 2000]},
    # -- the wide benign population: heavy, diverse, legitimate -----------------------------------
    "app_backend": {"requests_per_day": {"median": 250, "sigma": 1.4, "low": 10, "high": 10000},
                    "end_users": [50, 50000], "user_id_share": [0.0, 1.0],
                    "foreign_share": [0.0, 0.7], "age_days": [30, 1500],
                    "completion_median": [150, 700], "multi_turn_share": [0.0, 0.3]},
    "tutor_app": {"requests_per_day": {"median": 150, "sigma": 1.3, "low": 10, "high": 10000},
                  "end_users": [30, 20000], "step_share": [0.3, 0.9], "age_days": [30, 1200],
                  "completion_median": [600, 1600], "foreign_share": [0.0, 0.4]},
    "heavy_chat": {"requests_per_day": [40, 400], "active_day_share": [0.7, 1.0],
                   "turns_mean": [2.0, 10.0], "age_days": [60, 1500],
                   "completion_median": [250, 900], "step_share": [0.0, 0.3]},
    "batch_job": {"requests_per_day": {"median": 600, "sigma": 1.3, "low": 10, "high": 10000},
                  "window_hours": [1.0, 6.0], "age_days": [30, 1200],
                  "weekend_share": [0.0, 1.0]},
    "research_logprobs": {"requests_per_day": {"median": 200, "sigma": 1.2, "low": 10, "high": 10000},
                          "active_day_share": [0.4, 1.0], "conditions": [1, 4],
                          "age_days": [30, 1200], "completion_median": [400, 1500]},
    "enterprise": {"cluster_size": [5, 60], "requests_per_day": [5, 300], "age_days": [30, 1500],
                   "completion_median": [150, 700], "active_day_share": [0.6, 1.0]},
}

DEFAULT_MODELS = {"frontier-large": 0.45, "frontier-mini": 0.4, "frontier-reasoner": 0.15}


@dataclass
class Scenario:
    """A parsed scenario: mix (shares summing to 1), parameter ranges per archetype, options."""

    name: str = "default"
    description: str = ""
    corpus_split: str = "train"
    corpus_share: float = 0.3
    timestamp_styles: tuple[float, float, float] = (0.8, 0.1, 0.1)
    duplicate_share: float = 0.0
    models: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_MODELS))
    release_model: str = "frontier-large-2"
    release_day: int | None = None
    release_hour_utc: float = 17.0
    mix: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_MIX))
    params: dict[str, dict[str, object]] = field(default_factory=lambda: copy.deepcopy(DEFAULT_PARAMS))
    #: Suggested run size for this scenario (used by the CLI when --accounts/--days/--seed are omitted).
    defaults: dict[str, int] = field(default_factory=lambda: {"accounts": 3000, "days": 3, "seed": 7})
    source: str = "<defaults>"
    #: Multiplier of every account's daily request volume (see the module docstring).
    volume: float = 1.0


def _err(source: str, key: str, msg: str) -> ConfigError:
    return ConfigError(f"scenario {source}: '{key}': {msg}")


_LOGNORMAL_KEYS = {"median", "sigma", "low", "high"}


def _check_range(source: str, key: str, value: object) -> object:
    if isinstance(value, dict):
        if set(value) != _LOGNORMAL_KEYS or not all(
                isinstance(v, int | float) and not isinstance(v, bool) for v in value.values()):
            raise _err(source, key, "expected {median, sigma, low, high} numbers, got "
                       f"{value!r}")
        if not 0 < value["low"] <= value["median"] <= value["high"] or value["sigma"] < 0:
            raise _err(source, key, f"expected 0 < low <= median <= high and sigma >= 0, got {value!r}")
        return dict(value)
    if isinstance(value, bool):
        raise _err(source, key, f"expected a number or [low, high], got {value!r}")
    if isinstance(value, int | float):
        return value
    if (isinstance(value, list) and len(value) == 2
            and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)):
        if value[0] > value[1]:
            raise _err(source, key, f"expected low <= high, got {value!r}")
        return value
    raise _err(source, key, f"expected a number or [low, high], got {value!r}")


def _apply_mix(sc: Scenario, raw: object, source: str) -> None:
    if not isinstance(raw, dict):
        raise _err(source, "mix", f"expected a table, got {raw!r}")
    mix = {a: 0.0 for a in ARCHETYPES}
    for key, val in raw.items():
        if key not in ARCHETYPES:
            raise _err(source, f"mix.{key}", f"unknown archetype; expected one of {', '.join(ARCHETYPES)}")
        if not isinstance(val, int | float) or isinstance(val, bool) or val < 0:
            raise _err(source, f"mix.{key}", f"expected a share >= 0, got {val!r}")
        mix[key] = float(val)
    total = sum(mix.values())
    if total <= 0:
        raise _err(source, "mix", "expected at least one share > 0")
    sc.mix = {k: v / total for k, v in mix.items()}


def _apply_params(sc: Scenario, raw: object, source: str) -> None:
    if not isinstance(raw, dict):
        raise _err(source, "archetypes", f"expected a table, got {raw!r}")
    for arch, table in raw.items():
        if arch not in ARCHETYPES:
            raise _err(source, f"archetypes.{arch}", "unknown archetype")
        if not isinstance(table, dict):
            raise _err(source, f"archetypes.{arch}", f"expected a table, got {table!r}")
        for key, val in table.items():
            if key not in DEFAULT_PARAMS[arch]:
                known = ", ".join(DEFAULT_PARAMS[arch])
                raise _err(source, f"archetypes.{arch}.{key}", f"unknown parameter; expected one of {known}")
            sc.params[arch][key] = _check_range(source, f"archetypes.{arch}.{key}", val)


_SCALARS = {"name": str, "description": str, "corpus_split": str, "corpus_share": float,
            "duplicate_share": float, "volume": float}


def scenario_from_dict(data: dict, source: str = "<dict>") -> Scenario:
    """Build a :class:`Scenario` from parsed TOML (defaults for anything not given)."""
    sc = Scenario(source=source)
    for key, val in data.items():
        if key in _SCALARS:
            kind = _SCALARS[key]
            if kind is float and isinstance(val, int | float) and not isinstance(val, bool):
                val = float(val)
            if not isinstance(val, kind):
                raise _err(source, key, f"expected {kind.__name__}, got {val!r}")
            setattr(sc, key, val)
        elif key == "mix":
            _apply_mix(sc, val, source)
        elif key == "archetypes":
            _apply_params(sc, val, source)
        elif key == "models":
            if not isinstance(val, dict) or not val or not all(
                    isinstance(v, int | float) and v >= 0 for v in val.values()):
                raise _err(source, key, f"expected a table of model = share, got {val!r}")
            sc.models = {str(k): float(v) for k, v in val.items()}
        elif key == "timestamp_styles":
            if not (isinstance(val, list) and len(val) == 3 and sum(val) > 0):
                raise _err(source, key, f"expected [utc, offset, epoch_ms] shares, got {val!r}")
            tot = float(sum(val))
            sc.timestamp_styles = (val[0] / tot, val[1] / tot, val[2] / tot)
        elif key == "defaults":
            if not isinstance(val, dict) or not set(val) <= {"accounts", "days", "seed"} or not all(
                    isinstance(v, int) and not isinstance(v, bool) for v in val.values()):
                raise _err(source, key, f"expected integers accounts, days, seed; got {val!r}")
            sc.defaults.update(val)
        elif key == "release":
            if not isinstance(val, dict):
                raise _err(source, key, f"expected a table, got {val!r}")
            sc.release_model = str(val.get("model", sc.release_model))
            day = val.get("day")
            sc.release_day = None if day is None else int(day)
            sc.release_hour_utc = float(val.get("hour_utc", sc.release_hour_utc))
        else:
            raise _err(source, key, "unknown key")
    if sc.corpus_split not in ("train", "eval"):
        raise _err(source, "corpus_split", f"expected 'train' or 'eval', got {sc.corpus_split!r}")
    if not 0.0 <= sc.corpus_share <= 1.0:
        raise _err(source, "corpus_share", f"expected 0..1, got {sc.corpus_share!r}")
    if not sc.volume > 0.0:
        raise _err(source, "volume", f"expected a multiplier > 0, got {sc.volume!r}")
    if not 0.0 <= sc.duplicate_share < 1.0:
        raise _err(source, "duplicate_share", f"expected 0..1, got {sc.duplicate_share!r}")
    return sc


SCENARIO_DIR = scenario_dir()


def load_scenario(path: str | Path | None = None) -> Scenario:
    """Read a scenario TOML file (``None``: ``data/scenarios/demo.toml`` when present).

    A bare name such as ``"eval"`` is looked up in ``data/scenarios/``.
    """
    if path is None:
        default = SCENARIO_DIR / "demo.toml"
        return load_scenario(default) if default.exists() else Scenario()
    p = Path(path)
    if not p.exists() and not p.suffix and (SCENARIO_DIR / f"{p.name}.toml").exists():
        p = SCENARIO_DIR / f"{p.name}.toml"
    if not p.is_file():
        raise ConfigError(f"--scenario {path}: file not found")
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"scenario {p}: not valid TOML ({exc})") from None
    return scenario_from_dict(data, source=str(p))
