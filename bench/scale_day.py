"""Where one machine stops: one day of the whole daily job on DuckDB, stage by stage.

    .venv/bin/python bench/scale_day.py [--requests 10000000] [--accounts 100000] [--seed 0]
                                        [--out bench/results/scale_day.json] [--keep-outputs]
    .venv/bin/python bench/scale_day.py --table     (the results as Markdown, for docs/scale.md)

The day's lake (``bench/scale_synth.py``: Parquet written straight from vectorised generation,
not ``simulate`` + ``ingest``, which would take longer than the job) is built once per size and
seed under ``bench/work/scale_day/<requests>_<accounts>_<seed>_v<VERSION>/`` and reused. Each run first
removes everything the job wrote before (features, embeddings and their cache, clusters,
verdicts, state): a cold daily run, whose prompts have never been embedded.

Then each stage of ``detector.pipeline`` (features, embeddings with the static CPU model,
clusters, decide, campaigns) and the report runs in its own child process, one after the other,
with ``threads = 2``; the parent takes the child's wall time and CPU seconds (user + system)
from ``os.wait4``, its peak RSS by polling ``VmHWM`` in ``/proc`` every 0.2 s, and the load
average before and after. Results are merged into the
JSON file under the key ``"<requests>_<accounts>"`` (so 1M, 3M and 10M runs sit side by side),
with script, commit, date and machine (cores, RAM).
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
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from scale_synth import VERSION, generate, read_rows  # noqa: E402

from detector.lake.io import write_text_atomic  # noqa: E402

DAY = "2026-12-01"
WORK = ROOT / "bench" / "work" / "scale_day"
#: (stage, module, function): the scoring stages in ``detector.pipeline`` order, then the report
STAGES = [("features", "detector.features", "compute"),
          ("embeddings", "detector.embeddings", "compute"),
          ("clusters", "detector.clusters", "compute"),
          ("decide", "detector.decide", "score"),
          ("campaigns", "detector.clusters.campaigns", "compute"),
          ("report", "detector.report", "write_report")]
CHILD = (
    "import sys, importlib; from detector.settings import load_settings;"
    "s = load_settings(sys.argv[1], threads=2, embedding_backend='static');"
    "fn = getattr(importlib.import_module(sys.argv[2]), sys.argv[3]);"
    "fn(s, None, sys.argv[4]) if sys.argv[3] == 'write_report' else fn(s, [sys.argv[4]])"
)
#: what the job writes in the home (removed before each run: a cold day)
OUTPUTS = ("features", "embeddings", "clusters", "verdicts", "state", "reports", "models")


def _meminfo_gib() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return round(int(line.split()[1]) / 2**20, 1)
    return 0.0


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _commit() -> str:
    out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                         text=True, check=False)
    return out.stdout.strip()


def lake(requests: int, accounts: int, seed: int) -> tuple[Path, dict]:
    """The cached home holding the day's lake (built when absent)."""
    home = WORK / f"{requests}_{accounts}_{seed}_v{VERSION}"
    info_path = home / "lake_info.json"
    if info_path.exists():
        return home, {**json.loads(info_path.read_text()), "lake_reused": True}
    shutil.rmtree(home, ignore_errors=True)
    t0 = time.perf_counter()
    info = generate(home, DAY, accounts, requests, seed)
    info["generate_s"] = round(time.perf_counter() - t0, 1)
    write_text_atomic(info_path, json.dumps(info))
    return home, {**info, "lake_reused": False}


class HighWater(threading.Thread):
    """Polls a process's ``VmHWM`` (peak resident set of its own address space since exec).

    ``ru_maxrss`` from ``wait4`` is not used for the peak: Linux carries the parent's resident
    size over the child's exec, so every child would show at least the parent's RSS."""

    def __init__(self, pid: int, every_s: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.path, self.every_s, self.kib = Path(f"/proc/{pid}/status"), every_s, 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            try:
                for line in self.path.read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        self.kib = max(self.kib, int(line.split()[1]))
            except (OSError, ValueError):
                pass  # not started yet or gone
            self.done.wait(self.every_s)


def measure_child(cmd: list[str], env: dict | None = None, cwd: Path | None = None) -> dict:
    """Run ``cmd`` as a child process: wall and CPU seconds (user + system, ``wait4``), peak
    RSS (``HighWater``), exit code and the last 3,000 characters of its stderr."""
    t0 = time.perf_counter()
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, env=env, cwd=cwd)
        hwm = HighWater(proc.pid)
        hwm.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        hwm.done.set()
        hwm.join()
        err.seek(0)
        tail = err.read().decode(errors="replace")[-3000:]
    return {"wall_s": round(wall, 1), "cpu_s": round(usage.ru_utime + usage.ru_stime, 1),
            "peak_rss_mib": round(hwm.kib / 1024), "exit_code": os.waitstatus_to_exitcode(status),
            "stderr_tail": tail}


