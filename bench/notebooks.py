"""Benchmark: execute each analyst notebook (nbclient) and record its wall and CPU time.

Run by hand: ``.venv/bin/python bench/notebooks.py``. Each notebook runs in a fresh kernel
against a fresh scratch cache, first alone with a cold cache (it builds the small simulated
home itself, the worst case an analyst meets), then the four in a row sharing one warm cache
(what CI does). CPU seconds are the kernel's (a child process) plus this process's. Writes
``bench/results/notebooks.json``; the caches go to ``bench/work/notebooks`` and are deleted.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import time
from pathlib import Path

import nbformat
from _meta import stamp, write_atomic
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent
NOTEBOOKS = sorted((ROOT.parent / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def _cpu() -> float:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def run_one(path: Path, cache: Path) -> dict:
    """Execute one notebook with ``cache`` as its scratch folder; wall and CPU seconds."""
    os.environ["DETECTOR_NOTEBOOK_CACHE"] = str(cache)
    nb = nbformat.read(path, as_version=4)
    cpu0, t0 = _cpu(), time.perf_counter()
    NotebookClient(nb, timeout=900, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    return {"notebook": path.stem, "wall_s": round(time.perf_counter() - t0, 1),
            "cpu_s": round(_cpu() - cpu0, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--skip-cold", action="store_true", help="only the warm-cache sequence")
    args = ap.parse_args()
    for name in ("DETECTOR_HOME", "DETECTOR_TRUTH", "DETECTOR_RULES_DIR"):
        os.environ.pop(name, None)
    work = ROOT / "work" / "notebooks"
    shutil.rmtree(work, ignore_errors=True)
    cold = [] if args.skip_cold else [run_one(p, work / f"cold-{p.stem}") for p in NOTEBOOKS]
    warm = [run_one(p, work / "shared") for p in NOTEBOOKS]
    shutil.rmtree(work, ignore_errors=True)
    result = {
        "what": "each notebook executed by nbclient; cold = builds its own scratch home, "
                "warm = in sequence sharing one scratch home (the first one builds it)",
        "command": "python bench/notebooks.py",
        "cold": cold, "warm_sequence": warm,
        "warm_total_wall_s": round(sum(r["wall_s"] for r in warm), 1),
        "load_average_1m_at_end": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(), "python": platform.python_version(),
    }
    out = ROOT / "results" / "notebooks.json"
    result = {"provenance": stamp("bench/notebooks.py"), **result}
    write_atomic(out, json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
