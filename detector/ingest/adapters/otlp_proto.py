"""OTLP protobuf exports, read as their OTLP/JSON equivalent (package ``opentelemetry-proto``).

A file is OTLP protobuf when it holds ``ExportTraceServiceRequest`` or
``ExportLogsServiceRequest`` messages, either one message (an OTLP/HTTP request body saved to a
file) or a sequence of messages each preceded by its size as a 4-byte big-endian integer (the
OpenTelemetry Collector's file exporter with ``format: proto``). Judged from bytes that no text
file has: a text file (its first non-blank byte opens JSON, or it decodes as UTF-8) is never
protobuf, and the messages must parse completely and hold at least one span or log record with
a 16-byte trace id. Each message becomes one JSON record in OTLP/JSON form (camelCase field
names, trace and span ids in hex, 64-bit integers as strings), so the OTel adapter maps both
encodings with the same code.
"""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

import orjson

from detector.ingest.adapters.rows import _RecordSource
from detector.ingest.sources import open_stream, read_head

try:  # optional at import time: without the package, protobuf files are not recognised
    from google.protobuf.json_format import MessageToDict
    from google.protobuf.message import DecodeError
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )
except ImportError:  # pragma: no cover - opentelemetry-proto is a dependency
    ExportTraceServiceRequest = ExportLogsServiceRequest = None  # type: ignore[assignment,misc]

_ID_KEYS = ("traceId", "spanId", "parentSpanId")
#: Largest message read (a collector batch is a few MiB).
MAX_MESSAGE = 256 << 20


def _hex_ids(obj: object) -> object:
    """OTLP/JSON spells ids in hex; protobuf's JSON mapping gives base64."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k in _ID_KEYS and isinstance(v, str):
                with contextlib.suppress(ValueError):
                    obj[k] = base64.b64decode(v).hex()
            else:
                _hex_ids(v)
    elif isinstance(obj, list):
        for v in obj:
            _hex_ids(v)
    return obj


def _parse(data: bytes) -> dict | None:
    """One message as OTLP/JSON (``resourceSpans`` or ``resourceLogs``), or None."""
    if ExportTraceServiceRequest is None:
        return None
    for cls, key in ((ExportTraceServiceRequest, "resource_spans"),
                     (ExportLogsServiceRequest, "resource_logs")):
        msg = cls()
        try:
            msg.ParseFromString(data)
        except (DecodeError, ValueError, RuntimeError):
            continue
        items = getattr(msg, key)
        if not items or not _has_ids(items, key):
            continue
        return _hex_ids(MessageToDict(msg))  # type: ignore[return-value]
    return None


def _has_ids(items: object, key: str) -> bool:
    for r in items:  # type: ignore[attr-defined]
        scopes = r.scope_spans if key == "resource_spans" else r.scope_logs
        for s in scopes:
            for x in (s.spans if key == "resource_spans" else s.log_records):
                return len(x.trace_id) == 16 or (key == "resource_logs" and not x.trace_id)
    return False


def _looks_like_text(head: bytes) -> bool:
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped[:1] in (b"{", b"[") or not stripped:
        return True
    try:
        head[:4096].decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start >= 4090  # cut inside a character at the end: still text
    return True


def _messages(path: Path) -> Iterator[bytes]:
    """The messages of a file: length-prefixed frames, else the whole file as one."""
    with open_stream(path) as fh:
        data = fh.read(MAX_MESSAGE + 1)
    framed, pos = [], 0
    while pos + 4 <= len(data):
        n = int.from_bytes(data[pos:pos + 4], "big")
        if n == 0 or pos + 4 + n > len(data):
            framed = []
            break
        framed.append(data[pos + 4:pos + 4 + n])
        pos += 4 + n
    if framed and pos == len(data) and all(_parse(m) is not None for m in framed[:3]):
        yield from framed
    else:
        yield data


@lru_cache(maxsize=256)
def _is_proto(path: str, mtime_ns: int, size: int) -> bool:
    if size == 0 or ExportTraceServiceRequest is None:
        return False
    head = read_head(Path(path))
    if _looks_like_text(head):
        return False
    first = next(_messages(Path(path)), b"")
    return _parse(first) is not None


def is_otlp_proto(path: Path) -> bool:
    """Whether ``path`` holds OTLP protobuf messages (see the module docstring)."""
    try:
        st = Path(path).stat()
        return _is_proto(str(Path(path).resolve()), st.st_mtime_ns, st.st_size)
    except OSError:
        return False


class ProtoSource(_RecordSource):
    """Each message of an OTLP protobuf file as one OTLP/JSON line (line number = message)."""

    def records(self) -> Iterator[tuple[int, bytes]]:
        for i, msg in enumerate(_messages(self.path), start=1):
            doc = _parse(msg) if i > self.offset else None
            yield i, orjson.dumps(doc) if doc is not None else msg


__all__ = ["ProtoSource", "is_otlp_proto"]
