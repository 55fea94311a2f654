"""Development experiment (run by hand): campaign-pass settings on the TRAIN scenario only.

Builds (or reuses) a home with the whole pipeline run on the training scenario (4,000 accounts,
4 days, seed 11; static embeddings), then runs the campaign pass once per setting and prints
low-and-slow member recall, purity and benign account-days in clusters. This is where
``campaign_partition="signed"`` and ``campaign_min_group_surprise=15`` were chosen
(docs/clusters.md); the evaluation scenarios are never read here.

  .venv/bin/python bench/campaign_params.py --workdir /tmp/campdev default \
      sweep_partition=louvain,sweep_min_group_surprise=25 campaign_min_group_surprise=10

A setting is ``name=value[,name=value]`` over ``ClusterParams`` fields; ``campaign_*`` fields
set the pass directly, ``sweep_partition`` / ``sweep_min_group_surprise`` are mapped onto them.
-> bench/results/campaign_params.json
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import fields, replace
from pathlib import Path

from _meta import stamp, write_atomic

from detector.clusters import campaigns
from detector.clusters.params import ClusterParams
from detector.evaluate.clusters import cluster_recovery
from detector.ingest import ingest_paths
from detector.lake.db import lake_dates
from detector.pipeline import run_pipeline
from detector.settings import load_settings
from detector.simulate import load_scenario, simulate

ROOT = Path(__file__).resolve().parents[1]
ALIASES = {"sweep_partition": "campaign_partition",
           "sweep_min_group_surprise": "campaign_min_group_surprise"}


def setting(text: str) -> ClusterParams:
    """``name=value,...`` -> ClusterParams (``default`` = the defaults)."""
    if text == "default":
        return ClusterParams()
    types = {f.name: type(getattr(ClusterParams(), f.name)) for f in fields(ClusterParams)}
    kw = {}
    for item in text.split(","):
        name, value = item.split("=", 1)
        name = ALIASES.get(name, name)
        if name not in types:
            raise SystemExit(f"setting {item!r}: no ClusterParams field {name!r}")
        kw[name] = types[name](value)
    return replace(ClusterParams(), **kw)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("settings", nargs="+")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/campdev"))
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "campaign_params.json")
    args = ap.parse_args()
    sim, home = args.workdir / "sim", args.workdir / "home"
    settings = load_settings(home, threads=2, embedding_backend="static")
    if not (sim / "truth.json").exists() or not lake_dates(settings):
        sc = load_scenario("train")
        simulate(sim, sc.defaults["accounts"], sc.defaults["days"], sc.defaults["seed"],
                 scenario=sc)
        settings.ensure_dirs()
        ingest_paths(settings, [sim], progress=False)
        run_pipeline(settings, lake_dates(settings))
    truth = json.loads((sim / "truth.json").read_text())
    dates = lake_dates(settings)
    rows = []
    for text in args.settings:
        t = time.perf_counter()
        campaigns.compute(settings, dates, setting(text))
        r = cluster_recovery(settings, truth, dates)
        rows.append({"setting": text, "seconds": round(time.perf_counter() - t, 1),
                     "low_and_slow": r["member_recall"].get("low_and_slow"),
                     "purity": r["purity"],
                     "benign_account_days_in_clusters": r["benign_account_days_in_clusters"]})
        print(json.dumps(rows[-1]), flush=True)
    write_atomic(args.out, json.dumps({"provenance": stamp("bench/campaign_params.py"),
                                       "scenario": "train (development)", "rows": rows},
                                      indent=2) + "\n")


if __name__ == "__main__":
    main()
