"""The cluster page of a 500-member cluster: server time cold and warm, bytes.

For each tree (this checkout and, with ``--baseline-ref``, the same repository at another
commit, unpacked with ``git archive`` into a temporary folder): build a home with the
synthetic cluster of ``tests/api/cluster_home.py`` (500 members, ~15,000 edges, written as
stored artefacts with that tree's code), start ``uvicorn`` on that tree's app in a fresh
process, wait for ``/healthz``, log in as an analyst, then time over loopback (request sent to
last byte; one keep-alive connection):

- ``cold``: the first ``/clusters/big_1`` after the start;
- ``warm``: the next ``--repeat`` requests (median and best);
- the JSON ``/v1/clusters/big_1`` with its default paging (the baseline returns every edge).

Writes ``bench/results/cluster_page.json``.

    .venv/bin/python bench/cluster_page.py --baseline-ref e0fc7a2
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "bench" / "results" / "cluster_page.json"
BUILD = """
import json, sys
sys.path.insert(0, {tree!r})
from pathlib import Path
from tests.api.fixtures import build_home
from tests.api.cluster_home import build_big_cluster
settings, keys = build_home(Path({home!r}))
print(json.dumps({{"edges": build_big_cluster(settings, {n}), "key": keys["analyst"]}}))
"""
SERVE = """
import sys
sys.path.insert(0, {tree!r})
from pathlib import Path
import uvicorn
from detector.api.app import create_app
from detector.settings import load_settings
uvicorn.run(create_app(load_settings(Path({home!r}))), host="127.0.0.1", port={port},
            log_level="warning", access_log=False)
"""


def _git(*args: str, tree: Path = REPO) -> str:
    return subprocess.run(["git", "-C", str(tree), *args], capture_output=True, text=True,
                          check=True).stdout.strip()


def _commit() -> str:
    dirty = _git("status", "--porcelain", "--untracked-files=no")
    return _git("rev-parse", "HEAD") + ("+dirty" if dirty else "")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _timed(client: httpx.Client, url: str) -> tuple[float, int, int]:
    t0 = time.perf_counter()
    r = client.get(url)
    return time.perf_counter() - t0, len(r.content), r.status_code


def measure(tree: Path, work: Path, n: int, repeat: int) -> dict:
    """Build the home with ``tree``'s code, serve it from a fresh process, time the page."""
    home = work / "home"
    py = sys.executable
    built = subprocess.run([py, "-c", BUILD.format(tree=str(tree), home=str(home), n=n)],
                           cwd=tree, capture_output=True, text=True)
    if built.returncode:
        raise SystemExit(f"building the home with {tree} failed:\n{built.stderr[-3000:]}")
    info = json.loads(built.stdout.strip().splitlines()[-1])
    port = _free_port()
    server = subprocess.Popen([py, "-c", SERVE.format(tree=str(tree), home=str(home),
                                                      port=port)], cwd=tree)
    base = f"http://127.0.0.1:{port}"
    try:
        t0 = time.perf_counter()
        with httpx.Client(base_url=base, timeout=60) as client:
            while True:
                try:
                    if client.get("/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.perf_counter() - t0 > 120 or server.poll() is not None:
                    raise SystemExit(f"server of {tree} did not start")
                time.sleep(0.1)
            ready = time.perf_counter() - t0
            login = client.get("/login").text
            token = re.search(r'name="csrf" value="([0-9a-f]+)"', login).group(1)
            r = client.post("/login", data={"key": info["key"], "csrf": token})
            assert r.status_code in (200, 303), r.status_code
            cold_s, cold_bytes, status = _timed(client, "/clusters/big_1")
            assert status == 200, status
            warm = [_timed(client, "/clusters/big_1") for _ in range(repeat)]
            api_headers = {"Authorization": f"Bearer {info['key']}"}
            client.cookies.clear()
            client.headers.update(api_headers)
            api = [_timed(client, "/v1/clusters/big_1") for _ in range(3)]
    finally:
        server.terminate()
        server.wait(timeout=30)
    warm_s = [w[0] for w in warm]
    return {"tree": str(tree), "members": n, "edges": info["edges"],
            "server_ready_s": round(ready, 2),
            "page_cold_s": round(cold_s, 3), "page_bytes": cold_bytes,
            "page_warm_median_s": round(statistics.median(warm_s), 3),
            "page_warm_best_s": round(min(warm_s), 3), "page_warm_all_s":
            [round(x, 3) for x in warm_s],
            "api_first_s": round(api[0][0], 3), "api_warm_best_s": round(min(a[0] for a in
                                                                               api[1:]), 3),
            "api_bytes": api[0][1], "api_status": api[0][2]}


def _baseline_tree(ref: str, work: Path) -> Path:
    """``ref`` unpacked with git archive, plus this checkout's cluster fixture."""
    tree = work / "tree"
    tree.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(REPO), "archive", ref], capture_output=True,
                             check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    shutil.copy(REPO / "tests" / "api" / "cluster_home.py", tree / "tests" / "api")
    return tree


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--members", type=int, default=500)
    ap.add_argument("--repeat", type=int, default=5, help="warm requests")
    ap.add_argument("--baseline-ref", help="also measure this commit (git archive)")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="dg-cluster-page-") as tmp:
        work = Path(tmp)
        runs = {}
        if args.baseline_ref:
            base = work / "baseline"
            tree = _baseline_tree(args.baseline_ref, base)
            runs["baseline"] = measure(tree, base, args.members, args.repeat) | {
                "commit": _git("rev-parse", args.baseline_ref)}
            print("baseline", json.dumps(runs["baseline"]))
        runs["current"] = measure(REPO, work / "current", args.members, args.repeat) | {
            "commit": _commit()}
        print("current", json.dumps(runs["current"]))
    result = {
        "benchmark": "cluster page of a 500-member cluster, GET /clusters/{id}",
        "script": "bench/cluster_page.py", "commit": _commit(),
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "load_avg_1m_before": round(load_before, 2),
                    "load_avg_1m_after": round(os.getloadavg()[0], 2),
                    "note": "load average > cpus means other processes shared the cores"},
        "method": "fresh uvicorn process per tree; time over loopback from request to last "
                  "byte, one keep-alive connection; cold = first cluster page after start "
                  "(after /healthz and the login)",
        "target": "< 1 s cold and warm, < 300 KB",
        "runs": runs,
        "meets_target": (runs["current"]["page_cold_s"] < 1.0
                         and runs["current"]["page_warm_median_s"] < 1.0
                         and runs["current"]["page_bytes"] < 300_000),
    }
    tmp = args.out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    os.replace(tmp, args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
