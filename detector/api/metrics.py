"""Prometheus metrics without a client library: request counters and latency histograms per
route template, plus gauges supplied by callbacks, rendered in the text exposition format.

The middleware is plain ASGI (no per-request task or body buffering) so it adds microseconds.
Counters are only touched from the event loop thread.
"""

from __future__ import annotations

import bisect
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

#: latency histogram bucket upper bounds, seconds
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


def _esc(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class Metrics:
    """Counters by (method, route, status) and latency histograms by (method, route)."""

    def __init__(self) -> None:
        self.requests: dict[tuple[str, str, str], int] = defaultdict(int)
        self.hist: dict[tuple[str, str], list[float]] = {}
        self.gauges: list[tuple[str, str, Callable[[], list[tuple[dict, float]]]]] = []
        self.counters: dict[tuple[str, tuple], float] = defaultdict(float)
        self.started = time.time()

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests[(method, route, str(status))] += 1
        h = self.hist.get((method, route))
        if h is None:
            h = self.hist[(method, route)] = [0.0] * (len(BUCKETS) + 3)  # bins, overflow, sum, n
        h[bisect.bisect_left(BUCKETS, seconds)] += 1  # one bucket; cumulated when rendered
        h[len(BUCKETS) + 2] += 1
        h[len(BUCKETS) + 1] += seconds

    def inc(self, name: str, **labels: str) -> None:
        """Increment counter ``name`` with the given labels."""
        self.counters[(name, tuple(sorted(labels.items())))] += 1

    def gauge(self, name: str, help_text: str,
              fn: Callable[[], list[tuple[dict, float]]]) -> None:
        """Register a gauge whose samples ([(labels, value)]) are read at scrape time."""
        self.gauges.append((name, help_text, fn))

    def render(self) -> str:
        """The Prometheus text exposition (version 0.0.4)."""
        out = ["# HELP dg_http_requests_total HTTP requests served, by route template.",
               "# TYPE dg_http_requests_total counter"]
        for (m, r, s), n in sorted(self.requests.items()):
            out.append(f'dg_http_requests_total{{method="{m}",route="{_esc(r)}",status="{s}"}} {n}')
        out += ["# HELP dg_http_request_duration_seconds Time to serve a request.",
                "# TYPE dg_http_request_duration_seconds histogram"]
        for (m, r), h in sorted(self.hist.items()):
            lab = f'method="{m}",route="{_esc(r)}"'
            running = 0
            for i, b in enumerate(BUCKETS):
                running += int(h[i])
                out.append(f'dg_http_request_duration_seconds_bucket{{{lab},le="{b}"}} {running}')
            n = int(h[len(BUCKETS) + 2])
            out.append(f'dg_http_request_duration_seconds_bucket{{{lab},le="+Inf"}} {n}')
            out.append(f"dg_http_request_duration_seconds_sum{{{lab}}} {h[len(BUCKETS) + 1]:.6f}")
            out.append(f"dg_http_request_duration_seconds_count{{{lab}}} {n}")
        names = sorted({n for n, _ in self.counters})
        for name in names:
            out.append(f"# TYPE {name} counter")
            for (n, labels), v in sorted(self.counters.items()):
                if n == name:
                    lab = ",".join(f'{k}="{_esc(str(x))}"' for k, x in labels)
                    out.append(f"{name}{{{lab}}} {v:g}")
        for name, help_text, fn in self.gauges:
            out += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
            for labels, value in fn():
                lab = ",".join(f'{k}="{_esc(str(x))}"' for k, x in labels.items())
                out.append(f"{name}{{{lab}}} {value:g}" if lab else f"{name} {value:g}")
        out.append("# HELP dg_process_start_time_seconds Start time of the service (unix).")
        out.append("# TYPE dg_process_start_time_seconds gauge")
        out.append(f"dg_process_start_time_seconds {self.started:.3f}")
        return "\n".join(out) + "\n"


class MetricsMiddleware:
    """ASGI middleware timing every HTTP request and counting it under its route template."""

    def __init__(self, app: Any, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        status = [500]

        async def send_wrapper(message: dict) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", None) or "unmatched"
            self.metrics.observe(scope.get("method", "GET"), path, status[0],
                                 time.perf_counter() - t0)
