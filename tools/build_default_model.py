"""Reproducibly train the default model shipped in ``detector/model/default/`` (``make model``).

Training data: the TRAINING scenario only (``data/scenarios/train.toml``, its own seeds and the
training corpus split). The evaluation scenarios (``eval.toml``, ``shift.toml``) are never read
here. Run: ``python tools/build_default_model.py [--accounts N] [--days D]``. A build tool, not
part of the installed package (it runs the pipeline, which the model stage must not import).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import pandas as pd

from detector.ingest import ingest_paths
from detector.lake.db import lake_dates
from detector.model.dataset import labelled_frame, read_truth
from detector.model.registry import DEFAULT_DIR, save_model_files
from detector.model.train import train_model
from detector.pipeline import feature_stages
from detector.settings import load_settings
from detector.simulate import simulate

REPO = Path(__file__).resolve().parents[1]
TRAIN_SCENARIO = REPO / "data" / "scenarios" / "train.toml"
TRAIN_SEEDS = (101, 202, 303)
#: Size per seed: big enough for every archetype to appear tens of times, small enough that
#: `make model` finishes in minutes on 2 cores.
TRAIN_ACCOUNTS, TRAIN_DAYS = 2500, 3
#: Volume multiplier per training seed (``detector simulate --volume``): the same population at
#: three volume levels spanning the evaluation's (1x, 3x, 10x), so that nothing the model learns
#: can stand in for "more requests" (the volume-proportional columns are not inputs at all:
#: ``detector.model.train.VOLUME_FEATURES``). The seeds at 3x and 10x have fewer accounts,
#: keeping each one's request count within about 1.5x of the 1x seed's.
TRAIN_VOLUMES = {101: 1.0, 202: 3.0, 303: 10.0}
TRAIN_ACCOUNT_SHARE = {101: 1.0, 202: 0.5, 303: 0.15}


def build(accounts: int | None, days: int | None, out_dir: Path = DEFAULT_DIR,
          work: Path | None = None) -> dict:
    """Train and write the default model; the simulated logs and homes go to ``work`` (kept, to
    study the training data) or to a temporary folder (removed)."""
    keep_work = work is not None
    work = Path(work or tempfile.mkdtemp(prefix="distill-guard-train-"))
    frames = []
    t0 = time.perf_counter()
    for seed in TRAIN_SEEDS:
        logs = work / f"logs-{seed}"
        home = work / f"home-{seed}"
        n = None if accounts is None else max(1, int(accounts * TRAIN_ACCOUNT_SHARE[seed]))
        simulate(logs, accounts=n, days=days, seed=seed, scenario=TRAIN_SCENARIO,
                 volume=TRAIN_VOLUMES[seed])
        settings = load_settings(home)
        settings.ensure_dirs()
        ingest_paths(settings, [logs], progress=False)
        dates = lake_dates(settings)
        feature_stages(settings, dates)
        frame = labelled_frame(settings, dates, read_truth(logs / "truth.json"))
        frame["account_id"] = f"s{seed}:" + frame["account_id"].astype(str)
        frames.append(frame)
    data = pd.concat(frames, ignore_index=True)
    description = (f"simulated TRAINING scenario {TRAIN_SCENARIO.name}, seeds {list(TRAIN_SEEDS)} "
                   f"at volumes {[TRAIN_VOLUMES[s] for s in TRAIN_SEEDS]}, "
                   f"{data['account_id'].nunique()} accounts, {len(data)} account-days")
    model, card = train_model(data.drop(columns=["archetype"], errors="ignore"),
                              description=description)
    card["version"] = "default-" + card["training_data"]["sha256"][:8]
    card["training_data"]["scenario"] = str(TRAIN_SCENARIO.relative_to(REPO))
    card["training_data"]["seeds"] = list(TRAIN_SEEDS)
    card["training_data"]["volumes"] = {str(k): v for k, v in TRAIN_VOLUMES.items()}
    card["training_seconds"] = round(time.perf_counter() - t0, 1)
    save_model_files(out_dir, model, card)
    if not keep_work:
        shutil.rmtree(work, ignore_errors=True)
    return card


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--accounts", type=int, default=TRAIN_ACCOUNTS, help="accounts per training seed")
    parser.add_argument("--days", type=int, default=TRAIN_DAYS, help="days per training seed")
    parser.add_argument("--out", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--work", type=Path, default=None,
                        help="keep the training logs and homes here (default: a temporary folder, removed)")
    args = parser.parse_args()
    card = build(args.accounts, args.days, args.out, args.work)
    val = card["validation"]
    print(f"default model {card['version']}: AP {val['average_precision']:.4f}, "
          f"recall@review {val['recall_review']:.3f}, recall@block {val['recall_block']:.3f}, "
          f"benign FPR review {val['fpr_review']:.4f} block {val['fpr_block']:.4f}; "
          f"written to {args.out}")


if __name__ == "__main__":
    main()
