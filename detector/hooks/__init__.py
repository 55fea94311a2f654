"""Blocking hooks: a durable outbox in the case database, Standard Webhooks delivery with
retries and dead letters, and a signed verdict export for gateways that poll.

Public API (imported lazily, so ``import detector.hooks`` stays light)::

    ensure_schema(conn)                                   # outbox tables (no commit)
    enqueue(conn, event_type, payload, idempotency_key) -> event_id   # in the caller's tx
    record_verdict_events(settings, dates) -> int         # events implied by batch verdicts
    deliver(settings, policy=None) -> DeliveryReport       # one bounded delivery pass
    deliver_until_idle(settings, max_wait_s, policy=None) -> DeliveryReport
    export_verdicts(settings, date=None, out_dir=None) -> ExportFiles
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "EVENT_TYPES": "outbox", "enqueue": "outbox", "ensure_schema": "outbox", "open_db": "outbox",
    "DeliveryPolicy": "delivery", "DeliveryReport": "delivery", "deliver": "delivery",
    "deliver_until_idle": "delivery", "record_verdict_events": "events",
    "ExportFiles": "export", "export_verdicts": "export", "verify_export": "export",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"detector.hooks.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'detector.hooks' has no attribute {name!r}")
