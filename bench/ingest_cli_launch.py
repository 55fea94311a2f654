"""CPU cost of ``detector ingest`` by the console script's target (run by hand).

With ``--workers N`` the ingest spawns its pool, and every spawned worker runs the parent's
main script again as ``__mp_main__``. The console script imports its ``[project.scripts]``
target at top level: ``detector.cli.main`` (the whole command line: settings, pydantic, DuckDB,
pandas) or ``detector.cli.launch`` (nothing until called). This writes both one-line scripts,
ingests the same simulated files into a fresh home with each, alternating for ``--rounds``
rounds, and adds the CPU seconds (the command and its workers: user + system) under
``cli_launch`` to ``--out`` (default ``bench/results/ingest_worker_imports.json``):

    .venv/bin/python bench/ingest_cli_launch.py --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _meta import stamp, write_atomic

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = "import sys\nfrom {module} import main\nif __name__ == '__main__':\n    sys.exit(main())\n"
TARGETS = {"cli.main": "detector.cli.main", "cli.launch": "detector.cli.launch"}


def _cpu_of(cmd: list[str], env: dict) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, env=env)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime), wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--accounts", type=int, default=200)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "ingest_worker_imports.json")
    args = ap.parse_args()
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    with tempfile.TemporaryDirectory(prefix="cli-launch-") as tmp:
        work = Path(tmp)
        subprocess.run([sys.executable, "-c", "from detector.cli.launch import main; main()",
                        "simulate", "--out", str(work / "data"), "--accounts", str(args.accounts),
                        "--days", "2", "--seed", "5"], check=True, capture_output=True, env=env)
        files = sorted(str(p) for p in (work / "data").glob("requests-*.jsonl*"))
        for name, module in TARGETS.items():
            (work / name).write_text(SCRIPT.format(module=module))
        cpu: dict[str, list[float]] = {n: [] for n in TARGETS}
        wall: dict[str, list[float]] = {n: [] for n in TARGETS}
        for _ in range(args.rounds):
            for name in TARGETS:
                home = work / f"home-{name}"
                shutil.rmtree(home, ignore_errors=True)
                c, w = _cpu_of([sys.executable, str(work / name), "--home", str(home), "ingest",
                                *files, "--workers", str(args.workers)], env)
                cpu[name].append(round(c, 3))
                wall[name].append(round(w, 3))
    section = {"provenance": stamp("bench/ingest_cli_launch.py", sys.argv[1:]),
               "files": len(files), "workers": args.workers, "rounds": args.rounds,
               "cpu_seconds": cpu, "wall_seconds": wall,
               "median_cpu_seconds": {n: statistics.median(v) for n, v in cpu.items()},
               "ratio_launch_vs_main": round(statistics.median(cpu["cli.launch"])
                                             / statistics.median(cpu["cli.main"]), 3)}
    doc = json.loads(args.out.read_text()) if args.out.exists() else {}
    doc["cli_launch"] = section
    write_atomic(args.out, json.dumps(doc, indent=2) + "\n")
    print(json.dumps(section["median_cpu_seconds"]), section["ratio_launch_vs_main"])


if __name__ == "__main__":
    main()
