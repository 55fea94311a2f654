"""Langfuse observations as its public API returns them, joined to their traces' users.

Observations file: the body of ``GET /api/public/observations`` (``{"data": [...], "meta":
{"page", "limit", "totalItems", "totalPages"}}``, one file per page), or its ``data`` elements as
a JSON array or JSON Lines. Only ``type: "GENERATION"`` observations are model calls and become
requests; ``SPAN`` and ``EVENT`` observations are context, not requests, and are not counted.

An observation carries no user: its trace does. Give the traces on the same command (bodies of
``GET /api/public/traces``, ``{"data": [{"id", "userId", "sessionId", ...}], "meta": ...}``;
such a file contributes no requests itself), and the billing account is the trace's:

| --account-key | account_id |
|---|---|
| ``user`` (default) | the trace's ``userId`` |
| ``session`` | the trace's ``sessionId`` |

or ``--account-id ID`` for every observation of the command (a Langfuse project that is one
customer), in which case the trace's ``userId`` is kept as the end user. An observation whose
trace has no such value (or is not in the traces given) is quarantined with a reason naming
these options.

**Across commands** (the held store, ``state/ingest/held/langfuse/``): the traces of every
ingested file are kept, so observations delivered in a later command join them; an observation
whose trace is unknown is quarantined and kept too, and is read again (as a record of the
traces file) when a later command brings its trace.

| native | Langfuse observation |
|---|---|
| request_id | ``id`` |
| timestamp | ``startTime`` |
| account_id | see above |
| model | ``model`` |
| request | ``input`` (a message list -> ``messages``; a string -> ``prompt``; an object as is) plus ``modelParameters`` (``temperature``, ``max_tokens``...); ``user`` = the trace's ``userId`` when it is not the account |
| response | ``output`` (a string, or an assistant message's ``content``, or ``choices``) as ``output_text``; ``level: ERROR`` -> ``status`` 500 and ``statusMessage`` as ``error`` |
| usage | ``usageDetails.input`` / ``output`` (else ``usage.input`` / ``output``) |
| latency_ms | ``endTime - startTime`` |
| metadata | ``traceId``, ``sessionId``, ``name``, ``level``, ``statusMessage``, ``parentObservationId``, ``metadata``, ``costDetails``, ``completionStartTime``, ``environment``, ``version``, ``promptId``... |

Langfuse carries no client IP, user agent, payment fingerprint or account creation time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import datetime
from functools import lru_cache
from pathlib import Path

import orjson

from detector.ingest.adapters.common import drop_none
from detector.ingest.adapters.rows import source_for
from detector.ingest.formats import Format, register
from detector.ingest.jsonio import decode_object
from detector.ingest.sources import open_stream
from detector.lake.io import write_bytes_atomic

ACCOUNT_KEYS = ("user", "session")
_MAPPED = {"id", "startTime", "endTime", "model", "input", "output", "usage", "usageDetails",
           "modelParameters", "type"}
_MAX_TRACES_BYTES = 1 << 30


def _is_observation(rec: dict) -> bool:
    return "traceId" in rec and "startTime" in rec and isinstance(rec.get("type"), str)


def _is_trace(rec: dict) -> bool:
    return ("timestamp" in rec and "id" in rec and "traceId" not in rec
            and ("userId" in rec or "sessionId" in rec or "observations" in rec))


def _page(rec: dict) -> list | None:
    data = rec.get("data")
    return data if isinstance(data, list) and isinstance(rec.get("meta"), dict) else None


@lru_cache(maxsize=32)
def _traces_of(path: str) -> dict[str, tuple[str | None, str | None]]:
    """trace id -> (userId, sessionId) of one traces response file ({} when it is none)."""
    try:
        with open_stream(Path(path)) as fh:
            raw = fh.read(_MAX_TRACES_BYTES)
        doc = orjson.loads(raw)
    except (OSError, orjson.JSONDecodeError, ValueError):
        return {}
    items = _page(doc) if isinstance(doc, dict) else doc if isinstance(doc, list) else None
    out: dict[str, tuple[str | None, str | None]] = {}
    for t in items or []:
        if isinstance(t, dict) and _is_trace(t) and isinstance(t.get("id"), str):
            user, session = t.get("userId"), t.get("sessionId")
            out[t["id"]] = (user if isinstance(user, str) and user else None,
                            session if isinstance(session, str) and session else None)
    return out


def _output_text(output: object) -> str | None:
    if isinstance(output, str):
        return output
    if isinstance(output, dict):
        if isinstance(output.get("content"), str):
            return output["content"]
        choices = output.get("choices")
        if isinstance(choices, list) and choices and isinstance(choices[0], dict):
            msg = choices[0].get("message")
            if isinstance(msg, dict) and isinstance(msg.get("content"), str):
                return msg["content"]
    if isinstance(output, list) and output and isinstance(output[-1], dict):
        content = output[-1].get("content")
        return content if isinstance(content, str) else None
    return None


def _ms(start: object, end: object) -> float | None:
    try:
        a = datetime.fromisoformat(str(start).replace("Z", "+00:00"))
        b = datetime.fromisoformat(str(end).replace("Z", "+00:00"))
        return (b - a).total_seconds() * 1000.0
    except (TypeError, ValueError):
        return None


def _tokens(obs: dict, *keys: str) -> object:
    for holder in ("usageDetails", "usage"):
        usage = obs.get(holder)
        if isinstance(usage, dict):
            for k in keys:
                if usage.get(k) is not None:
                    return usage[k]
    return None


def map_observation(obs: dict, traces: dict, account_key: str = "user",
                    account_id: str | None = None) -> dict | str:
    """One GENERATION observation -> one native record (or the reason it is bad)."""
    user, session = traces.get(obs.get("traceId"), (None, None))
    account = account_id or (user if account_key == "user" else session)
    if not account:
        what = "userId" if account_key == "user" else "sessionId"
        return (f"missing_field: account_id (langfuse --account-key {account_key}: trace "
                f"{str(obs.get('traceId'))[:80]} has no {what} in the traces given on the "
                f"command; add the traces file (GET /api/public/traces), or use --account-key "
                f"{'session' if account_key == 'user' else 'user'} or --account-id)")
    inp = obs.get("input")
    if isinstance(inp, list):
        req: dict = {"messages": inp}
    elif isinstance(inp, str):
        req = {"prompt": inp}
    elif isinstance(inp, dict):
        req = dict(inp)
    else:
        req = {}
    params = obs.get("modelParameters")
    if isinstance(params, dict):
        for k, v in params.items():
            req.setdefault(k, v)
    if user and account != user and not req.get("user"):
        req["user"] = user
    failed = obs.get("level") == "ERROR"
    response = drop_none({"output_text": _output_text(obs.get("output")),
                          "status": 500 if failed else None,
                          "error": obs.get("statusMessage") if failed else None,
                          "body": obs.get("output") if _output_text(obs.get("output")) is None
                          else None})
    meta = {k: v for k, v in obs.items() if k not in _MAPPED and v is not None}
    if session:
        meta["sessionId"] = session
    if user:
        meta["userId"] = user
    usage = drop_none({"prompt_tokens": _tokens(obs, "input", "promptTokens"),
                       "completion_tokens": _tokens(obs, "output", "completionTokens")})
    return drop_none({
        "request_id": obs.get("id"), "timestamp": obs.get("startTime"), "account_id": account,
        "model": obs.get("model"), "request": req, "response": response or None,
        "usage": usage or None, "latency_ms": _ms(obs.get("startTime"), obs.get("endTime"))
        if obs.get("endTime") else None,
        "metadata": meta or None,
    })


def _reader(traces: dict, account_key: str, account_id: str | None,
            waiting: dict | None = None):
    waiting = waiting or {}

    def read(raw: bytes, flags: list[str]) -> list[tuple[bytes, object]]:
        value, reason = decode_object(raw, flags)
        if value is None:
            return [(raw, reason)]
        page = _page(value)
        items = page if page is not None else [value]
        out: list[tuple[bytes, object]] = []
        for obs in items:
            if not isinstance(obs, dict):
                out.append((orjson.dumps(obs), "not_an_object: observation"))
            elif _is_trace(obs):  # context; brings the observations held for it
                for held in waiting.get(obs.get("id"), ()):
                    out.append((orjson.dumps(held),
                                map_observation(held, traces, account_key, account_id)))
            elif obs.get("type") not in ("GENERATION", None):
                continue  # a SPAN / EVENT: not a model call
            else:
                one = raw if page is None else orjson.dumps(obs)
                out.append((one, map_observation(obs, traces, account_key, account_id)))
        return out
    return read


def records_for(path: Path, account_key: str | None = None, account_id: str | None = None,
                related: tuple = (), held: str | None = None):
    """Reader joining observations to the traces found in the command's other files (and in
    this file, when it holds traces too)."""
    traces: dict = dict(_held(held, "traces"))
    for p in (*related, str(path)):
        traces.update(_traces_of(str(p)))
    waiting = {t: obs for t, obs in _held(held, "observations").items()
               if t in _traces_of(str(path))}
    return _reader(traces, account_key or "user", account_id, waiting)


def _held(held: str | None, kind: str) -> dict:
    """The held traces (id -> (user, session)) or observations (trace id -> [observation])."""
    root = Path(held) / "langfuse" if held else None
    if root is None or not root.is_dir():
        return {}
    files = sorted(root.glob(f"{kind}-*.json"))
    # size too: an erasure rewrites a held file keeping its mtime (detector.ingest.held)
    return _held_read(tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in files),
                      kind)


@lru_cache(maxsize=8)
def _held_read(files: tuple, kind: str) -> dict:
    out: dict = {}
    for name, *_ in files:
        for k, v in orjson.loads(Path(name).read_bytes()).items():
            if kind == "traces":
                out[k] = tuple(v)
            else:
                out.setdefault(k, []).extend(v)
    return out


def hold_file(path: Path, account_key: str | None = None, account_id: str | None = None,
              related: tuple = (), held: str | None = None) -> None:
    """``Format.holds``: keep this file's traces, and its observations whose trace is known
    nowhere yet, for later commands (see the module docstring)."""
    if not held:
        return
    traces = _traces_of(str(path))
    if traces:
        _hold(held, "traces", {k: list(v) for k, v in traces.items()})
    if account_id is not None:
        return  # every observation had its account
    known = set(_held(held, "traces"))
    for p in (*related, str(path)):
        known.update(_traces_of(str(p)))
    waiting: dict[str, list] = {}
    for obs in _observations(path):
        if obs.get("type") in ("GENERATION", None) and obs.get("traceId") not in known:
            waiting.setdefault(str(obs.get("traceId")), []).append(obs)
    if waiting:
        _hold(held, "observations", waiting)


def _observations(path: Path) -> Iterator[dict]:
    with open_stream(path) as fh:
        data = fh.read(_MAX_TRACES_BYTES)
    try:
        docs = [orjson.loads(data)]
    except orjson.JSONDecodeError:
        docs = []
        for line in data.splitlines():
            try:
                docs.append(orjson.loads(line))
            except orjson.JSONDecodeError:
                continue
    for doc in docs:
        items = _page(doc) if isinstance(doc, dict) else doc if isinstance(doc, list) else None
        for obs in items if items is not None else [doc]:
            if isinstance(obs, dict) and _is_observation(obs):
                yield obs


def _hold(held: str, kind: str, doc: dict) -> None:
    data = orjson.dumps(doc)  # key order kept: a held observation is read as delivered
    target = Path(held) / "langfuse" / f"{kind}-{hashlib.blake2b(data, digest_size=16).hexdigest()}.json"
    if not target.exists():
        write_bytes_atomic(target, data)


def claims(rec: dict) -> bool:
    """A page of Langfuse's public API (exactly a ``data`` list and a ``meta`` object: the
    observations or traces response) or one observation (``traceId``, ``startTime``, a string
    ``type`` and ``usage``/``usageDetails``/``modelParameters``). Top-level keys and value
    types only, never text inside values."""
    if set(rec) == {"data", "meta"}:
        return isinstance(rec["data"], list) and isinstance(rec["meta"], dict)
    return _is_observation(rec) and any(k in rec for k in ("usage", "usageDetails",
                                                           "modelParameters"))


register(Format("langfuse", _reader({}, "user", None), source_for, claims, priority=14,
                records_for=records_for, account_keys=ACCOUNT_KEYS, wants_related=True,
                holds=hold_file))
