"""Benchmark: generate ~1M requests with the demo scenario and record speed and memory.

Run by hand: ``.venv/bin/python bench/simulate.py [--accounts 8600] [--days 3]``. Writes
``bench/results/simulate.json`` (wall and CPU seconds, requests per second, peak RSS). The
generated files go to ``bench/work/simulate`` and are deleted afterwards unless ``--keep``.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import shutil
import time
from pathlib import Path

from _meta import stamp, write_atomic

from detector.simulate import simulate

ROOT = Path(__file__).resolve().parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--accounts", type=int, default=8900, help="accounts (8900 ~ 1M requests)")
    ap.add_argument("--days", type=int, default=3)
    ap.add_argument("--seed", type=int, default=101)
    ap.add_argument("--scenario", default="demo")
    ap.add_argument("--gzip", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the generated files")
    args = ap.parse_args()
    out = ROOT / "work" / "simulate"
    cpu0, t0 = time.process_time(), time.perf_counter()
    summary = simulate(out, args.accounts, args.days, args.seed, scenario=args.scenario,
                       gzip=args.gzip)
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    size = sum(p.stat().st_size for p in summary.files)
    result = {
        "what": "detector.simulate.simulate on the demo scenario",
        "command": f"python bench/simulate.py --accounts {args.accounts} --days {args.days}"
                   + (" --gzip" if args.gzip else ""),
        "accounts": summary.accounts, "days": args.days, "requests": summary.requests,
        "wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
        "requests_per_s_wall": round(summary.requests / wall),
        "requests_per_s_cpu": round(summary.requests / cpu),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "output_mib": round(size / 2**20, 1), "gzip": args.gzip,
        "machine": {"cpus": __import__("os").cpu_count(), "python": platform.python_version(),
                    "load_avg_1m_at_end": round(__import__("os").getloadavg()[0], 2)},
        "goal": "1M requests in under 120 s on 2 cores",
    }
    (ROOT / "results").mkdir(exist_ok=True)
    result = {"provenance": stamp("bench/simulate.py"), **result}
    write_atomic(ROOT / "results" / "simulate.json", json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    if not args.keep:
        shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
