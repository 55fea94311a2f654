"""Upper-bound experiment (run by hand): the set-level sweep search seeded by suspicion.

The sweep search (``detector/clusters/sweeps.py``, off by default) looks for low-and-slow groups
among *all* unclustered accounts, where ordinary accounts both dilute the evidence and end up in
groups. This experiment restricts its candidates to "suspects": the simulation's distillers
(truth: an ORACLE standing in for the per-account detector, which reviews ~99 % of
low-and-slow accounts) plus a random ``--benign-share`` of benign accounts (standing in for the
per-account review false positives). It measures how much a suspicion-seeded search could
recover, before building one on real verdicts. TRAIN scenario only (development data).

  .venv/bin/python bench/sweep_suspects.py --benign-share 0.01
  -> bench/results/sweep_suspects.json
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import clusters as bench_clusters  # noqa: E402
from _meta import stamp, write_atomic  # noqa: E402

from detector.clusters import sweeps  # noqa: E402


def _restrict(work: Path, benign_share: float, seed: int = 5):
    """``sweeps.openings`` that also excludes every benign account outside the sampled share."""
    original = sweeps.openings

    def openings(con, p, exclude):
        truth = json.loads((work / "sim" / "truth.json").read_text())["accounts"]
        rnd = random.Random(seed)
        benign_out = {a for a, v in sorted(truth.items())
                      if not v["is_distiller"] and rnd.random() >= benign_share}
        return original(con, p, set(exclude) | benign_out)

    return openings


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--benign-share", type=float, default=0.01)
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/sweep_suspects"))
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "sweep_suspects.json")
    args = ap.parse_args()
    sweeps.openings = _restrict(args.workdir, args.benign_share)
    q = argparse.Namespace(scenario="train", accounts=None, days=None, seed=None,
                           workdir=str(args.workdir), sweep=True, embed=True,
                           window_cache=True, keep=True)
    result = bench_clusters.quality(q) | {"experiment": "sweep search, candidates = truth "
                                          "distillers + a random share of benign accounts",
                                          "benign_share": args.benign_share}
    result = {"provenance": stamp("bench/sweep_suspects.py"), **result}
    write_atomic(args.out, json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("member_recall", "purity",
                                             "benign_account_days_in_clusters")}))


if __name__ == "__main__":
    main()
