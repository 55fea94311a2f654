"""Descriptive statistics of generated traffic per archetype (docs/simulator.md figures, tests).

``archetype_stats(out_dir)`` reads a simulation folder (day files + ``truth.json``) and returns,
per archetype, the accounts, the spread of requests per active account-day (min, quartiles,
max) and the **distinct-prompt share**: distinct prompt texts (the last user message, or the
``prompt``/``input`` of other endpoints) over requests, per account, summarised by the median
and the minimum over the archetype's accounts.
"""

from __future__ import annotations

import gzip
import json
from collections import defaultdict
from pathlib import Path

import numpy as np


def prompt_text(body: dict) -> str:
    """The text a person or program asked: the last user message, else prompt/input."""
    msgs = body.get("messages")
    if msgs:
        for m in reversed(msgs):
            if m.get("role") == "user":
                c = m.get("content")
                return c if isinstance(c, str) else json.dumps(c, sort_keys=True)
    val = body.get("prompt", body.get("input", ""))
    return val if isinstance(val, str) else json.dumps(val, sort_keys=True)


def archetype_stats(out_dir: str | Path) -> dict[str, dict]:
    out = Path(out_dir)
    truth = json.loads((out / "truth.json").read_text())["accounts"]
    texts: dict[str, set[int]] = defaultdict(set)
    n_req: dict[str, int] = defaultdict(int)
    per_day: dict[tuple[str, str], int] = defaultdict(int)
    for p in sorted(out.glob("requests-*.jsonl*")):
        opener = gzip.open if p.suffix == ".gz" else open
        with opener(p, "rt", encoding="utf-8") as fh:
            for line in fh:
                rec = json.loads(line)
                a = rec["account_id"]
                texts[a].add(hash(prompt_text(rec["request"])))
                n_req[a] += 1
                per_day[(a, p.name)] += 1
    by_arch: dict[str, dict[str, list]] = defaultdict(lambda: {"share": [], "daily": []})
    for (a, _), n in per_day.items():
        by_arch[truth[a]["archetype"]]["daily"].append(n)
    for a, n in n_req.items():
        by_arch[truth[a]["archetype"]]["share"].append(len(texts[a]) / n)
    result = {}
    for arch, v in sorted(by_arch.items()):
        daily = np.array(v["daily"], dtype=float)
        share = np.array(v["share"], dtype=float)
        result[arch] = {
            "accounts": len(share),
            "requests_per_day": {"min": int(daily.min()), "p25": float(np.percentile(daily, 25)),
                                 "median": float(np.median(daily)),
                                 "p75": float(np.percentile(daily, 75)), "max": int(daily.max())},
            "distinct_prompt_share": {"median": round(float(np.median(share)), 3),
                                      "min": round(float(share.min()), 3)},
        }
    return result
