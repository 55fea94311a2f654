"""OpenTelemetry GenAI context: OTLP values and attributes, which spans are model calls, and
what a model call borrows from elsewhere in the command (its ancestors' identity and
conversation attributes, GenAI log records); see :mod:`detector.ingest.adapters.otel`."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

MODEL_OPS = frozenset({"chat", "text_completion", "generate_content", "embeddings"})
CONTEXT_OPS = frozenset({"invoke_agent", "create_agent", "execute_tool"})
_CONTEXT_KEYS = ("gen_ai.conversation.id", "user.id", "enduser.id", "gen_ai.agent.name",
                 "gen_ai.agent.id")


def any_value(v: object) -> object:
    """Decode an OTLP ``AnyValue`` ({"stringValue": ...}, {"arrayValue": {...}}, ...)."""
    if not isinstance(v, dict):
        return v
    for key in ("stringValue", "boolValue", "doubleValue"):
        if key in v:
            return v[key]
    if "intValue" in v:
        try:
            return int(v["intValue"])
        except (TypeError, ValueError):
            return v["intValue"]
    if "arrayValue" in v:
        return [any_value(x) for x in (v["arrayValue"] or {}).get("values", [])]
    if "kvlistValue" in v:
        return attrs((v["kvlistValue"] or {}).get("values", []))
    if "bytesValue" in v:
        return v["bytesValue"]
    return None


def attrs(items: object) -> dict:
    """OTLP attribute list -> dict."""
    out: dict = {}
    if isinstance(items, list):
        for kv in items:
            if isinstance(kv, dict) and isinstance(kv.get("key"), str):
                out[kv["key"]] = any_value(kv.get("value"))
    return out


def _nanos_to_ms(v: object) -> float | None:
    try:
        return int(v) / 1e6  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def is_model_call(a: dict) -> bool:
    """A model-call span (a request), judged from its attributes."""
    op = a.get("gen_ai.operation.name")
    if op is not None:
        return op in MODEL_OPS
    return any(k in a for k in ("gen_ai.request.model", "gen_ai.usage.input_tokens",
                                "gen_ai.usage.output_tokens", "gen_ai.usage.prompt_tokens",
                                "gen_ai.usage.completion_tokens"))


# --- context: ancestors and log records ------------------------------------------------------

@dataclass
class Context:
    """What model calls may borrow from elsewhere in the file or command: the identity and
    conversation attributes and parent of every non-model span, and GenAI log records."""

    account_key: str | None = None
    spans: dict[tuple[str, str], tuple[str | None, dict]] = field(default_factory=dict)
    events: dict[tuple[str, str], list[tuple[str, object]]] = field(default_factory=dict)
    calls: set[tuple[str, str]] = field(default_factory=set)  # model-call spans (trace, span)

    def keys(self) -> tuple[str, ...]:
        return _CONTEXT_KEYS + ((self.account_key,) if self.account_key else ())

    def add_export(self, value: object) -> None:
        if not isinstance(value, dict):
            return
        keys = self.keys()
        for span, resource in _spans(value):
            a = attrs(span.get("attributes"))
            if is_model_call(a):
                self.calls.add((str(span.get("traceId")), str(span.get("spanId"))))
                continue
            if not isinstance(span.get("spanId"), str):
                continue
            kept = {k: a[k] for k in keys if k in a}
            for k in keys:
                if k not in kept and k in resource:
                    kept.setdefault("resource:" + k, resource[k])
            parent = span.get("parentSpanId") or None
            self.spans[(str(span.get("traceId")), span["spanId"])] = (parent, kept)
        for rec in _log_records(value):
            key = (str(rec.get("traceId")), str(rec.get("spanId")))
            name = rec.get("eventName") or attrs(rec.get("attributes")).get("event.name")
            if isinstance(name, str) and name.startswith("gen_ai.") and rec.get("spanId"):
                self.events.setdefault(key, []).append((name, any_value(rec.get("body"))))

    def ancestors(self, trace: str, parent: object) -> Iterator[dict]:
        seen = 0
        while isinstance(parent, str) and parent and seen < 64:
            hit = self.spans.get((trace, parent))
            if hit is None:
                return
            parent, kept = hit
            seen += 1
            yield kept


def _spans(value: dict) -> Iterator[tuple[dict, dict]]:
    rss = value.get("resourceSpans")
    for rs in rss if isinstance(rss, list) else []:
        if not isinstance(rs, dict):
            continue
        resource = attrs((rs.get("resource") or {}).get("attributes"))
        for ss in rs.get("scopeSpans") or rs.get("instrumentationLibrarySpans") or []:
            for span in (ss.get("spans") or []) if isinstance(ss, dict) else []:
                if isinstance(span, dict):
                    yield span, resource


def _log_records(value: dict) -> Iterator[dict]:
    rls = value.get("resourceLogs")
    for rl in rls if isinstance(rls, list) else []:
        for sl in (rl.get("scopeLogs") or []) if isinstance(rl, dict) else []:
            for rec in (sl.get("logRecords") or []) if isinstance(sl, dict) else []:
                if isinstance(rec, dict):
                    yield rec


def _unmatched(rec: dict, ctx: Context) -> str | None:
    """Why a GenAI log record joins no model call (it is then quarantined), or None."""
    name = rec.get("eventName") or attrs(rec.get("attributes")).get("event.name")
    if not (isinstance(name, str) and name.startswith("gen_ai.")):
        return None  # not GenAI content: no request to join
    key = (str(rec.get("traceId")), str(rec.get("spanId")))
    if rec.get("spanId") and key in ctx.calls:
        return None
    return (f"unmatched_log_record: {name[:60]} (trace {key[0][:40]}, span {key[1][:20]}) "
            f"matches no model-call span in this file or the command's other OTel files; "
            f"give the spans file on the same command")
