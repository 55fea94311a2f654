"""Prometheus metrics with ``prometheus_client``: request counters and latency histograms per
route template, counters by label, and gauges read from callbacks at scrape time.

Each :class:`Metrics` has its own ``CollectorRegistry`` (never the process-global one), so
several apps in one process (tests) do not share series. ``_created`` series are turned off:
the exposition carries the same names as before the client library.

The middleware is plain ASGI (no per-request task or body buffering) so it adds microseconds.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

disable_created_metrics()  # process-wide: no ``*_created`` series

#: latency histogram bucket upper bounds, seconds
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
#: what ``render`` answers: the text exposition format 0.0.4
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
#: counters incremented by name (``Metrics.inc``): name -> (help, label names)
COUNTERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "dg_verdict_lookups_total": ("Verdict lookups answered, by decision.", ("decision",)),
    "dg_decisions_total": ("Analyst decisions recorded, by decision.", ("decision",)),
}

GaugeFn = Callable[[], list[tuple[dict, float]]]


class _CallbackGauges(Collector):
    """Gauges whose samples ([(labels, value)]) a callback supplies at scrape time."""

    def __init__(self) -> None:
        self.gauges: list[tuple[str, str, GaugeFn]] = []

    def collect(self) -> Iterator[Metric]:
        for name, help_text, fn in self.gauges:
            samples = fn()
            labels = sorted({k for lab, _ in samples for k in lab})
            family = GaugeMetricFamily(name, help_text, labels=labels)
            for lab, value in samples:
                family.add_metric([str(lab.get(k, "")) for k in labels], float(value))
            yield family


class Metrics:
    """Counters by (method, route, status), latency histograms by (method, route), named
    counters (``COUNTERS``) and callback gauges, in one registry per instance."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter("dg_http_requests", "HTTP requests served, by route template.",
                                ("method", "route", "status"), registry=self.registry)
        self.latency = Histogram("dg_http_request_duration_seconds", "Time to serve a request.",
                                 ("method", "route"), buckets=BUCKETS, registry=self.registry)
        self.counters = {name: Counter(name.removesuffix("_total"), help_text, labels,
                                       registry=self.registry)
                         for name, (help_text, labels) in COUNTERS.items()}
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self._gauges = _CallbackGauges()
        self.registry.register(self._gauges)
        self.started = time.time()
        Gauge("dg_process_start_time_seconds", "Start time of the service (unix).",
              registry=self.registry).set(self.started)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        child = self._children.get(key)
        if child is None:  # labels() validates and locks: once per series, not per request
            child = self._children[key] = (self.requests.labels(method, route, str(status)),
                                           self.latency.labels(method, route))
        child[0].inc()
        child[1].observe(seconds)

    def inc(self, name: str, **labels: str) -> None:
        """Increment counter ``name`` (one of ``COUNTERS``) with the given labels."""
        counter = self.counters.get(name)
        if counter is None:
            raise ValueError(f"metric '{name}': expected one of {sorted(self.counters)}, "
                              f"got {name!r} (declare it in detector/api/metrics.py COUNTERS)")
        counter.labels(**labels).inc()

    def gauge(self, name: str, help_text: str, fn: GaugeFn) -> None:
        """Register a gauge whose samples ([(labels, value)]) are read at scrape time."""
        self._gauges.gauges.append((name, help_text, fn))

    def render(self) -> str:
        """The Prometheus text exposition (version 0.0.4, ``CONTENT_TYPE``)."""
        return generate_latest(self.registry).decode("utf-8")


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
