"""Whole-pipeline benchmark (``make bench``): ingest -> features -> embeddings -> clusters ->
decide -> campaigns -> verdicts -> report on ~1M generated requests (about 10k accounts, 3 days).

Each stage runs in its own child process so its wall time and peak RSS are measured separately
(``os.wait4`` rusage). Writes ``bench/results/pipeline.json``.

Run: ``.venv/bin/python bench/pipeline.py [--accounts 10000] [--days 3] [--keep]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _meta import stamp, write_atomic

REPO = Path(__file__).resolve().parents[1]
PY = sys.executable
DETECTOR = str(Path(sys.executable).with_name("detector"))

STAGE_CODE = (
    "import sys; from detector.settings import load_settings; from detector.lake.db import lake_dates;"
    "s = load_settings(sys.argv[1]); d = lake_dates(s);"
    "import importlib; m = importlib.import_module(sys.argv[2]); getattr(m, sys.argv[3])(s, d)"
)


def measure(name: str, cmd: list[str], results: list[dict]) -> None:
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"stage {name} failed: {err[-2000:]}")
    results.append({"stage": name, "wall_s": round(wall, 2), "peak_rss_mib": round(usage.ru_maxrss / 1024, 1)})
    print(f"{name:12s} {wall:8.1f} s  {usage.ru_maxrss / 1024:8.0f} MiB", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--accounts", type=int, default=10000)
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--seed", type=int, default=4242)
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="distill-guard-bench-", dir=os.environ.get("BENCH_TMP")))
    logs, home = work / "logs", work / "home"
    results: list[dict] = []
    try:
        measure("simulate", [DETECTOR, "simulate", "--out", str(logs), "--accounts", str(args.accounts),
                             "--days", str(args.days), "--seed", str(args.seed)], results)
        measure("ingest", [DETECTOR, "--home", str(home), "ingest", str(logs), "--json"], results)
        for stage, module, fn in (("features", "detector.features", "compute"),
                                  ("embeddings", "detector.embeddings", "compute"),
                                  ("clusters", "detector.clusters", "compute"),
                                  ("decide", "detector.decide", "score"),
                                  ("campaigns", "detector.clusters.campaigns", "compute")):
            measure(stage, [PY, "-c", STAGE_CODE, str(home), module, fn], results)
        measure("verdicts", [DETECTOR, "--home", str(home), "verdicts", "--format", "csv"], results)
        measure("report", [DETECTOR, "--home", str(home), "report", "--out", str(work / "r.html")], results)
        requests = int(subprocess.run(
            [PY, "-c", "import sys; from detector.settings import load_settings; from detector.lake.db import connect;"
             "print(connect(load_settings(sys.argv[1])).execute('select count(*) from requests').fetchone()[0])",
             str(home)], capture_output=True, text=True, check=True).stdout.strip())
        pipeline = [r for r in results if r["stage"] != "simulate"]
        out = {
            "requests": requests, "accounts": args.accounts, "days": args.days,
            "stages": results,
            "pipeline_wall_s": round(sum(r["wall_s"] for r in pipeline), 1),
            "pipeline_peak_rss_mib": max(r["peak_rss_mib"] for r in pipeline),
            "goal": "whole pipeline (ingest..report) under 180 s on the 2-core CPU",
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
            "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        out = {"provenance": stamp("bench/pipeline.py"), **out}
        write_atomic(REPO / "bench" / "results" / "pipeline.json", json.dumps(out, indent=2) + "\n")
        print(f"pipeline (ingest..report): {out['pipeline_wall_s']} s for {requests} requests")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
