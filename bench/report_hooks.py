"""Time the daily report and webhook delivery on synthetic data (run by hand, not in CI).

    .venv/bin/python bench/report_hooks.py [--accounts 50000] [--days 14] [--events 1000]

Writes bench/results/report_hooks.json: seconds to collect + render the report over
``days`` x ``accounts`` verdict rows (plus ``accounts`` x 4 requests on the last day), seconds
to record the events of the last day, and delivery throughput to a local receiver.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import json
import platform
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _meta import stamp, write_atomic  # noqa: E402

from detector.hooks import DeliveryPolicy, deliver, record_verdict_events  # noqa: E402
from detector.lake.io import write_parquet_atomic  # noqa: E402
from detector.lake.schema import REQUEST_SCHEMA  # noqa: E402
from detector.report import collect_report_data  # noqa: E402
from detector.report.render import write_report_files  # noqa: E402
from detector.settings import HookEndpoint, load_settings  # noqa: E402
from detector.verdicts import verdict_path  # noqa: E402

SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()


def _verdicts(settings, day: dt.date, n: int, rng: np.random.Generator,
              beta: tuple[float, float] = (1, 12)) -> None:
    score = rng.beta(*beta, n)
    decision = np.where(score > 0.6, "block", np.where(score > 0.35, "review", "allow"))
    accounts = [f"acct_{i:07d}" for i in range(n)]
    table = pa.table({
        "account_id": accounts, "date": pa.array([day] * n, pa.date32()), "score": score,
        "decision": decision, "reasons": np.where(decision == "allow", "", "hv_logprobs;vol_burst"),
        "cluster_id": [f"c{i % 300}" if s > 0.5 else None for i, s in enumerate(score)],
        "rule_hits": [["hv_logprobs"] if d != "allow" else [] for d in decision],
        "shadow_hits": [["exp_x"] if s > 0.3 else [] for s in score],
        "model_version": ["m1"] * n, "run_id": [f"run-{day}"] * n})
    write_parquet_atomic(verdict_path(settings, day.isoformat()), table)  # a partial row


def _requests(settings, day: dt.date, n_accounts: int, per: int, rng) -> None:
    n = n_accounts * per
    data = {name: pa.nulls(n, REQUEST_SCHEMA.field(name).type) for name in REQUEST_SCHEMA.names}
    data["request_id"] = pa.array([f"r{i}" for i in range(n)])
    data["account_id"] = pa.array([f"acct_{i % n_accounts:07d}" for i in range(n)])
    base = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    data["ts"] = pa.array([base + dt.timedelta(seconds=int(s)) for s in rng.integers(0, 86399, n)],
                          pa.timestamp("us", tz="UTC"))
    data["completion_tokens"] = pa.array(rng.integers(10, 2000, n), pa.int64())
    table = pa.table(data, schema=REQUEST_SCHEMA)
    write_parquet_atomic(settings.requests_dir / f"date={day}" / "part-0.parquet", table)


class _Sink(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(204)
        self.send_header("content-length", "0")
        self.end_headers()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--accounts", type=int, default=50_000)
    ap.add_argument("--days", type=int, default=14)
    ap.add_argument("--events", type=int, default=1000)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    out: dict = {"accounts": args.accounts, "days": args.days, "python": platform.python_version()}
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(Path(tmp) / "home")
        last = dt.date(2024, 3, 1) + dt.timedelta(days=args.days - 1)
        for i in range(args.days):
            _verdicts(settings, last - dt.timedelta(days=i), args.accounts, rng)
        _requests(settings, last, args.accounts, 4, rng)
        from detector.report.extras import cluster_details, rule_catalogue

        rule_catalogue([]), cluster_details(settings, last, [])  # import the optional stages
        t0 = time.perf_counter()
        data = collect_report_data(settings)
        out["report_collect_s"] = round(time.perf_counter() - t0, 2)
        t0 = time.perf_counter()
        files = write_report_files(data, Path(tmp) / "r.html", settings)
        out["report_render_write_s"] = round(time.perf_counter() - t0, 2)
        out["report_html_kib"] = round(files.html.stat().st_size / 1024, 1)

        server = ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        hooked = load_settings(settings.home, hooks=(HookEndpoint("sink", url, SECRET),))
        small = load_settings(Path(tmp) / "events", hooks=hooked.hooks)
        _verdicts(small, last, args.events * 2, np.random.default_rng(1), beta=(2, 2))
        t0 = time.perf_counter()
        out["events_recorded"] = record_verdict_events(small, [last])
        out["record_events_s"] = round(time.perf_counter() - t0, 2)
        t0 = time.perf_counter()
        report = deliver(small, DeliveryPolicy(pass_budget_s=600))
        secs = time.perf_counter() - t0
        out["delivered"] = report.delivered
        out["deliver_s"] = round(secs, 2)
        out["deliveries_per_s"] = round(report.delivered / secs, 1)
        server.shutdown()
    target = Path(__file__).resolve().parent / "results" / "report_hooks.json"
    out = {"provenance": stamp("bench/report_hooks.py"), **out}
    write_atomic(target, json.dumps(out, indent=2) + "\n")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
