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
_TEXT_PARTS = frozenset({"text", "input_text", "output_text"})
_IMAGE_PARTS = frozenset({"image_url", "image", "input_image", "image_file"})
_SYSTEM_ROLES = frozenset({"system", "developer"})
_MAX_PART_DEPTH = 16
_MAX_ID_CHARS = 1024
_YEAR_US = 366 * 86_400_000_000


class BadRecord(ValueError):
    """The record is bad: ``str(self)`` is the reason stored in the quarantine."""


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



# --- request body --------------------------------------------------------------------------

def content_text(content: object, counts: list[int]) -> str:
    """Text of a message ``content``: a string, or text parts (nested lists allowed).

    ``counts`` is ``[image_parts, other_non_text_parts]`` and is incremented in place.
    Iterative, so hostile nesting cannot exhaust the stack.
    """
    if isinstance(content, str):
        return content
    if content is None:
        return ""
    out: list[str] = []
    stack: list[tuple[object, int]] = [(content, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, list):
            if depth < _MAX_PART_DEPTH:
                stack.extend((x, depth + 1) for x in reversed(item))
        elif isinstance(item, dict):
            kind = item.get("type")
            text = item.get("text")
            if isinstance(text, dict):  # {"type": "text", "text": {"value": ...}}
                text = text.get("value")
            if isinstance(text, str) and (kind is None or kind in _TEXT_PARTS):
                out.append(text)
            elif kind in _IMAGE_PARTS:
                counts[0] += 1
            elif kind is not None:
                counts[1] += 1
            elif "content" in item and depth < _MAX_PART_DEPTH:
                stack.append((item["content"], depth + 1))
    return "\n".join(out)


@dataclass
class Turns:
    """What the prompt-side of a request body says, after reading its messages."""

    n_messages: int = 0
    n_user: int = 0
    user: list[str] = field(default_factory=list)
    system: list[str] = field(default_factory=list)
    counts: list[int] = field(default_factory=lambda: [0, 0])


def _read_messages(items: list, turns: Turns, default_role: str) -> None:
    for m in items:
        turns.n_messages += 1
        if isinstance(m, dict):
            if "role" in m or m.get("type") == "message":
                role = m.get("role") or "user"
                text = content_text(m.get("content"), turns.counts)
            else:  # a bare content part (Responses API input)
                role, text = default_role, content_text([m], turns.counts)
        else:
            role, text = default_role, content_text(m, turns.counts)
        if role == "user":
            turns.n_user += 1
            turns.user.append(text)
        elif role in _SYSTEM_ROLES:
            turns.system.append(text)


def read_turns(req: dict, flags: list[str]) -> Turns:
    """Messages, prompt or input of a request body, as user and system texts."""
    turns = Turns()
    messages = req.get("messages")
    if isinstance(messages, list):
        _read_messages(messages, turns, "user")
    elif messages is not None:
        flags.append("messages_not_a_list")
    if not turns.n_messages:
        for key in ("prompt", "input"):
            body = req.get(key)
            if body is None:
                continue
            if isinstance(body, str):
                turns.n_messages, turns.n_user = 1, 1
                turns.user.append(body)
            elif isinstance(body, list):
                if body and all(isinstance(x, int) for x in body):
                    flags.append("token_prompt")
                    turns.n_messages, turns.n_user = 1, 1
                elif key == "input" and any(isinstance(x, dict) for x in body):
                    _read_messages(body, turns, "user")
                else:
                    turns.n_messages, turns.n_user = 1, 1
                    turns.user.append(content_text(body, turns.counts))
            break
    instructions = req.get("instructions")
    if isinstance(instructions, str):
        turns.system.insert(0, instructions)
    return turns


def as_int(v: object) -> int | None:
    """Lenient integer: ints, integral floats and digit strings; None otherwise."""
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, int):
        return v if -(1 << 63) <= v < (1 << 63) else None
    if isinstance(v, float):
        return int(v) if math.isfinite(v) and v.is_integer() and abs(v) < 9e18 else None
    if isinstance(v, str):
        s = v.strip()
        if s.lstrip("-").isdigit() and len(s) < 19:
            return int(s)
    return None


def as_float(v: object) -> float | None:
    """Lenient float: numbers and numeric strings; None for anything else or non-finite."""
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, int | float):
        f = float(v)
    elif isinstance(v, str):
        try:
            f = float(v)
        except ValueError:
            return None
    else:
        return None
    return f if math.isfinite(f) else None


def as_bool(v: object) -> bool | None:
    """Lenient bool: JSON booleans, 0/1, and the strings true/false."""
    if isinstance(v, bool):
        return v
    if isinstance(v, int):
        return v != 0
    if isinstance(v, str) and v.lower() in ("true", "false"):
        return v.lower() == "true"
    return None


