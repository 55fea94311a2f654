"""Same results with the embedding stage in account-hash buckets as in one pass?

    .venv/bin/python bench/scale_day.py --requests 1000000 --accounts 10000 --keep-outputs
    .venv/bin/python bench/scale_day_compare.py bench/work/scale_day/1000000_10000_0_v2 [--per-batch 2000]

The first command leaves a one-pass run's outputs in the cached home (10k accounts is under the
default ``accounts_per_batch``). This copies the home (the lake linked, not copied), runs
embeddings with ``accounts_per_batch = --per-batch`` (so several buckets), then clusters, decide
and campaigns, and compares with the one-pass outputs: coverage features and centroids (floats to
1e-6 absolute), cluster members, and every verdict (decision, reasons, cluster, score to 1e-9).
Prints one JSON line; exit 1 when anything differs.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from detector import clusters, decide
from detector.clusters import campaigns
from detector.embeddings import compute as embeddings_compute
from detector.embeddings.config import EmbeddingConfig
from detector.settings import load_settings
from detector.verdicts import read as read_verdicts

DAY = "2026-12-01"


def _frame(path: Path, key: list[str]) -> pd.DataFrame:
    return pq.read_table(path).to_pandas().sort_values(key).reset_index(drop=True)


def _diff(a: pd.DataFrame, b: pd.DataFrame, atol: float) -> list[str]:
    """Columns that differ (floats beyond ``atol``; lists of floats element-wise)."""
    if len(a) != len(b) or list(a.columns) != list(b.columns):
        return [f"shape {a.shape} vs {b.shape}"]
    out = []
    for col in a.columns:
        x, y = a[col], b[col]
        if x.dtype.kind == "f":
            same = np.allclose(x.to_numpy(float), y.to_numpy(float), rtol=0, atol=atol, equal_nan=True)
        elif len(x) and isinstance(x.iloc[0], np.ndarray) and x.iloc[0].dtype.kind == "f":
            same = np.allclose(np.stack(x.to_numpy()), np.stack(y.to_numpy()), rtol=0, atol=atol)
        elif len(x) and isinstance(x.iloc[0], np.ndarray):  # lists of strings (rule hits)
            same = [list(v) for v in x] == [list(v) for v in y]
        else:
            same = x.astype(str).tolist() == y.astype(str).tolist()
        if not same:
            out.append(col)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("home", type=Path)
    parser.add_argument("--per-batch", type=int, default=2000)
    args = parser.parse_args()
    base = args.home.resolve()
    work = Path(tempfile.mkdtemp(prefix="scale-compare-"))
    try:
        home = work / "home"
        home.mkdir()
        (home / "lake").symlink_to(base / "lake")
        shutil.copytree(base / "features", home / "features",
                        ignore=shutil.ignore_patterns("coverage", "cluster"))
        settings = load_settings(home, threads=2, embedding_backend="static")
        cfg = EmbeddingConfig.from_settings(settings, accounts_per_batch=args.per_batch)
        embeddings_compute(settings, [DAY], config=cfg)
        clusters.compute(settings, [DAY])
        decide.score(settings, [DAY])
        campaigns.compute(settings, [DAY])
        manifest = json.loads((home / "embeddings" / "manifest" / f"date={DAY}.json").read_text())
        rel_cov = Path("features") / "coverage" / f"date={DAY}" / "part-0.parquet"
        rel_cen = Path("embeddings") / "centroids" / f"date={DAY}" / "part-0.parquet"
        rel_mem = Path("clusters") / f"date={DAY}" / "members.parquet"
        base_settings = load_settings(base)
        verdict_key = ["account_id"]
        v_base, v_new = (read_verdicts(s, days=[DAY]).sort_values(verdict_key).reset_index(drop=True)
                         for s in (base_settings, settings))
        # when and which run, not what it found (feature_run_id hashes the files' mtimes)
        stamps = [c for c in v_new.columns if c.endswith("_at") or c.endswith("run_id")]
        report = {
            "buckets": -(-manifest["accounts"] // args.per_batch),
            "sampled_rows": manifest["sampled_rows"],
            "coverage": _diff(_frame(base / rel_cov, ["account_id"]), _frame(home / rel_cov, ["account_id"]), 1e-6),
            "centroids": _diff(_frame(base / rel_cen, ["account_id"]), _frame(home / rel_cen, ["account_id"]), 1e-6),
            "members": _diff(_frame(base / rel_mem, ["account_id"]), _frame(home / rel_mem, ["account_id"]), 0),
            "verdicts": _diff(v_base.drop(columns=stamps), v_new.drop(columns=stamps), 1e-9),
            "verdict_rows": len(v_new),
            "decisions": v_new["decision"].value_counts().to_dict(),
        }
        print(json.dumps(report))
        if any(report[k] for k in ("coverage", "centroids", "members", "verdicts")):
            sys.exit(1)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
