"""Gateway lookup latency: ``/v1/verdicts/{account_id}`` at a fixed request rate.

Builds a home with N accounts' verdicts (default 1M) under ``bench/work/api-home``, starts
``detector serve`` as a separate process on loopback, waits until the index is loaded, then
drives the lookup from this process with an open-loop schedule (request i is due at
t0 + i/rate; latency is measured from that due time, so a stalled server cannot hide its
queueing: no coordinated omission) over several keep-alive connections. 10% of lookups are
for unknown accounts. Writes ``bench/results/api.json``.

    .venv/bin/python bench/api.py                       # 1M accounts, 500 req/s, 20 s
    .venv/bin/python bench/api.py --accounts 100000 --rate 500 --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import random
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _meta import stamp, write_atomic  # noqa: E402

from detector.cases import CaseStore  # noqa: E402
from detector.lake.io import write_parquet_atomic  # noqa: E402
from detector.settings import load_settings  # noqa: E402
from detector.verdicts import verdict_path  # noqa: E402

DAY = "2026-11-27"


def build_home(home: Path, n: int, seed: int = 1) -> str:
    """N accounts' verdicts for one day (contract columns); returns a fresh hook key."""
    if home.exists():
        shutil.rmtree(home)
    settings = load_settings(home)
    settings.ensure_dirs()
    rng = np.random.default_rng(seed)
    score = rng.beta(1.2, 6.0, n)
    decision = np.where(score > 0.8, "block", np.where(score > 0.5, "review", "allow"))
    ids = [f"acct_{i:07d}" for i in range(n)]
    reasons = np.where(decision == "allow", "", "hv_logprobs_share;vol_requests")
    cluster = [f"clu_{i % 997}" if d != "allow" and i % 5 == 0 else None
               for i, d in enumerate(decision)]
    created = dt.datetime(2026, 11, 28, tzinfo=dt.UTC)
    table = pa.table({
        "account_id": ids, "date": pa.array([dt.date.fromisoformat(DAY)] * n, pa.date32()),
        "score": score, "decision": decision, "reasons": reasons, "cluster_id": cluster,
        "model_score": score, "anomaly_score": rng.random(n),
        "rule_hits": pa.array([[] for _ in range(n)], pa.list_(pa.string())),
        "shadow_hits": pa.array([[] for _ in range(n)], pa.list_(pa.string())),
        "explanation_json": ["{}"] * n, "model_version": ["bench-1"] * n,
        "ruleset_hash": ["h"] * n, "feature_run_id": ["f"] * n, "run_id": ["r"] * n,
        "created_at": pa.array([created] * n, pa.timestamp("us", tz="UTC")),
    })
    write_parquet_atomic(verdict_path(settings, DAY), table)  # without risk: an older file
    return CaseStore(settings).create_key("hook", "bench")[0]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(port: int, key: str, n: int, timeout: float = 300) -> float:
    """Seconds until /healthz reports all N accounts loaded."""
    import httpx

    t0 = time.time()
    while time.time() - t0 < timeout:
        try:
            body = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).json()
            if body["verdict_accounts"] >= n:
                return time.time() - t0
        except (httpx.HTTPError, ValueError, KeyError):
            pass
        time.sleep(0.2)
    raise SystemExit(f"server not ready after {timeout} s")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far (seconds)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def drive(port: int, key: str, n_accounts: int, rate: float, seconds: float,
                connections: int, seed: int = 2) -> dict:
    """Open-loop load; returns latencies (ms, from due time) and counts."""
    rnd = random.Random(seed)
    total = int(rate * seconds)
    queue: asyncio.Queue[tuple[int, float] | None] = asyncio.Queue()
    lat = np.full(total, np.nan)
    service = np.full(total, np.nan)
    status_counts: dict[int, int] = {}
    decisions: dict[str, int] = {}

    def target(i: int) -> str:
        if rnd.random() < 0.1:
            return f"unknown_{i}"
        return f"acct_{rnd.randrange(n_accounts):07d}"

    paths = [f"/v1/verdicts/{target(i)}" for i in range(total)]

    async def worker() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while (item := await queue.get()) is not None:
                i, due = item
                sent = time.perf_counter()
                writer.write((f"GET {paths[i]} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                              f"Authorization: Bearer {key}\r\n\r\n").encode())
                head = await reader.readuntil(b"\r\n\r\n")
                status = int(head.split(b" ", 2)[1])
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                body = await reader.readexactly(length)
                done = time.perf_counter()
                lat[i] = (done - due) * 1000
                service[i] = (done - sent) * 1000
                status_counts[status] = status_counts.get(status, 0) + 1
                if status == 200:
                    d = json.loads(body)["decision"]
                    decisions[d] = decisions.get(d, 0) + 1
        finally:
            writer.close()

    workers = [asyncio.create_task(worker()) for _ in range(connections)]
    await asyncio.sleep(0.2)
    t0 = time.perf_counter()
    for i in range(total):
        due = t0 + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        queue.put_nowait((i, due))
    for _ in workers:
        queue.put_nowait(None)
    await asyncio.gather(*workers)
    elapsed = time.perf_counter() - t0
    ok = lat[~np.isnan(lat)]
    svc = service[~np.isnan(service)]
    pct = {f"p{p}": round(float(np.percentile(ok, p)), 3) for p in (50, 90, 99, 99.9)}
    return {"requests": total, "completed": int(len(ok)), "elapsed_s": round(elapsed, 2),
            "achieved_rps": round(len(ok) / elapsed, 1), "latency_ms_from_due_time": pct
            | {"max": round(float(ok.max()), 3), "mean": round(float(ok.mean()), 3)},
            "service_ms_on_connection": {f"p{p}": round(float(np.percentile(svc, p)), 3)
                                         for p in (50, 99)},
            "status": {str(k): v for k, v in sorted(status_counts.items())},
            "decisions": decisions}


def run(coro):
    """uvloop when installed (a lighter client leaves more CPU to the server), else asyncio."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--accounts", type=int, default=1_000_000)
    ap.add_argument("--rate", type=float, default=500.0)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--warmup-seconds", type=float, default=3.0)
    ap.add_argument("--home", type=Path, default=ROOT / "bench" / "work" / "api-home")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "api.json")
    args = ap.parse_args()

    load_before = os.getloadavg()[0]
    t0 = time.time()
    key = build_home(args.home, args.accounts)
    build_s = time.time() - t0
    port = free_port()
    exe = ROOT / ".venv" / "bin" / "detector"
    cmd = [str(exe) if exe.exists() else shutil.which("detector") or "detector",
           "--home", str(args.home), "serve", "--port", str(port)]
    env = {k: v for k, v in os.environ.items() if k != "DETECTOR_DEV_MODE"}
    proc = subprocess.Popen(cmd, env=env, stderr=subprocess.DEVNULL)
    try:
        ready_s = wait_ready(port, key, args.accounts)
        rss = rss_mb(proc.pid)
        if args.warmup_seconds > 0:
            run(drive(port, key, args.accounts, args.rate, args.warmup_seconds,
                              args.connections, seed=9))
        cpu0, own0 = cpu_seconds(proc.pid), time.process_time()
        result = run(drive(port, key, args.accounts, args.rate, args.seconds,
                                   args.connections))
        server_cpu = cpu_seconds(proc.pid) - cpu0
        client_cpu = time.process_time() - own0
        result["server_cpu_us_per_request"] = round(server_cpu / result["completed"] * 1e6, 1)
        result["client_cpu_us_per_request"] = round(client_cpu / result["completed"] * 1e6, 1)
        result["server_cpu_share_of_one_core"] = round(server_cpu / result["elapsed_s"], 3)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    p99 = result["latency_ms_from_due_time"]["p99"]
    out = {
        "benchmark": "gateway verdict lookup, GET /v1/verdicts/{account_id}",
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "load_avg_1m_before": round(load_before, 2),
                    "load_avg_1m_after": round(os.getloadavg()[0], 2),
                    "note": "load average > cpus means other processes shared the cores"},
        "setup": {"accounts": args.accounts, "target_rps": args.rate, "seconds": args.seconds,
                  "connections": args.connections, "unknown_share": 0.1,
                  "server": "detector serve (uvicorn, 1 process), loopback; load from a second "
                            "process (this script)"},
        "verdict_file_build_s": round(build_s, 1),
        "server_ready_s": round(ready_s, 1),
        "server_rss_mb_after_load": round(rss, 1),
        **result,
        "target": "p99 < 10 ms at 500 req/s with 1M accounts",
        "p99_under_10ms": p99 < 10.0,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    out = {"provenance": stamp("bench/api.py"), **out}
    write_atomic(args.out, json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
