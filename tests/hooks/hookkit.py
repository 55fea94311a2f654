"""Helpers for the hooks tests: hand-made verdict days and a real HTTP receiver on 127.0.0.1.

The receiver is idempotent by ``webhook-id`` (as the Standard Webhooks spec asks receivers to
be) and verifies every signature. Its ``mode`` says how it behaves: ``ok``; ``slow`` (processes
the event, then answers after ``slow_s``, longer than the sender's timeout); ``500`` (fails
before processing). Stopping it makes the port refuse connections ("down").
"""

from __future__ import annotations

import base64
import datetime as dt
import socket
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pyarrow as pa
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from detector.lake.io import write_parquet_atomic
from detector.settings import Settings

SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()

VERDICT_SCHEMA = pa.schema([
    ("account_id", pa.string()), ("date", pa.date32()), ("score", pa.float64()),
    ("decision", pa.string()), ("reasons", pa.string()), ("cluster_id", pa.string()),
    ("rule_hits", pa.list_(pa.string())), ("shadow_hits", pa.list_(pa.string())),
    ("model_version", pa.string()), ("ruleset_hash", pa.string()), ("run_id", pa.string()),
])


def write_verdicts(settings: Settings, day: str, rows: list[tuple]) -> None:
    """rows: (account_id, score, decision, reasons, cluster_id)."""
    d = dt.date.fromisoformat(day)
    table = pa.table({
        "account_id": [r[0] for r in rows], "date": [d] * len(rows),
        "score": [r[1] for r in rows], "decision": [r[2] for r in rows],
        "reasons": [r[3] for r in rows], "cluster_id": [r[4] for r in rows],
        "rule_hits": [[] for _ in rows], "shadow_hits": [[] for _ in rows],
        "model_version": ["m1"] * len(rows), "ruleset_hash": ["rs1"] * len(rows),
        "run_id": [f"run-{day}"] * len(rows)}, schema=VERDICT_SCHEMA)
    write_parquet_atomic(settings.verdicts_dir / f"date={day}" / "verdicts.parquet", table)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Receiver:
    """An idempotent webhook receiver that can be down, slow, failing or healthy."""

    def __init__(self, port: int, secret: str = SECRET, slow_s: float = 0.6) -> None:
        self.port, self.slow_s, self.mode = port, slow_s, "ok"
        self.webhook = Webhook(secret)
        self.processed: Counter[str] = Counter()  # webhook-id -> times processed (must be 1)
        self.seen: Counter[str] = Counter()       # webhook-id -> requests received
        self.bodies: dict[str, tuple[bytes, dict[str, str]]] = {}
        self.bad_signatures = 0
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def _handler(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                headers = {k.lower(): v for k, v in self.headers.items()}
                receiver.handle(self, body, headers)

        return Handler

    def handle(self, req, body: bytes, headers: dict[str, str]) -> None:
        msg_id = headers.get("webhook-id", "")
        with self.lock:
            self.seen[msg_id] += 1
        if self.mode == "500":
            return self._answer(req, 500)
        try:
            self.webhook.verify(body, headers)
        except WebhookVerificationError:
            with self.lock:
                self.bad_signatures += 1
            return self._answer(req, 401)
        with self.lock:
            if msg_id not in self.processed:  # idempotent: process each id once
                self.processed[msg_id] += 1
                self.bodies[msg_id] = (body, headers)
        if self.mode == "slow":
            time.sleep(self.slow_s)
        self._answer(req, 204)

    @staticmethod
    def _answer(req, code: int) -> None:
        try:
            req.send_response(code)
            req.send_header("content-length", "0")
            req.end_headers()
        except OSError:
            pass  # the sender gave up (timeout) before we answered

    def start(self) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


def write_config(home, hooks: list[dict]) -> None:
    """``detector.toml`` with ``[[hooks]]`` tables."""
    home.mkdir(parents=True, exist_ok=True)
    lines = []
    for h in hooks:
        lines.append("[[hooks]]")
        for k, v in h.items():
            if isinstance(v, bool):
                lines.append(f"{k} = {'true' if v else 'false'}")
            elif isinstance(v, list | tuple):
                lines.append(f"{k} = [{', '.join(repr(x).replace(chr(39), chr(34)) for x in v)}]")
            else:
                lines.append(f'{k} = "{v}"')
    (home / "detector.toml").write_text("\n".join(lines) + "\n")


class FakeClock:
    """A ``clock`` for ``deliver``: starts at the real time, moves only when told to."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
