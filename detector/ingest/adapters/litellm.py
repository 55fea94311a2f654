"""LiteLLM proxy spend logs (``LiteLLM_SpendLogs`` table) exported as JSON, JSON Lines or CSV.

Mapping onto the native record (columns as in LiteLLM's ``schema.prisma``):

| native | LiteLLM |
|---|---|
| request_id | request_id |
| timestamp | startTime |
| account_id | user, else team_id, else api_key (the proxy's billing units, in that order) |
| org_id | team_id |
| api_key_id | api_key (LiteLLM stores the hashed virtual key) |
| model | model |
| client_ip | requester_ip_address |
| request | proxy_server_request (the original body) when logged, else {"messages": messages} |
| response | response (output text when logged), no HTTP status (LiteLLM logs none) |
| usage | prompt_tokens, completion_tokens |
| latency_ms | endTime - startTime |
| metadata | metadata plus call_type, spend, status, end_user, session_id, model_group, ... |

Nothing else is invented: a missing value stays null.
"""

from __future__ import annotations

from datetime import datetime

from detector.ingest.adapters.common import blank_to_none, drop_none, maybe_json, object_reader
from detector.ingest.adapters.rows import source_for
from detector.ingest.formats import Format, register

_MAPPED = {"request_id", "startTime", "endTime", "user", "team_id", "api_key", "model",
           "requester_ip_address", "proxy_server_request", "messages", "response",
           "prompt_tokens", "completion_tokens", "metadata"}


def _to_dt(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt


def _int(value: object) -> object:
    value = blank_to_none(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return value


def _latency(start: object, end: object) -> float | None:
    a, b = _to_dt(start), _to_dt(end)
    if a is None or b is None or (a.tzinfo is None) != (b.tzinfo is None):
        return None
    return (b - a).total_seconds() * 1000.0


def map_record(row: dict) -> dict:
    """One LiteLLM spend-log row -> one native record."""
    row = {k: blank_to_none(v) for k, v in row.items()}
    body = maybe_json(row.get("proxy_server_request"))
    messages = maybe_json(row.get("messages"))
    if not isinstance(body, dict) or not body:
        body = {"messages": messages} if isinstance(messages, list) else (
            {"prompt": messages} if isinstance(messages, str) else {})
    response = maybe_json(row.get("response"))
    if isinstance(response, dict) and "choices" not in response and "output_text" not in response:
        response = {"body": response}
    elif isinstance(response, str):
        response = {"output_text": response}
    meta = maybe_json(row.get("metadata"))
    extra = {k: maybe_json(v) for k, v in row.items() if k not in _MAPPED and v is not None}
    metadata = dict(meta) if isinstance(meta, dict) else ({"metadata": meta} if meta else {})
    metadata.update({"litellm": extra} if extra else {})
    account = row.get("user") or row.get("team_id") or row.get("api_key")
    usage = drop_none({"prompt_tokens": _int(row.get("prompt_tokens")),
                       "completion_tokens": _int(row.get("completion_tokens"))})
    return drop_none({
        "request_id": row.get("request_id"), "timestamp": row.get("startTime"),
        "account_id": account, "org_id": row.get("team_id"), "api_key_id": row.get("api_key"),
        "model": row.get("model"), "client_ip": row.get("requester_ip_address"),
        "request": body, "response": response if isinstance(response, dict) else None,
        "usage": usage or None, "latency_ms": _latency(row.get("startTime"), row.get("endTime")),
        "metadata": metadata or None,
    })


#: Top-level keys of a LiteLLM row that no other format has at the top level.
_LITELLM_KEYS = {"spend", "api_key", "call_type", "response_cost", "model_group", "cache_hit",
                 "requester_ip_address", "completionStartTime"}


def claims(row: dict) -> bool:
    """A SpendLogs row: ``startTime`` and ``request_id`` beside a LiteLLM-only column."""
    return "startTime" in row and "request_id" in row and not _LITELLM_KEYS.isdisjoint(row)


register(Format("litellm", object_reader(map_record), source_for, claims, priority=10))
