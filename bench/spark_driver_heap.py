"""The driver JVM's heap over one cold pass of the Spark stages of the job (features,
embeddings, clusters, decide) on a standalone cluster of one worker, with a small driver.

    nice .venv/bin/python bench/spark_driver_heap.py --accounts 23500 --days 1
                                                     [--driver-memory 1g] [--worker-memory 4g]

Simulates ``--accounts`` accounts over ``--days`` days and ingests them (as ``bench/spark.py``
does), starts a standalone cluster of one worker (1 core, ``--worker-memory``: one executor),
then runs :data:`spark.STAGES` once each, in order, in a fresh Spark session whose driver JVM
has ``spark.driver.memory = --driver-memory``. Every ``--every`` seconds, and at the end of each
stage, ``jstat -gc <driver pid>`` is sampled: heap in use = S0U + S1U + EU + OU (live and not
yet collected objects together), committed = S0C + S1C + EC + OC, and the full-collection count
(FGC). Per stage: wall seconds, the largest heap in use seen, the full collections in the
stage. A stage that raises (e.g. ``OutOfMemoryError`` through Py4J) or runs past
``--stage-timeout`` ends the pass: the JSON says which stage and why, ``completed`` is false.

Writes bench/results/spark_driver_heap.json (provenance: script, commit, date, machine; load
average at the start and at the end; per stage figures; every sample).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import pyarrow.dataset as ds

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tools"))

import _meta  # noqa: E402
import spark as spark_bench  # noqa: E402
from spark_standalone import StandaloneCluster  # noqa: E402

from detector.features.engine import stop_spark  # noqa: E402
from detector.lake.db import lake_dates  # noqa: E402

OUT = ROOT / "bench" / "results" / "spark_driver_heap.json"
MIB = 1024.0  # jstat reports KiB


def driver_pid() -> int | None:
    """Pid of this process's driver JVM (a descendant running ``SparkSubmit``), None before the
    Spark session starts."""
    for p in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            if any("SparkSubmit" in a for a in p.cmdline()) and "java" in p.name():
                return p.pid
    return None


def jstat_gc(pid: int) -> dict[str, float] | None:
    """``jstat -gc pid`` as {column: value} (KiB, counts, seconds); None if jstat fails."""
    try:
        out = subprocess.run(["jstat", "-gc", str(pid)], capture_output=True, text=True,
                             timeout=30).stdout.split("\n")
    except (OSError, subprocess.TimeoutExpired):
        return None
    if len(out) < 2 or not out[1].strip():
        return None
    head, vals = out[0].split(), out[1].split()
    try:
        return {k: float(v) for k, v in zip(head, vals, strict=True) if v != "-"}
    except ValueError:
        return None


class Sampler:
    """Samples the driver's heap every ``every`` seconds in a thread; ``stage`` names the stage
    each sample falls in; stops the pass (SIGINT to this process) past ``stage_timeout``."""

    def __init__(self, every: float, stage_timeout: float):
        self.every, self.stage_timeout = every, stage_timeout
        self.samples: list[dict] = []
        self.stage: str | None = None
        self.stage_t0 = time.monotonic()
        self.t0 = time.monotonic()
        self.pid: int | None = None
        self.timed_out: str | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def sample(self) -> dict | None:
        self.pid = self.pid or driver_pid()
        gc = jstat_gc(self.pid) if self.pid else None
        if gc is None:
            return None
        used = gc["S0U"] + gc["S1U"] + gc["EU"] + gc["OU"]
        committed = gc["S0C"] + gc["S1C"] + gc["EC"] + gc["OC"]
        row = {"t_s": round(time.monotonic() - self.t0, 1), "stage": self.stage,
               "heap_used_mib": round(used / MIB, 1),
               "heap_committed_mib": round(committed / MIB, 1),
               "old_used_mib": round(gc["OU"] / MIB, 1), "young_gcs": int(gc["YGC"]),
               "full_gcs": int(gc["FGC"])}
        with self._lock:
            self.samples.append(row)
        return row

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            row = self.sample()
            if row:
                print(f"    heap {row['heap_used_mib']:.0f} / {row['heap_committed_mib']:.0f} MiB,"
                      f" {row['full_gcs']} full GCs ({self.stage})", flush=True)
            if (self.stage and self.timed_out is None
                    and time.monotonic() - self.stage_t0 > self.stage_timeout):
                self.timed_out = self.stage
                os.kill(os.getpid(), signal.SIGINT)  # KeyboardInterrupt in the main thread

    def begin(self, stage: str) -> None:
        self.stage, self.stage_t0 = stage, time.monotonic()

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=60)


def stage_figures(samples: list[dict], stage: str, fgc_before: int) -> dict:
    """The largest heap in use, the full collections and the sample count of ``stage``."""
    rows = [s for s in samples if s["stage"] == stage]
    if not rows:
        return {"samples": 0}
    top = max(rows, key=lambda s: s["heap_used_mib"])
    return {"samples": len(rows), "max_heap_used_mib": top["heap_used_mib"],
            "heap_committed_mib_at_max": top["heap_committed_mib"],
            "max_old_used_mib": max(s["old_used_mib"] for s in rows),
            "full_gcs": rows[-1]["full_gcs"] - fgc_before}


def cold_pass(settings, days: list[str], sampler: Sampler) -> dict:
    """:data:`spark.STAGES` once each in order; per stage wall and heap figures; stops at the
    first stage that raises or times out."""
    out: dict = {"stages": {}, "completed": False, "failed_stage": None, "error": None}
    fgc = 0
    for name, fn in spark_bench.STAGES.items():
        sampler.begin(name)
        print(f"  {name} ...", flush=True)
        t0 = time.perf_counter()
        try:
            fn(settings, days)
        except KeyboardInterrupt:
            out["failed_stage"] = name
            out["error"] = (f"stopped after {sampler.stage_timeout:.0f} s without finishing"
                            if sampler.timed_out else "interrupted")
        except Exception as exc:  # noqa: BLE001 (recorded: the pass's outcome)
            out["failed_stage"], out["error"] = name, f"{type(exc).__name__}: {exc}"[:2000]
        wall = time.perf_counter() - t0
        sampler.sample()  # the stage's end (or failure) point
        fig = {"wall_s": round(wall, 1), **stage_figures(sampler.samples, name, fgc)}
        out["stages"][name] = fig
        fgc = sampler.samples[-1]["full_gcs"] if sampler.samples else fgc
        print(f"  {name}: {wall:.1f} s, max heap in use {fig.get('max_heap_used_mib')} MiB, "
              f"{fig.get('full_gcs')} full GCs", flush=True)
        if out["failed_stage"]:
            return out
    out["completed"] = True
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--accounts", type=int, default=23500)
    ap.add_argument("--days", type=int, default=1)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--driver-memory", default="1g")
    ap.add_argument("--worker-memory", default="4g")
    ap.add_argument("--every", type=float, default=15.0, help="seconds between jstat samples")
    ap.add_argument("--stage-timeout", type=float, default=1800.0)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    if shutil.which("jstat") is None:
        sys.exit("spark_driver_heap: jstat not on PATH (it ships with the JDK)")
    provenance = _meta.stamp("bench/spark_driver_heap.py")
    load0 = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="dg-bench-heap-") as tmp:
        root = Path(tmp)
        home = spark_bench.generated_home(root, "home", args.accounts, args.days, args.seed)
        days = lake_dates(home)
        requests = ds.dataset(home.requests_dir, format="parquet").count_rows()
        print(f"{requests} requests, {args.accounts} accounts, days {days}", flush=True)
        with StandaloneCluster(workers=1, cores=1, memory=args.worker_memory) as cluster:
            settings = spark_bench._spark_settings(root / "home", cluster,
                                                   driver_memory=args.driver_memory)
            settings.ensure_dirs()
            with Sampler(args.every, args.stage_timeout) as sampler:
                try:
                    run = cold_pass(settings, days, sampler)
                finally:
                    pid = sampler.pid
                    with contextlib.suppress(Exception):
                        stop_spark()
                    if pid and psutil.pid_exists(pid):  # a driver JVM stuck after an OOM
                        with contextlib.suppress(ProcessLookupError):
                            os.kill(pid, signal.SIGKILL)
            samples = sampler.samples
    walls = [s["wall_s"] for s in run["stages"].values()]
    doc = {
        "provenance": provenance, **{k: provenance[k] for k in ("script", "commit", "date")},
        "machine": {**provenance["machine"], "load_average_at_start": [round(x, 2) for x in load0],
                    "load_average_at_end": [round(x, 2) for x in os.getloadavg()]},
        "scenario": {"accounts": args.accounts, "days": days, "requests": requests,
                     "seed": args.seed},
        "cluster": {"workers": 1, "cores_per_worker": 1, "worker_memory": args.worker_memory,
                    "driver_memory": args.driver_memory, "executors": "one",
                    "embedding_backend": "static"},
        "run": "cold: fresh home and Spark session, each stage once in order",
        "jstat_every_s": args.every,
        "heap_in_use": "S0U + S1U + EU + OU of jstat -gc: live and not yet collected objects",
        "completed": run["completed"], "failed_stage": run["failed_stage"],
        "error": run["error"], "stages": run["stages"],
        "total_wall_s": round(sum(walls), 1),
        "max_heap_used_mib": max((s["heap_used_mib"] for s in samples), default=None),
        "full_gcs": samples[-1]["full_gcs"] if samples else None,
        "notes": "shared 2-core machine (other evaluations ran at the same time): wall times are "
                 "not comparable between runs, heap figures are",
        "samples": samples,
    }
    _meta.write_atomic(args.out, json.dumps(doc, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
