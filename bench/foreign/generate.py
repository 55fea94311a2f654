"""Independent ("foreign") traffic generator for testing how distill-guard generalises.

Written from the public input contract (``/work/shared/spec/request-log.md``) and a published
threat description only, without reading the project's own simulator, features, rules or model.

Run: ``.venv/bin/python bench/foreign/generate.py --accounts 2500 --days 3 --seed 7 --out DIR``

Writes ``DIR/logs/YYYY-MM-DD.jsonl.gz`` (one file per UTC day, records roughly in time order,
plus ``DIR/logs/redelivery.jsonl`` with a few re-delivered duplicates) and ``DIR/truth.csv``
(account_id,label,archetype,group) which is kept outside the log folder.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import random
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benign as B  # noqa: E402
import distill as D  # noqa: E402
import heavy as H  # noqa: E402
from context import Ctx  # noqa: E402
from prompts import load_corpora  # noqa: E402

# archetype: (share of accounts, create, emit). Shares are of the total account count.
MIX = {
    "consumer_chat": (0.345, B.create_consumer, B.emit_consumer),
    "developer_testing": (0.13, B.create_developer, B.emit_developer),
    "multilingual": (0.08, B.create_multilingual, B.emit_multilingual),
    "new_legit": (0.06, B.create_new_legit, B.emit_new_legit),
    "campus_nat": (0.08, B.create_campus, B.emit_campus),
    "corporate_team": (0.035, B.create_corporate, B.emit_corporate),
    "support_bot": (0.014, B.create_support_bot, B.emit_support_bot),
    "extraction_pipeline": (0.01, B.create_extraction, B.emit_extraction),
    "classifier_logprobs": (0.01, B.create_classifier, B.emit_classifier),
    "eval_runner": (0.01, B.create_eval_runner, B.emit_eval_runner),
    "reseller_platform": (0.004, B.create_reseller, B.emit_reseller),
    "night_batch": (0.01, B.create_night_batch, B.emit_night_batch),
    "coding_agent": (0.05, B.create_coding_agent, B.emit_coding_agent),
    # distilling
    "bulk_harvester": (0.005, D.create_bulk, D.emit_bulk),
    "hydra_fleet": (0.08, D.create_hydra, D.emit_hydra),
    "logprob_sampler": (0.006, D.create_logprob, D.emit_logprob),
    "proxy_mixer": (0.004, D.create_proxy_mixer, D.emit_proxy_mixer),
    "slow_sweeper": (0.018, D.create_slow, D.emit_slow),
    "responses_miner": (0.008, D.create_responses_miner, D.emit_responses_miner),
}
#: Heavy, diverse benign kinds, in the "wide" population (the default).
#: Seeds 7-11 were generated before they existed: ``--population classic`` reproduces them.
HEAVY_MIX = {
    "app_forwarder": (0.03, H.create_app_forwarder, H.emit_app_forwarder),
    "study_helper": (0.02, H.create_study_helper, H.emit_study_helper),
    "power_chatter": (0.03, H.create_power_chatter, H.emit_power_chatter),
    "research_lab": (0.01, H.create_research_lab, H.emit_research_lab),
}
DEFAULT_START = "2026-10-08"  # a Thursday: two weekdays and a Saturday for 3 days


def mix(population: str = "wide") -> dict:
    """The archetype table of a population: ``classic`` (seeds 7-11) or ``wide`` (+ HEAVY_MIX)."""
    return MIX | HEAVY_MIX if population == "wide" else dict(MIX)


SHARES = ("natural", "balanced")


def counts(n: int, population: str = "classic", shares: str = "natural") -> dict[str, int]:
    """Accounts per archetype.

    ``natural``: each archetype's share of the table, at least 2 of each, the rest to
    consumer_chat. ``balanced``: the same number of each archetype (the remainder to the first
    ones in table order), so that a rare archetype (eval runners, research labs, resellers) has
    as many accounts as consumer chat and its flagged share has a usable interval; the accounts
    and their behaviour are drawn as in the natural mix, only their numbers differ."""
    if shares not in SHARES:
        raise ValueError(f"shares: expected one of {SHARES}, got {shares!r}")
    table = mix(population)
    if shares == "balanced":
        each, extra = divmod(n, len(table))
        return {k: each + (i < extra) for i, k in enumerate(table)}
    total = sum(s for s, _, _ in table.values())
    c = {k: max(2, round(n * s / total)) for k, (s, _, _) in table.items()}
    c["consumer_chat"] += n - sum(c.values())
    return c


def generate(n_accounts: int, days: int, seed: int, out: Path, start: str = DEFAULT_START,
             data: Path | None = None, volume: float = 1.0, population: str = "wide",
             shares: str = "natural") -> dict:
    """Generate the logs and truth; returns a summary dict (counts per archetype and label).

    ``volume`` multiplies every account's daily request volume; the accounts (ids, archetypes,
    traits) are the same for a seed at every volume. ``shares``: how many accounts of each
    archetype (:func:`counts`)."""
    rng = random.Random(seed)
    t0 = datetime.fromisoformat(start).replace(tzinfo=UTC).timestamp()
    corpora = load_corpora(data) if data else load_corpora()
    ctx = Ctx(start=t0, days=days, rng=random.Random(rng.getrandbits(64)), corpora=corpora,
              volume=volume)
    accounts = []
    table = mix(population)
    for name, k in counts(n_accounts, population, shares).items():
        _, create, emit = table[name]
        for a in create(ctx, random.Random(rng.getrandbits(64)), k):
            accounts.append((a, emit))
    rng.shuffle(accounts)
    by_day: list[list[tuple[float, str]]] = [[] for _ in range(days)]
    per_arch: Counter = Counter()
    for acct, emit in accounts:
        arng = random.Random(rng.getrandbits(64))
        for d in range(-1, days + 1):  # neighbouring local days spill into the window
            day0 = t0 + d * 86400.0
            for ts, rec in emit(ctx, acct, arng, day0):
                if t0 <= ts < ctx.end and ts >= acct.created_at:
                    by_day[int((ts - t0) // 86400)].append((ts, json.dumps(rec, ensure_ascii=False)))
                    per_arch[acct.archetype] += 1
    logs = out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    redeliver = []
    for d, rows in enumerate(by_day):
        rows.sort(key=lambda r: r[0] + rng.uniform(0, 2.0))  # arrival jitter: not strictly ordered
        day = datetime.fromtimestamp(t0 + d * 86400, UTC).strftime("%Y-%m-%d")
        with gzip.open(logs / f"{day}.jsonl.gz", "wt", encoding="utf-8", compresslevel=4) as fh:
            for _, line in rows:
                fh.write(line + "\n")
        redeliver += [line for _, line in rng.sample(rows, min(len(rows), max(1, len(rows) // 500)))]
    (logs / "redelivery.jsonl").write_text("\n".join(redeliver) + "\n", encoding="utf-8")
    with open(out / "truth.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["account_id", "label", "archetype", "group"])
        for acct, _ in sorted(accounts, key=lambda x: x[0].account_id):
            w.writerow([acct.account_id, acct.label, acct.archetype, acct.group])
    labels = Counter(a.label for a, _ in accounts)
    return {"accounts": len(accounts), "volume": volume, "population": population, "shares": shares,
            "labels": dict(labels), "requests": sum(per_arch.values()),
            "redelivered": len(redeliver), "accounts_per_archetype": dict(Counter(a.archetype for a, _ in accounts)),
            "requests_per_archetype": dict(per_arch), "corpora_found": ctx.corpora.available}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--accounts", type=int, default=2500)
    ap.add_argument("--days", type=int, default=3)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--start", default=DEFAULT_START, help="first UTC day, YYYY-MM-DD")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--data", type=Path, default=None,
                    help="prompt corpora folder (default /work/shared/data; missing = own banks only)")
    ap.add_argument("--volume", type=float, default=1.0,
                    help="multiply every account's daily request volume (same accounts), e.g. 0.5, 3, 10")
    ap.add_argument("--population", choices=("wide", "classic"), default="wide",
                    help="wide (default): with the heavy diverse benign kinds; classic: as seeds 7-11")
    ap.add_argument("--shares", choices=SHARES, default="natural",
                    help="natural (default): archetypes in their traffic shares; balanced: the same "
                         "number of accounts of each archetype (per-archetype rates with usable intervals)")
    a = ap.parse_args(argv)
    if a.accounts < 60 or a.days < 1:
        ap.error(f"--accounts must be >= 60 and --days >= 1, got {a.accounts} and {a.days}")
    if not a.volume > 0:
        ap.error(f"--volume must be > 0, got {a.volume}")
    t = time.time()
    summary = generate(a.accounts, a.days, a.seed, a.out, a.start, a.data, a.volume, a.population,
                       a.shares)
    summary["wall_s"] = round(time.time() - t, 1)
    (a.out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
