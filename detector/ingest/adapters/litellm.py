"""LiteLLM proxy logs: ``LiteLLM_SpendLogs`` rows and the ``StandardLoggingPayload``.

Two record shapes, told apart per record by their keys:

* **SpendLogs rows** (the proxy's ``LiteLLM_SpendLogs`` table exported as JSON, JSON Lines, CSV
  or Parquet; columns as in LiteLLM's ``schema.prisma``): ``request_id``, ``startTime`` /
  ``endTime`` as date-time strings, ``user``, ``team_id``, ``api_key`` (hashed), ``end_user``,
  ``model`` (the deployment the router chose), ``model_group`` (what the client asked for),
  ``metadata`` (JSON; ``user_agent``, ``headers``, ``error_information`` on failures)...
* **StandardLoggingPayload** (what LiteLLM's logging callbacks and its S3 / GCS bucket loggers
  write, one JSON object per call): ``id``, ``startTime`` / ``endTime`` as **epoch seconds**
  (floats), ``model_group``, ``messages``, ``response``, ``model_parameters``, ``end_user``,
  ``requester_ip_address``, ``prompt_tokens``, ``completion_tokens``, ``status``
  (``success`` / ``failure``), ``error_str``, ``error_information``, and ``metadata`` with
  ``user_api_key_hash``, ``user_api_key_user_id``, ``user_api_key_team_id``,
  ``user_api_key_org_id``...

The billing account is ONE unit for the whole command, ``--account-key`` (or ``account_key``
in ``detector.toml``), never chosen per row:

| --account-key | SpendLogs column | StandardLoggingPayload field |
|---|---|---|
| ``user`` (default) | ``user`` | ``metadata.user_api_key_user_id`` |
| ``team`` | ``team_id`` | ``metadata.user_api_key_team_id`` |
| ``key`` | ``api_key`` | ``metadata.user_api_key_hash`` |
| ``end_user`` | ``end_user`` | ``end_user`` |

A row lacking the chosen unit is quarantined (``missing_field: account_id (--account-key
user: ...)``); a file where most rows lack it is unreadable input (exit 2) naming the option.
``--account-id ID`` gives one account to every row instead.

| native | LiteLLM |
|---|---|
| request_id | ``request_id`` (SpendLogs), ``id`` (payload) |
| timestamp | ``startTime`` (date-time string; payload: epoch seconds -> ms) |
| account_id | the ``--account-key`` unit above (or ``--account-id``) |
| org_id | ``organization_id`` / ``metadata.user_api_key_org_id``, else the team |
| api_key_id | ``api_key`` / ``metadata.user_api_key_hash`` |
| model | ``model_group`` (the model the client requested), else ``model``; the routed deployment model stays in ``metadata.litellm.model`` |
| client_ip | ``requester_ip_address`` (top level or in metadata) |
| user_agent | ``metadata.user_agent``, else the ``User-Agent`` of ``metadata.headers`` or of ``proxy_server_request.headers`` |
| request | ``proxy_server_request`` (its ``body`` when it holds url/headers/body) when logged, else ``{"messages": messages}``; payload: plus ``model_parameters``; ``request.user`` = ``end_user`` when the body names none (the end user) |
| response | ``response``; ``status: failure`` -> ``{"status": <error code, else 500>, "error": error_str}`` (a failed request, never a normal one) |
| usage | ``prompt_tokens``, ``completion_tokens`` |
| latency_ms | ``endTime - startTime`` |
| metadata | ``metadata`` plus every other column under ``litellm`` (``model``, ``model_group``, ``spend``, ``status``, ``call_type``, ...) |

Nothing else is invented: a missing value stays null.
"""

from __future__ import annotations

from datetime import datetime

from detector.ingest.adapters.common import blank_to_none, drop_none, maybe_json, object_reader
from detector.ingest.adapters.rows import source_for
from detector.ingest.formats import Format, register

#: ``--account-key`` values, the default first.
ACCOUNT_KEYS = ("user", "team", "key", "end_user")
DEFAULT_ACCOUNT_KEY = "user"
_SPEND_UNIT = {"user": "user", "team": "team_id", "key": "api_key", "end_user": "end_user"}
_PAYLOAD_UNIT = {"user": "user_api_key_user_id", "team": "user_api_key_team_id",
                 "key": "user_api_key_hash", "end_user": "end_user"}

_MAPPED = {"request_id", "id", "startTime", "endTime", "user", "team_id", "api_key",
           "requester_ip_address", "proxy_server_request", "messages", "response",
           "prompt_tokens", "completion_tokens", "metadata", "end_user", "model_parameters",
           "organization_id"}


