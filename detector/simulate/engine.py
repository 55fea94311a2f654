"""The simulation run: plan accounts, generate each unit, serialise, write days and truth."""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import orjson

from detector.errors import ConfigError
from detector.lake.io import write_bytes_atomic
from detector.simulate import benign, distilling, heavy, infra
from detector.simulate.context import Account, Context, Unit
from detector.simulate.corpus import PromptSource, load_corpus
from detector.simulate.scenario import ARCHETYPES, GROUPED, Scenario, load_scenario
from detector.simulate.timing import DAY_S
from detector.simulate.writer import DayWriter

GENERATORS: dict[str, Callable[[Context, Unit], list[Account]]] = {
    name: getattr(benign, name, None) or getattr(heavy, name, None) or getattr(distilling, name)
    for name in ARCHETYPES
}


@dataclass
class SimulationSummary:
    """What a run wrote: files, counts per archetype, wall time (seconds)."""

    out_dir: Path
    scenario: str
    seed: int
    days: int
    accounts: int
    distillers: int
    requests: int
    files: list[Path]
    truth_path: Path
    per_archetype: dict[str, dict[str, int]] = field(default_factory=dict)
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return {"out_dir": str(self.out_dir), "scenario": self.scenario, "seed": self.seed,
                "days": self.days, "accounts": self.accounts, "distillers": self.distillers,
                "requests": self.requests, "files": [str(p) for p in self.files],
                "truth": str(self.truth_path), "per_archetype": self.per_archetype,
                "seconds": round(self.seconds, 3)}


def _counts(mix: dict[str, float], n: int) -> dict[str, int]:
    """Accounts per archetype: largest remainder, at least one for each share > 0 when n allows."""
    raw = {a: mix.get(a, 0.0) * n for a in ARCHETYPES}
    out = {a: int(math.floor(v + 1e-9)) for a, v in raw.items()}
    present = [a for a in ARCHETYPES if mix.get(a, 0.0) > 0]
    if n >= len(present):
        for a in present:
            out[a] = max(out[a], 1)
    diff = n - sum(out.values())
    order = sorted(present, key=lambda a: raw[a] - out[a], reverse=diff > 0)
    i = 0
    while diff != 0 and order:
        a = order[i % len(order)]
        if diff > 0:
            out[a] += 1
            diff -= 1
        elif out[a] > (1 if n >= len(present) else 0):
            out[a] -= 1
            diff += 1
        i += 1
        if i > 10 * n + 100:
            break
    return out


def plan_units(scenario: Scenario, n_accounts: int, seed: int) -> list[tuple[str, int]]:
    """Generation units (archetype, accounts in unit) for ``n_accounts`` accounts in total.

    Grouped archetypes (campus, hydra, low_and_slow) are cut into groups whose sizes are drawn
    log-uniformly from ``cluster_size``; a remainder smaller than the low end joins the last group.
    """
    if n_accounts < 1:
        raise ConfigError(f"--accounts: expected an integer >= 1, got {n_accounts}")
    rng = np.random.default_rng([seed, 0xC105])
    units: list[tuple[str, int]] = []
    for arch, count in _counts(scenario.mix, n_accounts).items():
        if count <= 0:
            continue
        if arch not in GROUPED:
            units += [(arch, 1)] * count
            continue
        lo, hi = scenario.params[arch]["cluster_size"]  # type: ignore[misc]
        sizes: list[int] = []
        left = count
        while left > 0:
            s = int(round(math.exp(rng.uniform(math.log(max(lo, 1)), math.log(max(hi, 1))))))
            s = max(1, min(s, left))
            if left - s < lo and sizes == [] and left - s > 0:
                s = left
            sizes.append(s)
            left -= s
        if len(sizes) > 1 and sizes[-1] < lo:
            tail = sizes.pop()
            sizes[-1] += tail
        units += [(arch, s) for s in sizes]
    return units


def _start_epoch(start_date: str) -> float:
    try:
        d = date.fromisoformat(start_date)
    except ValueError:
        raise ConfigError(f"--start-date: expected YYYY-MM-DD, got {start_date!r}") from None
    return datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp()


def _record(acct: Account, req, rid: str, ts: object, created: str) -> dict:
    rec = {"request_id": rid, "timestamp": ts, "account_id": acct.account_id}
    if acct.org_id:
        rec["org_id"] = acct.org_id
    rec.update({"api_key_id": req.key, "endpoint": req.endpoint, "model": req.model,
                "client_ip": req.ip, "user_agent": req.ua, "payment_fingerprint": acct.payment,
                "account_created_at": created, "request": req.body})
    if req.status == 200:
        rec["response"] = {"status": 200, "finish_reason": req.finish} if req.finish \
            else {"status": 200}
        usage = {"prompt_tokens": req.prompt_tokens, "completion_tokens": req.completion_tokens}
        if req.reasoning_tokens:
            usage["reasoning_tokens"] = req.reasoning_tokens
        rec["usage"] = usage
        rec["latency_ms"] = round(180 + req.prompt_tokens * 0.04
                                  + (req.completion_tokens + req.reasoning_tokens) * 14.0, 1)
    else:
        rec["response"] = {"status": req.status}
        rec["latency_ms"] = 40.0 if req.status == 429 else 95.0
    return rec


