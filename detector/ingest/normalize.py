"""One native request record (a parsed JSON object) to one canonical lake row.

Grain: one record in, one row tuple out (columns ``request_id`` .. ``metadata_json`` of
:data:`detector.lake.schema.REQUEST_SCHEMA`, in that order), or a :class:`BadRecord` naming why
the record is bad. Valid-but-odd input is normalised and its oddities are listed under
``metadata_json["_ingest"]["flags"]``.

Typing policy (``shared/spec/request-log.md``): the provider's own top-level fields must have
their documented JSON type (else the record is bad); the request body is what the client sent,
so its parameters are coerced leniently (a value that cannot be coerced becomes null, the raw
body is kept verbatim in ``request_json``).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from functools import lru_cache

from detector.ingest.body import (
    BadRecord,
    read_turns,
    request_params,
    response_fields,
    usage_fields,
)
from detector.ingest.ipnet import ip_prefix
from detector.ingest.jsonio import dumps_text
from detector.ingest.redact import redact
from detector.ingest.timeparse import TimestampError, parse_timestamp
from detector.lake.hashing import prompt_hash, text_hash

#: Top-level fields of the native record; anything else is kept in metadata.
KNOWN_FIELDS = frozenset({
    "request_id", "timestamp", "account_id", "org_id", "api_key_id", "endpoint", "model",
    "client_ip", "user_agent", "payment_fingerprint", "account_created_at", "request",
    "response", "usage", "latency_ms", "metadata",
})
_OPTIONAL_STR = ("org_id", "api_key_id", "endpoint", "model", "client_ip", "user_agent",
                 "payment_fingerprint")
_MAX_ID_CHARS = 1024
_YEAR_US = 366 * 86_400_000_000


@dataclass(frozen=True)
class Limits:
    """Accepted window for ``timestamp`` (epoch microseconds, UTC).

    Defaults: from 2000-01-01 to one year after the moment the limits were built; records
    outside are quarantined as ``timestamp_out_of_range``. ``redact_bodies`` replaces the texts
    in ``request_json``/``response_json`` (privacy mode, see ``detector.ingest.privacy``).
    """

    min_ts_us: int = 946_684_800_000_000
    max_ts_us: int = field(default_factory=lambda: int(time.time() * 1e6) + _YEAR_US)
    redact_bodies: bool = False



# --- the record ----------------------------------------------------------------------------

def _required_str(rec: dict, key: str) -> str:
    v = rec.get(key)
    if v is None:
        raise BadRecord(f"missing_field: {key}")
    if not isinstance(v, str):
        raise BadRecord(f"wrong_type: {key}: expected string, got {type(v).__name__}")
    if not v.strip():
        raise BadRecord(f"missing_field: {key} is empty")
    if len(v) > _MAX_ID_CHARS:
        raise BadRecord(f"wrong_type: {key}: longer than {_MAX_ID_CHARS} characters")
    return v


def _timestamp(rec: dict, limits: Limits, flags: list[str]) -> int:
    if rec.get("timestamp") is None:
        raise BadRecord("missing_field: timestamp")
    try:
        us = parse_timestamp(rec["timestamp"], flags)
    except TimestampError as exc:
        raise BadRecord(f"bad_timestamp: {exc}") from None
    if not limits.min_ts_us <= us <= limits.max_ts_us:
        raise BadRecord(f"timestamp_out_of_range: {str(rec['timestamp'])[:40]}")
    return us


@lru_cache(maxsize=1 << 14)
def _cached_ts(v: str | int | float) -> tuple[int | None, tuple[str, ...]]:
    flags: list[str] = []
    try:
        us = parse_timestamp(v, flags)
    except TimestampError:
        return None, ("bad_account_created_at",)
    if not -62_135_596_800_000_000 < us < 253_402_300_799_000_000:
        return None, ("bad_account_created_at",)
    return us, tuple(flags)


def _optional_ts(v: object, flags: list[str]) -> int | None:
    if v is None:
        return None
    if not isinstance(v, str | int | float) or isinstance(v, bool):
        flags.append("bad_account_created_at")
        return None
    us, more = _cached_ts(v)
    flags.extend(more)
    return us


def _metadata(rec: dict, flags: list[str], counts: list[int]) -> dict | None:
    meta = rec.get("metadata")
    out: dict = {}
    if isinstance(meta, dict):
        out.update(meta)
    elif meta is not None:
        out["metadata"] = meta
    if not rec.keys() <= KNOWN_FIELDS:
        for k, v in rec.items():
            if k not in KNOWN_FIELDS:
                out[k] = v
    notes: dict = {}
    if flags:
        notes["flags"] = sorted(set(flags))
    if counts[0]:
        notes["image_parts"] = counts[0]
    if counts[1]:
        notes["other_parts"] = counts[1]
    if notes:
        out["_ingest"] = notes
    return out or None


def normalize(rec: dict, limits: Limits, flags: list[str]) -> tuple:
    """Canonical row tuple (``request_id`` .. ``metadata_json``) of a native record.

    Raises BadRecord (reason ``<code>: <detail>``) for a bad record. ``flags`` holds oddities
    found so far (e.g. by the line decoder) and is extended here.
    """
    request_id = _required_str(rec, "request_id")
    account_id = _required_str(rec, "account_id")
    ts = _timestamp(rec, limits, flags)
    req = rec.get("request")
    if req is None:
        raise BadRecord("missing_field: request")
    if not isinstance(req, dict):
        raise BadRecord(f"wrong_type: request: expected object, got {type(req).__name__}")
    get = rec.get
    opt = (get("org_id"), get("api_key_id"), get("endpoint"), get("model"), get("client_ip"),
           get("user_agent"), get("payment_fingerprint"))
    for key, v in zip(_OPTIONAL_STR, opt, strict=True):
        if v is not None and v.__class__ is not str and not isinstance(v, str):
            raise BadRecord(f"wrong_type: {key}: expected string, got {type(v).__name__}")
    org_id, api_key_id, endpoint, model, client_ip, user_agent, payment_fp = opt
    latency = rec.get("latency_ms")
    if latency is not None:
        if isinstance(latency, bool) or not isinstance(latency, int | float):
            raise BadRecord(f"wrong_type: latency_ms: expected number, got {type(latency).__name__}")
        latency = float(latency) if math.isfinite(latency) else None
    status, finish, out_chars = response_fields(rec.get("response"))
    p_tok, c_tok, r_tok = usage_fields(rec.get("usage"))
    created = _optional_ts(rec.get("account_created_at"), flags)

    turns = read_turns(req, flags)
    prompt = "\n".join(turns.user)
    system = "\n".join(turns.system) if turns.system else None
    meta = _metadata(rec, flags, turns.counts)
    resp = rec.get("response")
    return (
        request_id, ts, account_id, org_id, api_key_id, endpoint, model,
        client_ip, ip_prefix(client_ip) if client_ip else None, user_agent, payment_fp, created,
        turns.n_messages, turns.n_user,
        system, text_hash(system) if system is not None else None,
        prompt, prompt_hash(prompt), len(prompt),
        *request_params(req),
        status, finish, out_chars, p_tok, c_tok, r_tok, latency,
        dumps_text(redact(req) if limits.redact_bodies else req),
        None if resp is None else dumps_text(redact(resp) if limits.redact_bodies else resp),
        dumps_text(meta) if meta is not None else None,
    )