def as_str(v: object) -> str | None:
    return v if isinstance(v, str) else None


def request_params(req: dict) -> tuple:
    """(max_tokens, temperature, top_p, n, logprobs, top_logprobs, stream, seed,
    reasoning_effort, has_tools, response_format, end_user_hash) from a request body."""
    max_tokens = None
    for key in ("max_tokens", "max_completion_tokens", "max_output_tokens"):
        max_tokens = as_int(req.get(key))
        if max_tokens is not None:
            break
    n = as_int(req.get("n"))
    raw_lp = req.get("logprobs")
    top_lp = as_int(req.get("top_logprobs"))
    if isinstance(raw_lp, int) and not isinstance(raw_lp, bool):  # legacy completions: count
        logprobs = raw_lp > 0
        if top_lp is None and raw_lp > 0:
            top_lp = raw_lp
    else:
        logprobs = as_bool(raw_lp) or False
    effort = req.get("reasoning_effort")
    if not isinstance(effort, str):
        reasoning = req.get("reasoning")
        effort = reasoning.get("effort") if isinstance(reasoning, dict) else None
        effort = effort if isinstance(effort, str) else None
    rf = req.get("response_format")
    if isinstance(rf, dict):
        rf = rf.get("type")
    if rf is None:
        text_cfg = req.get("text")
        fmt = text_cfg.get("format") if isinstance(text_cfg, dict) else None
        rf = fmt.get("type") if isinstance(fmt, dict) else None
    return (
        max_tokens, as_float(req.get("temperature")), as_float(req.get("top_p")),
        1 if n is None else n, logprobs, top_lp, as_bool(req.get("stream")) or False,
        as_int(req.get("seed")), effort, bool(req.get("tools") or req.get("functions")),
        rf if isinstance(rf, str) else None, end_user_hash(req),
    )


def end_user_hash(req: dict) -> str | None:
    """Hash of the caller's end-user id (``user``, else ``safety_identifier``), or None."""
    for key in ("user", "safety_identifier"):
        v = req.get(key)
        if isinstance(v, str) and v:
            return text_hash(v)
    return None


# --- response and usage --------------------------------------------------------------------

def _output_chars(resp: dict) -> int | None:
    text = resp.get("output_text")
    if isinstance(text, str):
        return len(text)
    choices = resp.get("choices")
    if isinstance(choices, list) and choices:
        total, seen = 0, False
        for ch in choices:
            if not isinstance(ch, dict):
                continue
            msg = ch.get("message")
            t = msg.get("content") if isinstance(msg, dict) else ch.get("text")
            if isinstance(t, str):
                total, seen = total + len(t), True
        return total if seen else None
    return None


def response_fields(resp: object) -> tuple[int | None, str | None, int | None]:
    """(status, finish_reason, output_chars) of the response object."""
    if resp is None:
        return None, None, None
    if not isinstance(resp, dict):
        raise BadRecord(f"wrong_type: response: expected object, got {type(resp).__name__}")
    status = as_int(resp.get("status"))
    if status is None:
        status = as_int(resp.get("status_code"))
    if status is not None and not 0 <= status < 1000:
        status = None
    finish = resp.get("finish_reason")
    if not isinstance(finish, str):
        choices = resp.get("choices")
        first = choices[0] if isinstance(choices, list) and choices else None
        finish = first.get("finish_reason") if isinstance(first, dict) else None
    return status, finish if isinstance(finish, str) else None, _output_chars(resp)


def _usage_int(usage: dict, *keys: str) -> int | None:
    for key in keys:
        v = usage.get(key)
        if v is None:
            continue
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise BadRecord(f"wrong_type: usage.{key}: expected integer, got {type(v).__name__}")
        iv = as_int(v)
        if iv is None:
            raise BadRecord(f"wrong_type: usage.{key}: expected integer, got {v!r}")
        return iv
    return None


def usage_fields(usage: object) -> tuple[int | None, int | None, int | None]:
    """(prompt_tokens, completion_tokens, reasoning_tokens) of the usage object."""
    if usage is None:
        return None, None, None
    if not isinstance(usage, dict):
        raise BadRecord(f"wrong_type: usage: expected object, got {type(usage).__name__}")
    reasoning = _usage_int(usage, "reasoning_tokens")
    if reasoning is None:
        for key in ("completion_tokens_details", "output_tokens_details"):
            details = usage.get(key)
            if isinstance(details, dict):
                reasoning = as_int(details.get("reasoning_tokens"))
                if reasoning is not None:
                    break
    return (_usage_int(usage, "prompt_tokens", "input_tokens"),
            _usage_int(usage, "completion_tokens", "output_tokens"), reasoning)


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
