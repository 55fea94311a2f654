"""The feature stage on DuckDB (in process) vs a Spark standalone cluster on this machine.

    .venv/bin/python bench/spark.py --accounts 1000 --days 1 [--workers 1]

Simulates ``--accounts`` accounts over ``--days`` days, ingests them once, copies the home, then
runs ``features.compute`` on each engine twice: ``cold`` (the first run: Spark session,
executors and Python workers start) and ``warm`` (``force=True``, the same process and
session). Per run: wall seconds, CPU seconds (this process and its children, e.g. the driver
JVM, plus every process of the cluster's process groups: master, workers, executors, their
Python workers), CPU seconds per million requests, and the stage's own phase timings. The
cluster's workers have one core and 1 GiB each. Writes bench/results/spark.json with the
script, commit, date and machine.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import pyarrow.dataset as ds

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

from spark_standalone import StandaloneCluster  # noqa: E402

from detector.features import compute  # noqa: E402
from detector.features.engine import stop_spark  # noqa: E402
from detector.ingest import ingest_paths  # noqa: E402
from detector.lake.db import lake_dates  # noqa: E402
from detector.settings import load_settings  # noqa: E402
from detector.simulate.engine import simulate  # noqa: E402

OUT = ROOT / "bench" / "results" / "spark.json"


def _cpu(pids_groups: list[int]) -> float:
    """CPU seconds (user + system) of this process, its descendants and the process groups."""
    me = psutil.Process()
    procs = {me.pid: me, **{p.pid: p for p in me.children(recursive=True)}}
    if pids_groups:
        for p in psutil.process_iter():
            try:
                if os.getpgid(p.pid) in pids_groups:
                    procs[p.pid] = p
            except (ProcessLookupError, psutil.Error):
                pass
    total = 0.0
    for p in procs.values():
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.Error:
            pass
    return total


def _run(settings, days: list[str], groups: list[int], requests: int) -> dict:
    out = {}
    for label, force in (("cold", False), ("warm", True)):
        timings: dict[str, float] = {}
        c0, t0 = _cpu(groups), time.perf_counter()
        compute(settings, days, force=force, timings=timings)
        wall, cpu = time.perf_counter() - t0, _cpu(groups) - c0
        out[label] = {"wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
                      "cpu_s_per_million_requests": round(cpu / requests * 1e6, 1),
                      "wall_s_per_million_requests": round(wall / requests * 1e6, 1),
                      "phases_s": {k: round(v, 2) for k, v in sorted(timings.items())}}
        print(f"  {settings.engine} {label}: {wall:.1f} s wall, {cpu:.1f} CPU-s", flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--accounts", type=int, default=1000)
    ap.add_argument("--days", type=int, default=1)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    load0 = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="dg-bench-spark-") as tmp:
        root = Path(tmp)
        simulate(root / "logs", accounts=args.accounts, days=args.days, seed=args.seed)
        duck = load_settings(root / "duck", engine="duckdb")
        duck.ensure_dirs()
        ingest_paths(duck, [root / "logs"], progress=False)
        shutil.copytree(root / "duck", root / "spark")
        days = lake_dates(duck)
        requests = ds.dataset(duck.requests_dir, format="parquet").count_rows()
        print(f"{requests} requests, {args.accounts} accounts, days {days}", flush=True)
        results = {"duckdb": _run(duck, days, [], requests)}
        with StandaloneCluster(workers=args.workers, cores=1, memory="1g") as cluster:
            spark = load_settings(root / "spark", engine="spark",
                                  spark_master=cluster.master_url,
                                  spark_conf=cluster.driver_conf(),
                                  spark_lake_uri=(root / "spark" / "lake").as_uri())
            try:
                results["spark_standalone"] = _run(spark, days, [p.pid for p in cluster.procs],
                                                   requests)
            finally:
                stop_spark()
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip()
    doc = {
        "script": "bench/spark.py " + " ".join(sys.argv[1:]), "commit": commit,
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
                    "platform": platform.platform(), "load_average_at_start": [round(x, 1) for x in load0],
                    "note": "shared machine: other jobs ran at the same time"},
        "scenario": {"accounts": args.accounts, "days": days, "requests": requests,
                     "seed": args.seed},
        "cluster": {"workers": args.workers, "cores_per_worker": 1, "memory_per_worker": "1g"},
        "stage": "features.compute (first-seen, partials, sample + sample features, history, "
                 "7-day windows, percentiles, writes)",
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp_out = args.out.with_suffix(".json.tmp")
    tmp_out.write_text(json.dumps(doc, indent=2) + "\n")
    os.replace(tmp_out, args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
