"""The feature stage on DuckDB (in process) vs a Spark standalone cluster on this machine, and
the Spark stages of the job on one executor vs two.

    .venv/bin/python bench/spark.py --accounts 1000 --days 1 [--workers 1] [--part all]

Simulates ``--accounts`` accounts over ``--days`` days, ingests them once, copies the home, then
runs ``features.compute`` on each engine twice: ``cold`` (the first run: Spark session,
executors and Python workers start) and ``warm`` (``force=True``, the same process and
session). Per run: wall seconds, CPU seconds (this process and its children, e.g. the driver
JVM, plus every process of the cluster's process groups: master, workers, executors, their
Python workers), CPU seconds per million requests, and the stage's own phase timings. The
cluster's workers have one core and 1 GiB each.

``--part executors`` (in ``all``): the home is scored once on DuckDB (features and embeddings:
the centroids the graph reads), then copied for a cluster of one worker and for one of two
workers (1 core, 1 GiB each: one executor each); on each, the stages that run on Spark
(``features`` with ``force``, its windows and percentiles included, ``embeddings`` with the
static encoder, ``clusters``, ``decide``) run twice (cold, warm) and the warm wall
per stage is compared: ratio = one executor / two executors.

Writes bench/results/spark.json with the script, commit, date and machine; a part not run keeps
its section from the previous file (each section names its own script, commit and date).
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

from detector import clusters, decide, embeddings  # noqa: E402
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


def _spark_settings(home: Path, cluster: StandaloneCluster):
    return load_settings(home, engine="spark", spark_master=cluster.master_url,
                         spark_conf=cluster.driver_conf(),
                         spark_lake_uri=(home / "lake").as_uri(),
                         embedding_backend="static")  # the encoder executors run


#: The stages of the job that run on Spark with engine = "spark" (docs/scale.md).
STAGES = {"features": lambda s, days: compute(s, days, force=True),
          "embeddings": lambda s, days: embeddings.compute(s, days),
          "clusters": lambda s, days: clusters.compute(s, days),
          "decide": lambda s, days: decide.score(s, days)}


def _stages(settings, days: list[str], groups: list[int], requests: int) -> dict:
    """Each Spark stage twice (cold, warm): wall and CPU seconds per stage and run."""
    out: dict[str, dict] = {}
    for label in ("cold", "warm"):
        for name, fn in STAGES.items():
            c0, t0 = _cpu(groups), time.perf_counter()
            fn(settings, days)
            wall, cpu = time.perf_counter() - t0, _cpu(groups) - c0
            out.setdefault(name, {})[label] = {
                "wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
                "cpu_s_per_million_requests": round(cpu / requests * 1e6, 1)}
            print(f"  {label} {name}: {wall:.1f} s wall, {cpu:.1f} CPU-s", flush=True)
    return out


def executors_part(base, root: Path, days: list[str], requests: int) -> dict:
    """The Spark stages on one executor vs two (one worker of one core each), each on a copy
    of the home of ``base`` (settings)."""
    embeddings.compute(base, days)  # centroids for the graph, as the job would have them
    runs = {}
    for n in (1, 2):
        home = root / f"spark{n}"
        shutil.copytree(base.home, home)
        with StandaloneCluster(workers=n, cores=1, memory="1g") as cluster:
            print(f"{n} executor(s):", flush=True)
            try:
                runs[n] = _stages(_spark_settings(home, cluster), days,
                                  [p.pid for p in cluster.procs], requests)
            finally:
                stop_spark()
    ratio = {name: round(runs[1][name]["warm"]["wall_s"] / max(runs[2][name]["warm"]["wall_s"],
                                                              1e-9), 2) for name in STAGES}
    return {"one_executor": runs[1], "two_executors": runs[2],
            "ratio_warm_wall_one_over_two": ratio,
            "cluster": {"cores_per_worker": 1, "memory_per_worker": "1g",
                        "executors": "one per worker"}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--accounts", type=int, default=1000)
    ap.add_argument("--days", type=int, default=1)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--part", choices=("all", "engines", "executors"), default="all")
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
        results = None
        if args.part in ("all", "engines"):
            results = {"duckdb": _run(duck, days, [], requests)}
            with StandaloneCluster(workers=args.workers, cores=1, memory="1g") as cluster:
                spark = _spark_settings(root / "spark", cluster)
                try:
                    results["spark_standalone"] = _run(spark, days,
                                                       [p.pid for p in cluster.procs], requests)
                finally:
                    stop_spark()
        executors = None
        if args.part in ("all", "executors"):
            executors = executors_part(duck, root, days, requests)
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip()
    made = {"script": "bench/spark.py " + " ".join(sys.argv[1:]), "commit": commit,
            "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
    scenario = {"accounts": args.accounts, "days": days, "requests": requests, "seed": args.seed}
    doc = {
        **made,
        "machine": {"cpus": os.cpu_count(), "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
                    "platform": platform.platform(), "load_average_at_start": [round(x, 1) for x in load0],
                    "note": "shared machine: other jobs ran at the same time"},
    }
    old = json.loads(args.out.read_text()) if args.out.exists() else {}
    if results is not None:
        doc.update({
            "scenario": scenario, **{f"engines_{k}": v for k, v in made.items()},
            "engines_machine": doc["machine"],
            "cluster": {"workers": args.workers, "cores_per_worker": 1, "memory_per_worker": "1g"},
            "stage": "features.compute (first-seen, partials, sample + sample features, "
                     "history, 7-day windows, percentiles, writes)",
            "results": results})
    else:  # keep the engines section of the previous run
        doc.update({k: v for k, v in old.items() if k in (
            "scenario", "cluster", "stage", "results", "engines_script", "engines_commit",
            "engines_date", "engines_machine")})
        doc.setdefault("engines_machine", old.get("machine"))
        doc.setdefault("engines_script", old.get("script"))
        doc.setdefault("engines_commit", old.get("commit"))
        doc.setdefault("engines_date", old.get("date"))
    doc["executors"] = ({**made, "machine": doc["machine"], "scenario": scenario, **executors}
                        if executors is not None
                        else old.get("executors"))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp_out = args.out.with_suffix(".json.tmp")
    tmp_out.write_text(json.dumps(doc, indent=2) + "\n")
    os.replace(tmp_out, args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
