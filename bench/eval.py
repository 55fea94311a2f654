"""Detection quality on the fixed EVALUATION scenarios (``make eval``).

Scenarios: ``data/scenarios/eval.toml`` (the fixed evaluation scenario) and ``shift.toml`` (a
robustness check: different benign mix and attacker parameters). Neither is ever used for
training or for choosing thresholds; the default model was trained on ``train.toml`` only.
Writes ``bench/results/eval.json`` and ``bench/results/eval_shift.json``.

Run: ``.venv/bin/python bench/eval.py [--scenario eval|shift|all] [--accounts N] [--days D]``
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

from _meta import stamp, write_atomic

from detector.evaluate import evaluate
from detector.evaluate.clusters import cluster_recovery
from detector.ingest import ingest_paths
from detector.lake.db import lake_dates
from detector.model.dataset import read_truth
from detector.pipeline import run_pipeline
from detector.settings import load_settings
from detector.simulate import simulate
from detector.verdicts import load_verdicts

REPO = Path(__file__).resolve().parents[1]
SCENARIOS = {"eval": (REPO / "data/scenarios/eval.toml", 9001, "eval.json"),
             "shift": (REPO / "data/scenarios/shift.toml", 9002, "eval_shift.json")}


def run_one(name: str, accounts: int | None, days: int | None, work: Path,
            out_name: str | None = None, seed: int | None = None) -> dict:
    scenario, default_seed, default_name = SCENARIOS[name]
    out_name = out_name or default_name
    seed = default_seed if seed is None else seed
    logs, home = work / f"logs-{name}", work / f"home-{name}"
    t0 = time.perf_counter()
    simulate(logs, accounts=accounts, days=days, seed=seed, scenario=scenario)
    settings = load_settings(home)
    settings.ensure_dirs()
    ingest_paths(settings, [logs], progress=False)
    timing = run_pipeline(settings, lake_dates(settings)).seconds
    metrics = evaluate(read_truth(logs / "truth.json"), load_verdicts(settings))
    truth = json.loads((logs / "truth.json").read_text())
    dates = lake_dates(settings)
    metrics["cluster_recovery"] = {"linked": cluster_recovery(settings, truth, dates, campaigns=False),
                           "with_campaigns": cluster_recovery(settings, truth, dates),
                           "low_and_slow_by_day": {
                               d: cluster_recovery(settings, truth, [d])["member_recall"]
                               .get("low_and_slow") for d in dates}}
    metrics["scenario"] = str(scenario.relative_to(REPO))
    metrics["seed"] = seed
    metrics["days"] = len(dates)
    metrics["pipeline_seconds"] = timing
    metrics["total_seconds"] = round(time.perf_counter() - t0, 1)
    out = REPO / "bench" / "results" / out_name
    metrics["provenance"] = stamp("bench/eval.py")
    write_atomic(out, json.dumps(metrics, indent=2, sort_keys=True, default=str) + "\n")
    return metrics


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scenario", choices=["eval", "shift", "all"], default="all")
    parser.add_argument("--accounts", type=int, default=None)
    parser.add_argument("--days", type=int, default=None)
    parser.add_argument("--seed", type=int, default=None,
                        help="simulator seed (default: the scenario's fixed evaluation seed); "
                             "evaluation seeds are >= 1000, training ones below")
    parser.add_argument("--out", default=None,
                        help="result file name under bench/results (default: eval.json / "
                             "eval_shift.json); for runs with other --accounts / --days")
    parser.add_argument("--work", type=Path, default=None,
                        help="keep logs and homes in this folder (default: a temporary one, removed)")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="distill-guard-eval-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        for name in (["eval", "shift"] if args.scenario == "all" else [args.scenario]):
            if args.seed is not None and args.seed < 1000:
                parser.error(f"--seed: expected an evaluation seed >= 1000, got {args.seed}")
            m = run_one(name, args.accounts, args.days, work, args.out, args.seed)
            print(f"{name}: recall flag {m['recall']['flag']:.4f} block {m['recall']['block']:.4f}; "
                  f"benign FPR flag {m['benign_fpr']['flag']:.4f} block {m['benign_fpr']['block']:.4f}; "
                  f"AP {m['average_precision']:.4f}; "
                  f"distilled tokens flagged {m['distilled_token_share']['flag']:.4f}")
            for kind in ("linked", "with_campaigns"):
                c = m["cluster_recovery"][kind]
                print(f"  clusters ({kind}): member recall {c['member_recall']}, purity "
                      f"{c['purity']}, benign account-days in clusters "
                      f"{c['benign_account_days_in_clusters']}, NAT groups merged "
                      f"{c['nat_groups_merged']}, reseller {c['reseller_account_days_in_clusters']}")
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