def _to_dt(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _num(value: object) -> float | None:
    """A number, or a numeric string (CSV), as float; else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _int(value: object) -> object:
    value = blank_to_none(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return value


def _latency(start: object, end: object, epoch_s: bool) -> float | None:
    if epoch_s:
        a, b = _num(start), _num(end)
        return None if a is None or b is None else (b - a) * 1000.0
    x, y = _to_dt(start), _to_dt(end)
    if x is None or y is None or (x.tzinfo is None) != (y.tzinfo is None):
        return None
    return (y - x).total_seconds() * 1000.0


def _header(headers: object, name: str) -> str | None:
    if isinstance(headers, dict):
        for k, v in headers.items():
            if isinstance(k, str) and k.lower() == name and isinstance(v, str) and v:
                return v
    return None


def _status_code(row: dict, meta: dict) -> int:
    """HTTP status of a failed call: the logged error code when it is one, else 500."""
    for info in (maybe_json(row.get("error_information")), meta.get("error_information")):
        if isinstance(info, dict):
            code = info.get("error_code")
            if isinstance(code, int | str) and str(code).strip().isdigit() \
                    and 100 <= int(code) < 600:
                return int(code)
    return 500


def _is_payload(row: dict) -> bool:
    return "request_id" not in row and "id" in row


def _account(row: dict, meta: dict, key: str, payload: bool) -> str | None:
    if key == "end_user":
        value = row.get("end_user")
    elif payload:
        value = meta.get(_PAYLOAD_UNIT[key])
    else:
        value = row.get(_SPEND_UNIT[key])
        if value is None and key == "key":
            value = meta.get("user_api_key")
    return value if isinstance(value, str) and value.strip() else None


def map_record(row: dict, account_key: str = DEFAULT_ACCOUNT_KEY,
               account_id: str | None = None) -> dict | str:
    """One LiteLLM row (SpendLogs or StandardLoggingPayload) -> one native record, or the
    reason it is bad (no billing unit of the chosen kind)."""
    row = {k: blank_to_none(v) for k, v in row.items()}
    payload = _is_payload(row)
    raw_meta = maybe_json(row.get("metadata"))
    meta = raw_meta if isinstance(raw_meta, dict) else {}
    psr = maybe_json(row.get("proxy_server_request"))
    headers = None
    if isinstance(psr, dict) and isinstance(psr.get("body"), dict) and (
            "headers" in psr or "url" in psr):
        headers, psr = psr.get("headers"), psr["body"]
    messages = maybe_json(row.get("messages"))
    body = dict(psr) if isinstance(psr, dict) and psr else (
        {"messages": messages} if isinstance(messages, list) else
        {"prompt": messages} if isinstance(messages, str) else {})
    params = maybe_json(row.get("model_parameters"))
    if isinstance(params, dict):
        for k, v in params.items():
            body.setdefault(k, v)
    end_user = row.get("end_user")
    if isinstance(end_user, str) and end_user.strip() and not body.get("user"):
        body["user"] = end_user
    response = maybe_json(row.get("response"))
    if isinstance(response, dict) and "choices" not in response and "output_text" not in response:
        response = {"body": response} if response else None
    elif isinstance(response, str):
        response = {"output_text": response}
    elif not isinstance(response, dict):
        response = None
    if row.get("status") == "failure":
        response = {**(response or {}), "status": _status_code(row, meta)}
        if row.get("error_str") is not None:
            response["error"] = row["error_str"]
    extra = {k: maybe_json(v) for k, v in row.items() if k not in _MAPPED and v is not None}
    metadata = dict(meta) if isinstance(raw_meta, dict) else (
        {"metadata": raw_meta} if raw_meta else {})
    if extra:
        metadata["litellm"] = extra
    team = meta.get("user_api_key_team_id") if payload else row.get("team_id")
    api_key = meta.get("user_api_key_hash") if payload else row.get("api_key")
    org = row.get("organization_id") or meta.get("user_api_key_org_id") or team
    user_agent = (meta.get("user_agent") if isinstance(meta.get("user_agent"), str) else None) \
        or _header(meta.get("headers"), "user-agent") or _header(headers, "user-agent")
    ip = row.get("requester_ip_address") or meta.get("requester_ip_address")
    account = account_id or _account(row, meta, account_key, payload)
    if account is None:
        others = "|".join(k for k in ACCOUNT_KEYS if k != account_key)
        return (f"missing_field: account_id (--account-key {account_key}: the row has no "
                f"{account_key}; choose another unit with --account-key {others} or give "
                f"--account-id)")
    start = row.get("startTime")
    secs = _num(start) if payload else None
    ts = secs * 1000.0 if secs is not None else start
    model = row.get("model_group") or row.get("model")
    usage = drop_none({"prompt_tokens": _int(row.get("prompt_tokens")),
                       "completion_tokens": _int(row.get("completion_tokens"))})
    return drop_none({
        "request_id": row.get("id") if payload else row.get("request_id"),
        "timestamp": ts,
        "account_id": account,
        "org_id": org if isinstance(org, str) else None,
        "api_key_id": api_key if isinstance(api_key, str) else None,
        "model": model if isinstance(model, str) else None,
        "client_ip": ip if isinstance(ip, str) else None,
        "user_agent": user_agent,
        "request": body, "response": response,
        "usage": usage or None,
        "latency_ms": _latency(start, row.get("endTime"), payload),
        "metadata": metadata or None,
    })


def _reader(account_key: str, account_id: str | None):
    return object_reader(lambda row: map_record(row, account_key, account_id))


def records_for(path: object, account_key: str | None = None,
                account_id: str | None = None):
    """Record reader with the command's billing unit (``--account-key``/``--account-id``)."""
    return _reader(account_key or DEFAULT_ACCOUNT_KEY, account_id)


#: Top-level keys of a SpendLogs row that no other format has at the top level.
_LITELLM_KEYS = {"spend", "api_key", "call_type", "response_cost", "model_group", "cache_hit",
                 "requester_ip_address", "completionStartTime"}


def claims(row: dict) -> bool:
    """A SpendLogs row (``startTime`` and ``request_id`` beside a LiteLLM-only column) or a
    StandardLoggingPayload (``id``, a numeric ``startTime``, ``call_type`` and
    ``model_group`` or ``response_cost``)."""
    if "startTime" in row and "request_id" in row and not _LITELLM_KEYS.isdisjoint(row):
        return True
    start = row.get("startTime")
    return ("id" in row and isinstance(start, int | float) and not isinstance(start, bool)
            and "call_type" in row and ("model_group" in row or "response_cost" in row))


register(Format("litellm", _reader(DEFAULT_ACCOUNT_KEY, None), source_for, claims,
                priority=10, records_for=records_for, account_keys=ACCOUNT_KEYS))