def run_stage(name: str, module: str, fn: str, home: Path) -> dict:
    """One stage in a child process: wall, CPU (user + system), peak RSS, load around it."""
    load0 = _load()
    m = measure_child([sys.executable, "-c", CHILD, str(home), module, fn, DAY])
    if m["exit_code"] != 0:
        raise SystemExit(f"stage {name} ({module}.{fn}) failed on {home}: {m['stderr_tail']}")
    row = {"stage": name, "wall_s": m["wall_s"], "cpu_s": m["cpu_s"],
           "peak_rss_mib": m["peak_rss_mib"], "load_before": load0, "load_after": _load()}
    print(f"{name:11s} {row['wall_s']:8.1f} s wall {row['cpu_s']:8.1f} CPU-s "
          f"{row['peak_rss_mib']:7d} MiB  load {load0[0]} -> {row['load_after'][0]}", flush=True)
    return row


def run(requests: int, accounts: int, seed: int, keep: bool) -> dict:
    home, info = lake(requests, accounts, seed)
    for name in OUTPUTS:
        shutil.rmtree(home / name, ignore_errors=True)
    rows = read_rows(home, DAY)
    load0 = _load()
    stages = [run_stage(*stage, home=home) for stage in STAGES]
    for s in stages:
        s["cpu_s_per_m_requests"] = round(s["cpu_s"] / (rows / 1e6), 1)
    total = {"wall_s": round(sum(s["wall_s"] for s in stages), 1),
             "cpu_s": round(sum(s["cpu_s"] for s in stages), 1),
             "peak_rss_mib": max(s["peak_rss_mib"] for s in stages)}
    out = {"requests": rows, "accounts": accounts, "seed": seed, "day": DAY, "lake": info,
           "stages": stages, "total": total, "load_before": load0, "load_after": _load(),
           "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    if not keep:
        for name in OUTPUTS:
            shutil.rmtree(home / name, ignore_errors=True)
    return out


def table(doc: dict) -> str:
    """The runs of ``doc`` as one Markdown table per size: the rows of docs/scale.md."""
    out = []
    for r in sorted(doc.get("runs", {}).values(), key=lambda run: run["requests"]):
        out.append(f"{r['requests']:,} requests, {r['accounts']:,} accounts (commit {r['commit']}, "
                   f"{r['measured_at']}, load {r['load_before'][0]} -> {r['load_after'][0]}):\n")
        out.append("| stage | wall s | CPU s | CPU s per million requests | peak RSS MiB |")
        out.append("|---|---|---|---|---|")
        for s in [*r["stages"], {"stage": "**total**", **r["total"], "cpu_s_per_m_requests": round(
                r["total"]["cpu_s"] / (r["requests"] / 1e6), 1)}]:
            out.append(f"| {s['stage']} | {s['wall_s']:,} | {s['cpu_s']:,} | "
                       f"{s['cpu_s_per_m_requests']:,} | {s['peak_rss_mib']:,} |")
        out.append("")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=10_000_000)
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "scale_day.json")
    parser.add_argument("--keep-outputs", action="store_true",
                        help="leave the job's outputs in the cached home (for comparisons)")
    parser.add_argument("--table", action="store_true",
                        help="print the results file's runs as Markdown tables and stop")
    args = parser.parse_args()
    if args.table:
        print(table(json.loads(args.out.read_text())))
        return
    commit = _commit()  # the code the stages run (HEAD may move while they do)
    result = run(args.requests, args.accounts, args.seed, args.keep_outputs)
    doc = json.loads(args.out.read_text()) if args.out.exists() else {}
    doc.update({
        "script": "bench/scale_day.py", "commit": commit,
        "goal": "10M requests / 100k accounts in one day on 2 cores, 24 GiB: < 15 min, < 8 GiB peak",
        "machine": {"cores": os.cpu_count(), "ram_gib": _meminfo_gib(),
                    "python": platform.python_version(), "machine": platform.machine()},
    })
    doc.setdefault("runs", {})[f"{args.requests}_{args.accounts}"] = {**result, "commit": doc["commit"]}
    write_text_atomic(args.out, json.dumps(doc, indent=2) + "\n")
    t = result["total"]
    print(f"total {t['wall_s']} s, {t['cpu_s']} CPU-s, peak {t['peak_rss_mib']} MiB -> {args.out}")


if __name__ == "__main__":
    main()
