"""The decide stage's wall time on a home with many relays, this tree against a baseline tree,
side by side (alternating runs on copies of one home, so both see the same machine load).

The decide stage reads relay-days per end user (``detector/decide/relay_end_users.py``), per
request profile (``relay_profiles.py``) and, capped ones, per stream (``relay_streams.py``);
this measures what a change to those steps costs on a scored home
(``detector simulate`` or ``bench/foreign/generate.py`` output, ingested and run once).
Writes ``bench/results/decide_relays.json`` (``_cold.json`` with ``--cold``): per tree the
wall times and their median, and the home's size (account-days, requests, relay-days).

Run: ``.venv/bin/python bench/decide_relays.py --home H --baseline-tree T [--repeats 3]
[--cold]`` (``T``: another checkout, e.g. ``git worktree add /tmp/base <commit>``; ``--cold``
deletes the copies' embedding cache before every run, so every prompt the decide stage samples
is embedded again, as on a day whose relays' prompts the embeddings stage did not sample).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _meta import REPO, git_commit, stamp, write_atomic

DECIDE = ("import sys; from detector.settings import load_settings;"
          "from detector.lake.db import lake_dates; from detector.decide import scoring;"
          "s = load_settings(sys.argv[1]); scoring.score(s, lake_dates(s))")

SIZE = ("import sys, duckdb; from detector.settings import load_settings;"
        "s = load_settings(sys.argv[1]);"
        "f = str(s.home / 'features' / 'daily' / '**' / '*.parquet');"
        "r = duckdb.sql(f\"SELECT count(*), sum(vol_requests), count(*) FILTER "
        "(WHERE inf_distinct_end_users >= 20) FROM read_parquet('{f}')\")"
        ".fetchall()[0];"
        "print(*r)")


def _decide(tree: Path, home: Path) -> float:
    env = dict(os.environ, PYTHONPATH=str(tree), OPENBLAS_NUM_THREADS="1")
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", DECIDE, str(home)], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    return round(time.perf_counter() - t0, 2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--home", type=Path, required=True, help="a scored home (copied, not changed)")
    ap.add_argument("--baseline-tree", type=Path, required=True, help="another checkout")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--cold", action="store_true",
                    help="delete the embedding cache before each run")
    ap.add_argument("--out", type=Path, default=None,
                    help="default bench/results/decide_relays[_cold].json")
    a = ap.parse_args()
    out = a.out or REPO / "bench" / "results" / f"decide_relays{'_cold' if a.cold else ''}.json"
    if a.repeats < 1:
        ap.error(f"--repeats: expected at least 1, got {a.repeats}")
    trees = {"this": REPO, "baseline": a.baseline_tree.resolve()}
    times: dict[str, list[float]] = {name: [] for name in trees}
    with tempfile.TemporaryDirectory(prefix="dg-decide-") as tmp:
        homes = {name: Path(tmp) / name for name in trees}
        for home in homes.values():
            shutil.copytree(a.home, home)
        size = subprocess.run([sys.executable, "-c", SIZE, str(homes["this"])], check=True,
                              capture_output=True, text=True,
                              env=dict(os.environ, PYTHONPATH=str(REPO))).stdout.split()
        for _ in range(a.repeats):
            for name, tree in trees.items():
                if a.cold:
                    shutil.rmtree(homes[name] / "embeddings" / "cache", ignore_errors=True)
                times[name].append(_decide(tree, homes[name]))
    doc = {"provenance": stamp("bench/decide_relays.py"), "cold": a.cold,
           "home": {"account_days": int(size[0]), "requests": int(float(size[1])),
                    "relay_days": int(size[2])},
           "trees": {name: {"commit": git_commit(tree), "seconds": times[name],
                            "median_s": statistics.median(times[name])}
                     for name, tree in trees.items()}}
    doc["ratio"] = round(doc["trees"]["this"]["median_s"] / doc["trees"]["baseline"]["median_s"], 2)
    write_atomic(out, json.dumps(doc, indent=2) + "\n")
    print(json.dumps(doc["trees"], indent=2), "ratio", doc["ratio"])


if __name__ == "__main__":
    main()
