"""Shared state of one simulation run and the per-account request accumulator.

:class:`Context` knows the window, the models and the release event, the prompt source and the
scenario's parameter ranges. :class:`Unit` is one generation unit (a single account or a group
of accounts) with its own random streams, so results do not depend on generation order.
:class:`Account` collects the requests of one account before they are serialised.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

import numpy as np

from detector.simulate import infra
from detector.simulate.corpus import PromptSource
from detector.simulate.scenario import DISTILLING, VOLUME_PARAMS, Scenario
from detector.simulate.timing import DAY_S

#: Timezones (hours east of UTC) and how common they are among accounts.
TIMEZONES = (-8, -7, -6, -5, -4, -3, 0, 1, 2, 3, 5.5, 7, 8, 9, 10)
TZ_WEIGHTS = (8, 3, 5, 10, 2, 4, 8, 12, 5, 3, 8, 3, 6, 5, 3)
_LOG_SUFFIXES = ("_per_day", "_size", "end_users")


@dataclass
class Request:
    """One request before serialisation (grain: one API call)."""

    t: float
    body: dict
    model: str
    endpoint: str
    ip: str
    ua: str
    key: str
    prompt_tokens: int
    completion_tokens: int
    reasoning_tokens: int
    status: int
    finish: str | None
    distilled: bool


@dataclass
class Account:
    """One simulated account: identity, ground truth and its requests."""

    account_id: str
    archetype: str
    is_distiller: bool
    cluster: str | None
    org_id: str | None
    created_at: float
    payment: str
    tz_offset_h: float
    keys: list[str]
    shared_ip_group: str | None = None
    error_share: float = 0.004
    requests: list[Request] = field(default_factory=list)


def _text_chars(body: dict) -> int:
    msgs = body.get("messages")
    if msgs is not None:
        return sum(len(m["content"]) for m in msgs)
    val = body.get("input", body.get("prompt", ""))
    return len(val) if isinstance(val, str) else sum(len(v) for v in val)


class Context:
    """Everything a generator needs that is shared by all accounts of a run."""

    def __init__(self, scenario: Scenario, start: float, days: int, prompts: PromptSource) -> None:
        self.scenario = scenario
        self.start = start
        self.days = days
        self.end = start + days * DAY_S
        self.prompts = prompts
        self.start_weekday = int(((start // DAY_S) + 3) % 7)  # 1970-01-01 was a Thursday (3)
        self.models = list(scenario.models)
        w = np.array([scenario.models[m] for m in self.models], dtype=float)
        self.model_cum = list(np.cumsum(w / w.sum()))
        self.release_model = scenario.release_model
        rday = scenario.release_day
        if rday is None:
            rday = days // 2
        rday = min(max(int(rday), 0), days - 1)
        hour = scenario.release_hour_utc if days > 1 else min(scenario.release_hour_utc, 6.0)
        self.release_t = start + rday * DAY_S + hour * 3600.0
        self.taxonomy = [(s, t) for s, subs in _taxonomy().items() for t in subs]
        self._ids: set[str] = set()

    # -- time helpers -----------------------------------------------------------------------
    def day_start(self, d: int) -> float:
        return self.start + d * DAY_S

    def is_weekend(self, d: int) -> bool:
        return (self.start_weekday + d) % 7 >= 5

    # -- identities -------------------------------------------------------------------------
    def unique_id(self, r: random.Random, prefix: str, nbits: int = 40) -> str:
        while True:
            out = infra.hex_id(r, prefix, nbits)
            if out not in self._ids:
                self._ids.add(out)
                return out

    def new_account(self, r: random.Random, archetype: str, *, cluster: str | None = None,
                    age_days: float = 100.0, tz: float | None = None, payment: str | None = None,
                    org_id: str | None = "new", n_keys: int = 1) -> Account:
        """An account with fresh random ids; ``age_days`` before the window start (may be < 0)."""
        created = self.start - age_days * DAY_S - r.random() * 3600.0
        return Account(
            account_id=self.unique_id(r, "acct"),
            archetype=archetype,
            is_distiller=archetype in DISTILLING,
            cluster=cluster,
            org_id=self.unique_id(r, "org", 32) if org_id == "new" else org_id,
            created_at=created,
            payment=payment or infra.payment_fingerprint(r),
            tz_offset_h=self.timezone(r) if tz is None else tz,
            keys=[self.unique_id(r, "key", 32) for _ in range(max(1, n_keys))],
        )

    @staticmethod
    def timezone(r: random.Random) -> float:
        return r.choices(TIMEZONES, weights=TZ_WEIGHTS)[0]

    # -- parameters -------------------------------------------------------------------------
    def params(self, archetype: str, r: random.Random) -> dict[str, float]:
        """One draw of every parameter of ``archetype`` from the scenario's ranges.

        Volume parameters (:data:`~detector.simulate.scenario.VOLUME_PARAMS`) are multiplied by
        the scenario's ``volume`` after the draw, so the draws (and everything drawn after them)
        are the same at every volume.
        """
        out: dict[str, float] = {}
        for key, val in self.scenario.params[archetype].items():
            if isinstance(val, dict):
                out[key] = truncated_lognormal(r, val)
            elif isinstance(val, list):
                lo, hi = float(val[0]), float(val[1])
                if key.endswith(_LOG_SUFFIXES) and lo > 0:
                    out[key] = math.exp(r.uniform(math.log(lo), math.log(hi)))
                else:
                    out[key] = r.uniform(lo, hi)
            else:
                out[key] = float(val)  # type: ignore[arg-type]
        vol = self.scenario.volume
        if vol != 1.0:
            for key in VOLUME_PARAMS:
                if key in out:
                    out[key] *= vol
        return out

    # -- models -----------------------------------------------------------------------------
    def base_model(self, r: random.Random) -> str:
        x = r.random()
        for m, c in zip(self.models, self.model_cum, strict=True):
            if x <= c:
                return m
        return self.models[-1]

    def model_at(self, r: random.Random, t: float, preferred: str, adopt_per_day: float) -> str:
        """``preferred`` model, or the newly released one with a probability that grows by
        ``adopt_per_day`` per day since the release (benign adoption is gradual)."""
        if t >= self.release_t and adopt_per_day > 0:
            p = min(0.6, adopt_per_day * (1.0 + (t - self.release_t) / DAY_S))
            if r.random() < p:
                return self.release_model
        return preferred

    # -- requests ---------------------------------------------------------------------------
    def add(self, acct: Account, r: random.Random, t: float, body: dict, *, model: str,
            ip: str, ua: str, completion_median: float, endpoint: str = "/v1/chat/completions",
            reasoning_median: float = 0.0, distilled: bool | None = None,
            key: str | None = None, error_share: float | None = None) -> None:
        """Append one request (dropped when outside the window or before account creation).

        Token usage: prompt tokens ~ characters / 4 plus 4 per message; completion tokens are
        log-normal around ``completion_median`` and capped by the request's max tokens
        (``finish_reason = length`` when capped).
        """
        if not (self.start <= t < self.end) or t < acct.created_at:
            return
        n_msgs = len(body.get("messages", ())) or 1
        prompt_tokens = _text_chars(body) // 4 + 4 * n_msgs + 3
        err = acct.error_share if error_share is None else error_share
        x = r.random()
        if x < err:
            status = 429 if x < err * 0.7 else (400 if x < err * 0.85 else 500)
            completion, reasoning, finish = 0, 0, None
        else:
            status = 200
            cap = body.get("max_tokens") or body.get("max_completion_tokens") \
                or body.get("max_output_tokens") or 16384
            reasoning = int(r.lognormvariate(math.log(reasoning_median), 0.5)) \
                if reasoning_median > 0 else 0
            if endpoint == "/v1/embeddings":
                completion, finish = 0, None
            else:
                completion = max(1, int(r.lognormvariate(math.log(max(completion_median, 1.0)), 0.6)))
                n = body.get("n") or 1
                completion *= n
                finish = "stop"
                if completion + reasoning >= cap * n:
                    completion, finish = max(1, cap * n - reasoning), "length"
                elif body.get("tools") and r.random() < 0.3:
                    finish = "tool_calls"
        acct.requests.append(Request(
            t=t, body=body, model=model, endpoint=endpoint, ip=ip, ua=ua,
            key=key or acct.keys[0], prompt_tokens=prompt_tokens, completion_tokens=completion,
            reasoning_tokens=reasoning, status=status, finish=finish,
            distilled=acct.is_distiller if distilled is None else distilled,
        ))


def truncated_lognormal(r: random.Random, spec: dict) -> float:
    """A log-normal draw around ``spec['median']`` (log-sd ``sigma``) kept inside
    [``low``, ``high``] (redrawn up to 20 times, then clipped); always one ``r.gauss`` per try."""
    lo, hi = float(spec["low"]), float(spec["high"])
    x = float(spec["median"])
    for _ in range(20):
        x = float(spec["median"]) * math.exp(r.gauss(0.0, float(spec["sigma"])))
        if lo <= x <= hi:
            return x
    return min(max(x, lo), hi)


def _taxonomy() -> dict[str, tuple[str, ...]]:
    from detector.simulate.vocab import TAXONOMY
    return TAXONOMY


@dataclass
class Unit:
    """One generation unit: an archetype, how many accounts, and its own random streams."""

    archetype: str
    size: int
    r: random.Random
    g: np.random.Generator

    @classmethod
    def seeded(cls, archetype: str, size: int, seed: int, index: int) -> Unit:
        ss = np.random.SeedSequence([seed, index])
        return cls(archetype, size, random.Random(int(ss.generate_state(2, np.uint64)[0])),
                   np.random.default_rng(ss))
