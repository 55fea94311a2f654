"""CPU cost of one ingest worker's start-up, this tree against another (run by hand).

A spawned pool process starts a fresh interpreter, imports the pool's entry points
(``detector.ingest.pool``, ``detector.ingest.worker``) and unpickles the arguments of its task
(``run_task``'s configuration and a ``FileTask``). This times exactly that, user + system CPU
seconds and wall of the child, alternating this tree and ``--baseline-tree DIR`` (a ``git
worktree`` of another commit) for ``--rounds`` rounds, and adds the medians and every round under
``worker_start`` to ``--out`` (default ``bench/results/ingest_worker_imports.json``, where
``bench/ingest.py --baseline-tree`` puts the whole ingest side by side):

    .venv/bin/python bench/ingest_worker_start.py --baseline-tree /tmp/wt_base --rounds 10
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _meta import git_commit, stamp, write_atomic

ROOT = Path(__file__).resolve().parent.parent

# the parent's side (untimed): what the pipeline submits to a worker, pickled
_PAYLOAD = """
import pickle, sys
sys.path.insert(0, {tree!r})
from detector.ingest.normalize import Limits
from detector.ingest.pool import run_task
from detector.ingest.worker import FileTask
from detector.settings import load_settings
config = load_settings({home!r})
try:  # trees before the worker configuration pickled the settings themselves
    from detector.ingest.config import ingest_config
    config = ingest_config(config)
except ImportError:
    pass
task = FileTask("/x.jsonl", "0" * 64, 0, "native", "job", "2026-11-28", Limits())
open({out!r}, "wb").write(pickle.dumps((run_task, config, task)))
"""

# the worker's side (timed)
_WORKER = """
import pickle, sys
sys.path.insert(0, {tree!r})
import detector.ingest.pool, detector.ingest.worker
pickle.loads(open({payload!r}, "rb").read())
print("pydantic" in sys.modules)
"""


def _run(code: str) -> tuple[float, float, str]:
    """(wall seconds, CPU seconds, stdout) of ``python -c code``."""
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, check=True).stdout
    wall = time.perf_counter() - t0
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, ru1.ru_utime + ru1.ru_stime - ru0.ru_utime - ru0.ru_stime, out.strip()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--baseline-tree", required=True, metavar="DIR")
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--out", type=Path, default=ROOT / "bench/results/ingest_worker_imports.json")
    args = ap.parse_args()
    trees = {"ours": str(ROOT), "baseline": str(Path(args.baseline_tree).resolve())}
    runs: dict[str, list[tuple[float, float]]] = {k: [] for k in trees}
    pydantic: dict[str, bool] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, tree in trees.items():
            _run(_PAYLOAD.format(tree=tree, home=f"{tmp}/home", out=f"{tmp}/{name}.pickle"))
        for _ in range(args.rounds):  # alternating, so that a change of load hits both
            for name, tree in trees.items():
                wall, cpu, out = _run(_WORKER.format(tree=tree, payload=f"{tmp}/{name}.pickle"))
                runs[name].append((wall, cpu))
                pydantic[name] = out == "True"
    section = {"provenance": stamp("bench/ingest_worker_start.py"), "rounds": args.rounds}
    for name, tree in trees.items():
        section[name] = {
            "tree": tree, "commit": git_commit(Path(tree)), "imports_pydantic": pydantic[name],
            "cpu_seconds": round(statistics.median(c for _, c in runs[name]), 3),
            "seconds": round(statistics.median(w for w, _ in runs[name]), 3),
            "cpu_seconds_per_round": [round(c, 3) for _, c in runs[name]],
            "seconds_per_round": [round(w, 3) for w, _ in runs[name]]}
    section["cpu_ratio_ours_vs_baseline"] = round(
        section["ours"]["cpu_seconds"] / section["baseline"]["cpu_seconds"], 3)
    doc = json.loads(args.out.read_text()) if args.out.exists() else {}
    doc["worker_start"] = section
    doc.setdefault("provenance", section["provenance"])
    write_atomic(args.out, json.dumps(doc, indent=2) + "\n")
    print(json.dumps(section, indent=2))


if __name__ == "__main__":
    main()
