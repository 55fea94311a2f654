"""The whole scoring job per stage, and the feature stage, on DuckDB (in process) vs a Spark
standalone cluster on this machine, and the Spark stages of the job on one executor vs two.

    .venv/bin/python bench/spark.py --accounts 1000 --days 1 [--workers 1] [--part all]
                                    [--memory 1g]

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

``--part job`` (in ``all``, run first): the whole scoring job per stage (``features`` with
``force`` on the warm run, ``embeddings`` with the static encoder, ``clusters``, ``decide``,
``campaigns``; ``detector.pipeline.run_pipeline``'s stages) twice (cold, warm) on DuckDB in
process and on a cluster of one worker (1 core, ``--memory``: one executor; the driver JVM
gets ``--memory`` too), each on its own copy
of the freshly ingested home; per stage and run wall s, CPU s, CPU s per million requests and
the Spark / DuckDB ratio (``bench/spark_job.py``), Spark's fixed-cost share against the
executors part's warm one-executor CPU, and the verdict check (rows, decisions, scores to 6
decimals). The machine block records the load average at the start and at the end.

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

import spark_job  # noqa: E402
from spark_standalone import StandaloneCluster  # noqa: E402

from detector import clusters, decide, embeddings  # noqa: E402
from detector.clusters import campaigns  # noqa: E402
from detector.features import compute  # noqa: E402
from detector.features.engine import stop_spark  # noqa: E402
from detector.ingest import ingest_paths  # noqa: E402
from detector.lake.db import lake_dates  # noqa: E402
from detector.settings import load_settings  # noqa: E402
from detector.simulate.engine import simulate  # noqa: E402
from detector.verdicts import read as read_verdicts  # noqa: E402

OUT = ROOT / "bench" / "results" / "spark.json"


def generated_home(root: Path, name: str, accounts: int, days: int, seed: int):
    """Simulated traffic (``root/logs``) ingested into a DuckDB home ``root/name``; its
    settings."""
    simulate(root / "logs", accounts=accounts, days=days, seed=seed)
    home = load_settings(root / name, engine="duckdb")
    home.ensure_dirs()
    ingest_paths(home, [root / "logs"], progress=False)
    return home


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


def _spark_settings(home: Path, cluster: StandaloneCluster, driver_memory: str = "1g"):
    conf = (*cluster.driver_conf(), ("spark.driver.memory", driver_memory))  # the last wins
    return load_settings(home, engine="spark", spark_master=cluster.master_url,
                         spark_conf=conf,
                         spark_lake_uri=(home / "lake").as_uri(),
                         embedding_backend="static")  # the encoder executors run


#: The stages of the job that run on Spark with engine = "spark" (docs/scale.md).
STAGES = {"features": lambda s, days: compute(s, days, force=True),
          "embeddings": lambda s, days: embeddings.compute(s, days),
          "clusters": lambda s, days: clusters.compute(s, days),
          "decide": lambda s, days: decide.score(s, days)}
#: The whole scoring job (``detector.pipeline.run_pipeline``'s stages): campaigns run on the
#: driver on both engines.
JOB_STAGES = {**STAGES, "campaigns": lambda s, days: campaigns.compute(s, days)}


def _stages(settings, days: list[str], groups: list[int], requests: int,
            stages: dict = STAGES) -> dict:
    """Each stage twice (cold, warm): wall and CPU seconds per stage and run."""
    out: dict[str, dict] = {}
    for label in ("cold", "warm"):
        for name, fn in stages.items():
            c0, t0 = _cpu(groups), time.perf_counter()
            fn(settings, days)
            wall, cpu = time.perf_counter() - t0, _cpu(groups) - c0
            out.setdefault(name, {})[label] = {
                "wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
                "cpu_s_per_million_requests": round(cpu / requests * 1e6, 1)}
            print(f"  {settings.engine} {label} {name}: {wall:.1f} s wall, {cpu:.1f} CPU-s",
                  flush=True)
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


def job_part(root: Path, days: list[str], requests: int, memory: str) -> dict:
    """The whole scoring job per stage (:data:`JOB_STAGES`, cold then warm) on DuckDB in process
    and on a standalone cluster of one worker (1 core, ``memory``: one executor; the driver
    JVM gets ``memory`` too: at 1M requests 1 GiB ran out collecting the clusters stage's
    task results), each on its own copy of the freshly ingested home (``job-duck``,
    ``job-spark``), both with the static encoder; then the two homes' verdicts compared."""
    duck = load_settings(root / "job-duck", engine="duckdb", embedding_backend="static")
    duck.ensure_dirs()
    print("job on DuckDB:", flush=True)
    runs = {"duckdb": _stages(duck, days, [], requests, JOB_STAGES)}
    with StandaloneCluster(workers=1, cores=1, memory=memory) as cluster:
        spark = _spark_settings(root / "job-spark", cluster, driver_memory=memory)
        spark.ensure_dirs()
        print(f"job on the standalone cluster (one worker, 1 core, {memory}):", flush=True)
        try:
            runs["spark_standalone"] = _stages(spark, days, [p.pid for p in cluster.procs],
                                               requests, JOB_STAGES)
        finally:
            stop_spark()
    cols = ["account_id", "date", "decision", *spark_job.SCORES]
    return {**runs, **spark_job.summarise(runs, requests),
            "verdicts": spark_job.compare_verdicts(read_verdicts(duck, columns=cols),
                                                   read_verdicts(spark, columns=cols)),
            "cluster": {"workers": 1, "cores_per_worker": 1, "memory_per_worker": memory,
                        "driver_memory": memory,
                        "executors": "one"},
            "embedding_backend": "static"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--accounts", type=int, default=1000)
    ap.add_argument("--days", type=int, default=1)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--part", choices=("all", "engines", "executors", "job"), default="all")
    ap.add_argument("--memory", default="1g", help="the job part's worker memory")
    args = ap.parse_args()
    load0 = os.getloadavg()
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip()  # the code the run started with
    with tempfile.TemporaryDirectory(prefix="dg-bench-spark-") as tmp:
        root = Path(tmp)
        duck = generated_home(root, "duck", args.accounts, args.days, args.seed)
        shutil.copytree(root / "duck", root / "spark")
        days = lake_dates(duck)
        requests = ds.dataset(duck.requests_dir, format="parquet").count_rows()
        print(f"{requests} requests, {args.accounts} accounts, days {days}", flush=True)
        job = None
        if args.part in ("all", "job"):  # first: on copies of the freshly ingested home
            for name in ("job-duck", "job-spark"):
                shutil.copytree(root / "duck", root / name)
            job = job_part(root, days, requests, args.memory)
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
    made = {"script": "bench/spark.py " + " ".join(sys.argv[1:]), "commit": commit,
            "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
    scenario = {"accounts": args.accounts, "days": days, "requests": requests, "seed": args.seed}
    doc = {
        **made,
        "machine": {"cpus": os.cpu_count(), "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
                    "platform": platform.platform(), "load_average_at_start": [round(x, 1) for x in load0],
                    "load_average_at_end": [round(x, 1) for x in os.getloadavg()],
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
    if job is not None:
        fixed = doc["executors"]["one_executor"]
        job["fixed_cost"] = {**spark_job.fixed_cost(job, {s: fixed[s]["warm"]["cpu_s"]
                                                          for s in STAGES}, requests),
                             "source": "executors section: warm CPU-s per stage, one executor, "
                                       f"{doc['executors']['scenario']['requests']:,} requests"}
    doc["job"] = ({**made, "machine": doc["machine"], "scenario": scenario, **job}
                  if job is not None else old.get("job"))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp_out = args.out.with_suffix(".json.tmp")
    tmp_out.write_text(json.dumps(doc, indent=2) + "\n")
    os.replace(tmp_out, args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
