"""Screenshots of the analyst pages and the daily report for the README (``docs/img/``).

Builds a demo home the way ``make run`` does (``detector simulate`` -> ``ingest`` -> ``run
--all`` -> ``report``; smaller by default: 1,000 accounts over 2 days) unless ``--home``
already holds verdicts, serves it in-process, logs in with a temporary analyst key (revoked at
the end) and drives headless Chromium (Playwright with Debian's ``chromium``, as the browser
tests do) to write ``queue.png``, ``account.png`` (the top review), ``cluster.png`` (the
cluster with the most flagged members) and ``report.png`` (the HTML report of the latest day).

Run: ``.venv/bin/python tools/screenshots.py [--home DIR] [--out docs/img] [--accounts N]
[--days D] [--seed S]``. A documentation tool, not part of the installed package.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from urllib.parse import quote

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("DETECTOR_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
VIEWPORT = {"width": 1280, "height": 900}


def _cli(home: Path, *args: str) -> None:
    exe = Path(sys.executable).with_name("detector")
    cmd = [str(exe if exe.exists() else "detector"), "--home", str(home), *args]
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


def build_demo(home: Path, demo: Path, accounts: int, days: int, seed: int) -> None:
    """The steps of ``make run`` (Makefile target ``run``), into ``home``."""
    _cli(home, "simulate", "--out", str(demo), "--accounts", str(accounts), "--days", str(days),
         "--seed", str(seed))
    _cli(home, "ingest", str(demo), "--json")
    _cli(home, "run", "--all")
    _cli(home, "report", "--out", str(home / "reports" / "latest.html"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(settings):
    import uvicorn

    from detector.api.app import create_app

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port,
                                           log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not server.started:
        if time.time() > deadline:
            raise RuntimeError(f"the analyst service did not start on port {port} in 30 s")
        time.sleep(0.05)
    return server, thread, f"http://127.0.0.1:{port}"


def _get_json(url: str, key: str) -> dict:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"})
    with urllib.request.urlopen(req, timeout=60) as r:  # noqa: S310 (loopback only)
        return json.load(r)


def shoot(settings, out: Path) -> list[Path]:
    """Write the four screenshots into ``out``; returns their paths."""
    from playwright.sync_api import sync_playwright

    from detector.cases import CaseStore

    report = settings.home / "reports" / "latest.html"
    if not report.exists():
        raise FileNotFoundError(f"{report}: no report; run `detector report --out {report}`")
    store = CaseStore(settings)
    secret, record = store.create_key("analyst", "screenshots")
    server, thread, base = _serve(settings)
    written = []
    try:
        reviews = _get_json(f"{base}/v1/review-queue?decision=review&limit=1", secret)["items"]
        clusters = _get_json(f"{base}/v1/review-queue/clusters?limit=1", secret)["items"]
        if not reviews:
            raise RuntimeError(f"{settings.home}: no open review to show; build a larger demo")
        browser_path = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=browser_path, args=ARGS, headless=True)
            page = browser.new_page(viewport=VIEWPORT)
            page.goto(f"{base}/login?next=/queue")
            page.fill("#key", secret)
            page.click("button[type=submit]")
            page.wait_for_selector("#queue-table")
            page.keyboard.press("j")  # the top review selected, as an analyst starts
            written.append(_save(page, out / "queue.png"))
            page.goto(f"{base}/accounts/{quote(reviews[0]['account_id'], safe='')}")
            page.wait_for_selector("#decision-form")
            written.append(_save(page, out / "account.png", full=True))
            if clusters:
                page.goto(f"{base}/clusters/{quote(clusters[0]['cluster_id'], safe='')}")
                page.wait_for_load_state()
                written.append(_save(page, out / "cluster.png"))
            else:
                print("no cluster with flagged members: cluster.png left as it was")
            page.goto(report.resolve().as_uri())
            page.wait_for_selector("#summary")
            written.append(_save(page, out / "report.png"))
            browser.close()
    finally:
        store.revoke_key(record["key_id"])
        server.should_exit = True
        thread.join(timeout=10)
    return written


def _save(page, path: Path, full: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.png")
    page.screenshot(path=str(tmp), full_page=full)
    os.replace(tmp, path)  # atomic: a README never shows half a file
    print(f"wrote {path} ({path.stat().st_size:,} bytes)")
    return path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--home", type=Path, default=REPO / "detector-home",
                    help="home to show; built like `make run` when it has no verdicts")
    ap.add_argument("--demo-dir", type=Path, default=None,
                    help="where the simulated logs go (default: <home>/demo-logs)")
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "img")
    ap.add_argument("--accounts", type=int, default=1000)
    ap.add_argument("--days", type=int, default=2)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()

    from detector.settings import load_settings
    from detector.verdicts import evaluated_dates

    home = args.home.resolve()
    if not evaluated_dates(load_settings(home)):
        build_demo(home, (args.demo_dir or home / "demo-logs").resolve(), args.accounts,
                   args.days, args.seed)
    shoot(load_settings(home), args.out.resolve())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