class _Run:
    """Serialises generated accounts into the day writer and accumulates the ground truth."""

    def __init__(self, ctx: Context, writer: DayWriter, scenario: Scenario, dates: list[str]) -> None:
        self.ctx, self.writer, self.scenario, self.dates = ctx, writer, scenario, dates
        self.truth: dict[str, dict] = {}
        self.requests = 0
        self.inactive = 0
        self.per_arch: dict[str, dict[str, int]] = {}

    def emit(self, acct: Account, unit: Unit) -> None:
        reqs = acct.requests
        if not reqs:
            self.inactive += 1
            return
        r, g = unit.r, unit.g
        styles = g.choice(3, size=len(reqs), p=self.scenario.timestamp_styles)
        times = np.array([q.t for q in reqs], dtype=float)
        stamps = infra.format_timestamps(times, styles, int(acct.tz_offset_h * 60))
        days = ((times - self.ctx.start) // DAY_S).astype(int).tolist()
        created = infra.rfc3339(acct.created_at)
        dup = self.scenario.duplicate_share
        tok = dtok = 0
        active: set[int] = set()
        for req, ts, day in zip(reqs, stamps, days, strict=True):
            rid = f"req_{r.getrandbits(80):020x}"
            line = orjson.dumps(_record(acct, req, rid, ts, created))
            self.writer.add(day, line)
            if dup and r.random() < dup:
                self.writer.add(min(day + (r.random() < 0.5), len(self.dates) - 1), line)
            active.add(day)
            tok += req.completion_tokens
            if req.distilled:
                dtok += req.completion_tokens
        self.requests += len(reqs)
        stats = self.per_arch.setdefault(acct.archetype, {"accounts": 0, "requests": 0})
        stats["accounts"] += 1
        stats["requests"] += len(reqs)
        self.truth[acct.account_id] = {
            "archetype": acct.archetype, "is_distiller": acct.is_distiller,
            "cluster": acct.cluster, "org_id": acct.org_id,
            "shared_ip_group": acct.shared_ip_group, "requests": len(reqs),
            "completion_tokens": tok, "distilled_completion_tokens": dtok,
            "active_dates": [self.dates[d] for d in sorted(active)],
            "first_active": self.dates[min(active)] if active else None,
            "account_created_at": created,
        }
        acct.requests = []


def simulate(out_dir: str | Path, accounts: int | None, days: int | None, seed: int | None,
             scenario: str | Path | Scenario | None = None, corpus: str | Path | None = None,
             start_date: str = "2026-11-24", gzip: bool = False,
             progress: Callable[[int, int], None] | None = None,
             volume: float | None = None) -> SimulationSummary:
    """Generate labelled traffic: ``requests-YYYY-MM-DD.jsonl[.gz]`` per day plus ``truth.json``.

    Deterministic for (accounts, days, seed, scenario, corpus, start_date, volume).
    ``accounts``, ``days`` or ``seed`` given as None take the scenario's ``[defaults]``;
    ``volume`` (None: the scenario's, default 1.0) multiplies every account's daily request
    volume, the accounts themselves staying the same. ``progress`` is called with (units done,
    units total).
    """
    t0 = time.perf_counter()
    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    if volume is not None:
        if not volume > 0:
            raise ConfigError(f"--volume: expected a multiplier > 0, got {volume}")
        sc = copy.deepcopy(sc)
        sc.volume = float(volume)
    accounts = sc.defaults["accounts"] if accounts is None else accounts
    days = sc.defaults["days"] if days is None else days
    seed = sc.defaults["seed"] if seed is None else seed
    if days < 1:
        raise ConfigError(f"--days: expected an integer >= 1, got {days}")
    start = _start_epoch(start_date)
    pools = load_corpus(Path(corpus), sc.corpus_split) if corpus else {}
    ctx = Context(sc, start, days, PromptSource(pools, sc.corpus_share))
    dates = [(date.fromisoformat(start_date) + timedelta(days=i)).isoformat() for i in range(days)]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for old in list(out.glob("requests-*.jsonl")) + list(out.glob("requests-*.jsonl.gz")):
        old.unlink()
    writer = DayWriter(out, dates, gzip, np.random.default_rng([seed, 0x5EED]))
    run = _Run(ctx, writer, sc, dates)
    units = plan_units(sc, accounts, seed)
    order = np.random.default_rng([seed, 1]).permutation(len(units)).tolist()
    for done, idx in enumerate(order, start=1):
        arch, size = units[idx]
        unit = Unit.seeded(arch, size, seed, idx + 2)
        for acct in GENERATORS[arch](ctx, unit):
            run.emit(acct, unit)
        if progress is not None:
            progress(done, len(units))
    files = writer.close()
    truth = {"seed": seed, "scenario": sc.name, "start_date": start_date, "days": days,
             "volume": sc.volume,
             "corpus_split": sc.corpus_split if corpus else None,
             "release": {"model": ctx.release_model,
                         "at": infra.rfc3339(ctx.release_t)},
             "accounts": run.truth}
    truth_path = out / "truth.json"
    write_bytes_atomic(truth_path, orjson.dumps(truth, option=orjson.OPT_INDENT_2))
    n_dist = sum(1 for v in run.truth.values() if v["is_distiller"])
    return SimulationSummary(out, sc.name, seed, days, len(run.truth), n_dist, run.requests,
                             files, truth_path, run.per_arch, time.perf_counter() - t0)
