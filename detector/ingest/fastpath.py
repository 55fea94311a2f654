"""Fast path of :func:`detector.ingest.normalize.normalize` for records of the common shape.

Grain: one parsed native record (a dict) in, one canonical row tuple out, or ``None`` when the
record is not of the common shape. ``None`` is never a verdict: the caller then runs the full
:func:`~detector.ingest.normalize.normalize`, which decides (row, flags or quarantine reason).

Contract (checked by ``tests/ingest/test_fastpath.py`` on hostile, fuzzed and realistic
corpora): whenever ``fast_row(rec, limits)`` returns a tuple, it equals
``normalize(rec, limits, [])``. The fast path therefore declines every record that could be
bad or could carry an ingest flag (``metadata_json._ingest.flags``): wrong or odd types,
timestamps outside the strict RFC 3339 / integer epoch-ms forms, flagged timestamps, message
items without a role, non-list ``messages``, token prompts. Lenient parameter coercions
(strings for numbers, floats for ints...) are delegated to the same helpers ``normalize`` uses,
so only the common types take the inlined branches.

Why it is faster: no exceptions, dataclasses or flag lists per record, ``type(x) is T`` tests
instead of ``isinstance`` chains, caches for values that repeat across records (IP prefixes,
system-prompt hashes, account creation times), and a prompt hash that skips the
split/join when the prompt is ASCII with single spaces (the canonical form is then the
lower-cased prompt itself).
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta

from detector.ingest.body import (
    BadRecord,
    as_bool,
    as_float,
    as_int,
    content_text,
    end_user_hash,
    read_turns,
    response_fields,
    usage_fields,
)
from detector.ingest.ipnet import ip_prefix
from detector.ingest.jsonio import dumps_text
from detector.ingest.normalize import (
    KNOWN_FIELDS,
    Limits,
    _cached_ts,
    _metadata,
)
from detector.ingest.redact import redact
from detector.lake.hashing import text_hash

_LO, _HI = -(1 << 63), 1 << 63
_MAX_ID_CHARS = 1024
#: The strict RFC 3339 form that ``parse_timestamp`` reads without any flag or fix-up.
_RFC3339 = re.compile(
    r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,6})?(?:Z|[+-]\d\d:\d\d)\Z").match
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
_fromiso = datetime.fromisoformat
#: ``str.split()`` also splits on \x1c-\x1f, ``bytes.split()`` does not: map them to spaces.
_SEPARATORS_TO_SPACE = bytes.maketrans(b"\x1c\x1d\x1e\x1f", b"    ")
#: Dotted IPv4 exactly as ``ipnet._octet`` accepts it (ASCII digits, no leading zeros, < 256).
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = re.compile(rf"{_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET}\Z").match
_IP_CACHE: dict[str, str | None] = {}
_IP_CACHE_MAX = 1 << 16
#: Valid dotted-IPv4 "a.b.c" heads seen so far -> "a.b.c.0/24"; the valid spellings of an octet.
_HEADS: dict[str, str] = {}
_OCTETS = frozenset(str(i) for i in range(256))
_MISSING = object()
_OPTIONAL = ("org_id", "api_key_id", "endpoint", "model", "client_ip", "user_agent",
             "payment_fingerprint")


def fast_prompt_hash(text: str) -> str:
    """Same value as :func:`detector.ingest.normalize.prompt_hash`, cheaper for plain ASCII."""
    if text.isascii():  # ASCII: lower() and split() of bytes and str agree (see above)
        canon = text.encode("ascii").lower()
        if not text.isprintable():  # control characters, some of them whitespace
            canon = b" ".join(canon.translate(_SEPARATORS_TO_SPACE).split())
        elif b"  " in canon or canon[:1] == b" " or canon[-1:] == b" ":
            canon = b" ".join(canon.split())
        # else: words separated by single spaces, so split/join is the identity
    else:
        canon = " ".join(text.lower().split()).encode("utf-8", "surrogatepass")
    return hashlib.blake2b(canon, digest_size=8).hexdigest()


def cached_ip_prefix(ip: str) -> str | None:
    """:func:`detector.ingest.ipnet.ip_prefix` with bounded per-process caches.

    Dotted IPv4 (the common case) is split at its last dot: the last octet is checked against
    the 256 valid spellings, the first three (one check per /24 seen) by the same rules."""
    head, dot, last = ip.rpartition(".")
    if dot and last in _OCTETS:
        prefix = _HEADS.get(head)
        if prefix is not None:
            return prefix
        if _IPV4(ip) is not None:
            if len(_HEADS) >= _IP_CACHE_MAX:
                _HEADS.clear()
            prefix = _HEADS[head] = head + ".0/24"
            return prefix
    out = _IP_CACHE.get(ip, _MISSING)
    if out is _MISSING:
        if len(_IP_CACHE) >= _IP_CACHE_MAX:
            _IP_CACHE.clear()
        out = _IP_CACHE[ip] = ip_prefix(ip)
    return out  # type: ignore[return-value]


def _timestamp_us(ts: object) -> int | None:
    """Epoch µs of an integer epoch-ms or a strict RFC 3339 string; None for anything else."""
    if ts.__class__ is int:
        return ts * 1000  # type: ignore[operator]
    if ts.__class__ is str and _RFC3339(ts) is not None:  # type: ignore[arg-type]
        try:
            return (_fromiso(ts) - _EPOCH) // _US  # type: ignore[arg-type]
        except (ValueError, OverflowError):
            return None
    return None


def _int(v: object) -> int | None:
    """``as_int`` with the common case (an int64 int, or None) inlined."""
    if v.__class__ is int:
        return v if _LO <= v < _HI else None  # type: ignore[operator,return-value]
    return None if v is None else as_int(v)


def _float(v: object) -> float | None:
    """``as_float`` with the common case (an orjson float: always finite) inlined."""
    if v.__class__ is float:
        return v if v - v == 0.0 else None  # type: ignore[operator,return-value]
    return None if v is None else as_float(v)


def _bool(v: object) -> bool:
    """``as_bool(v) or False`` with the common case inlined."""
    if v.__class__ is bool:
        return v  # type: ignore[return-value]
    return (None if v is None else as_bool(v)) or False


def _token_count(usage: dict, key: str, alt: str | None) -> int | None:
    """``_usage_int`` for the common case (an int64 int or absent); raises LookupError else."""
    v = usage.get(key)
    if v is None and alt is not None:
        v = usage.get(alt)
    if v is None:
        return None
    if v.__class__ is int and _LO <= v < _HI:
        return v
    raise LookupError(key)  # normalize's helper decides (coerce or quarantine)


def _usage(usage: dict) -> tuple[int | None, int | None, int | None] | None:
    """:func:`detector.ingest.body.usage_fields` of a dict; None when it would raise."""
    try:
        reasoning = _token_count(usage, "reasoning_tokens", None)
        if reasoning is None:
            for key in ("completion_tokens_details", "output_tokens_details"):
                details = usage.get(key)
                if isinstance(details, dict):
                    reasoning = _int(details.get("reasoning_tokens"))
                    if reasoning is not None:
                        break
        return (_token_count(usage, "prompt_tokens", "input_tokens"),
                _token_count(usage, "completion_tokens", "output_tokens"), reasoning)
    except LookupError:
        pass
    try:
        return usage_fields(usage)
    except BadRecord:
        return None


def _response(resp: dict) -> tuple[int | None, str | None, int | None]:
    """:func:`detector.ingest.body.response_fields` with the common shape inlined: an
    int64 ``status`` (or none), a string ``finish_reason``, no ``choices`` / ``output_text``."""
    g = resp.get
    status, finish = g("status"), g("finish_reason")
    if (status.__class__ is int and 0 <= status < 1000 or status is None
            and g("status_code") is None) and finish.__class__ is str \
            and g("output_text") is None and g("choices") is None:
        return status, finish, None  # type: ignore[return-value]
    return response_fields(resp)


def _params(req: dict) -> tuple:
    """:func:`detector.ingest.body.request_params`, with the common types inlined."""
    g = req.get
    max_tokens = None
    for key in ("max_tokens", "max_completion_tokens", "max_output_tokens"):
        max_tokens = _int(g(key))
        if max_tokens is not None:
            break
    n = _int(g("n"))
    raw_lp = g("logprobs")
    top_lp = _int(g("top_logprobs"))
    if isinstance(raw_lp, int) and raw_lp.__class__ is not bool:  # legacy completions: a count
        logprobs = raw_lp > 0  # type: ignore[operator]
        if top_lp is None and raw_lp > 0:  # type: ignore[operator]
            top_lp = raw_lp  # type: ignore[assignment]
    else:
        logprobs = _bool(raw_lp)
    effort = g("reasoning_effort")
    if not isinstance(effort, str):
        reasoning = g("reasoning")
        effort = reasoning.get("effort") if isinstance(reasoning, dict) else None
        effort = effort if isinstance(effort, str) else None
    rf = g("response_format")
    if isinstance(rf, dict):
        rf = rf.get("type")
    if rf is None:
        text_cfg = g("text")
        fmt = text_cfg.get("format") if isinstance(text_cfg, dict) else None
        rf = fmt.get("type") if isinstance(fmt, dict) else None
    return (
        max_tokens, _float(g("temperature")), _float(g("top_p")), 1 if n is None else n,
        logprobs, top_lp, _bool(g("stream")), _int(g("seed")), effort,
        bool(g("tools") or g("functions")), rf if isinstance(rf, str) else None,
        None if g("user") is None and g("safety_identifier") is None else end_user_hash(req),
    )


def _turns(req: dict, counts: list[int]) -> tuple[int, int, list[str], list[str]] | None:
    """(n_messages, n_user_turns, user texts, system texts); None when ``read_turns`` would
    flag something or the messages are not ``{role: str, ...}`` objects."""
    msgs = req.get("messages")
    if msgs.__class__ is list and msgs:
        user: list[str] = []
        system: list[str] = []
        for m in msgs:  # type: ignore[union-attr]
            if m.__class__ is not dict:
                return None
            role = m.get("role")
            if role.__class__ is not str or not role:
                return None
            c = m.get("content")
            text = c if c.__class__ is str else ("" if c is None else content_text(c, counts))
            if role == "user":
                user.append(text)
            elif role == "system" or role == "developer":
                system.append(text)
        n_messages, n_user = len(msgs), len(user)  # type: ignore[arg-type]
    else:
        flags: list[str] = []
        turns = read_turns(req, flags)
        if flags:
            return None
        return turns.n_messages, turns.n_user, turns.user, turns.system
    instructions = req.get("instructions")
    if isinstance(instructions, str):
        system.insert(0, instructions)  # type: ignore[arg-type]
    return n_messages, n_user, user, system


def fast_row(rec: dict, limits: Limits) -> tuple | None:
    """``normalize(rec, limits, [])`` for a record of the common shape, else None."""
    g = rec.get
    rid, acct = g("request_id"), g("account_id")
    if rid.__class__ is not str or acct.__class__ is not str:
        return None
    if len(rid) > _MAX_ID_CHARS or len(acct) > _MAX_ID_CHARS or not rid.strip() \
            or not acct.strip():
        return None
    us = _timestamp_us(g("timestamp"))
    if us is None or not limits.min_ts_us <= us <= limits.max_ts_us:
        return None
    req = g("request")
    if req.__class__ is not dict:
        return None
    opt = (g("org_id"), g("api_key_id"), g("endpoint"), g("model"), g("client_ip"),
           g("user_agent"), g("payment_fingerprint"))
    for v in opt:
        if v is not None and v.__class__ is not str:
            return None
    org_id, api_key_id, endpoint, model, client_ip, user_agent, payment_fp = opt
    latency = g("latency_ms")
    if latency is not None:
        if latency.__class__ is int:
            latency = float(latency)
        elif latency.__class__ is float:
            latency = latency if latency - latency == 0.0 else None
        else:
            return None
    resp = g("response")
    if resp is None:
        status = finish = out_chars = None
    elif resp.__class__ is dict:
        status, finish, out_chars = _response(resp)
    else:
        return None
    usage = g("usage")
    if usage is None:
        p_tok = c_tok = r_tok = None
    elif usage.__class__ is dict:
        tokens = _usage(usage)
        if tokens is None:
            return None
        p_tok, c_tok, r_tok = tokens
    else:
        return None
    created = g("account_created_at")
    if created is not None:
        if created.__class__ is not str and created.__class__ is not int:
            return None
        created, more = _cached_ts(created)
        if more:
            return None
    counts = [0, 0]
    turns = _turns(req, counts)
    if turns is None:
        return None
    n_messages, n_user, user, system = turns
    prompt = "\n".join(user)
    system_text = "\n".join(system) if system else None
    if g("metadata") is None and not counts[0] and not counts[1] and rec.keys() <= KNOWN_FIELDS:
        meta_json = None
    else:
        meta = _metadata(rec, [], counts)
        meta_json = dumps_text(meta) if meta is not None else None
    redact_bodies = limits.redact_bodies
    return (
        rid, us, acct, org_id, api_key_id, endpoint, model,
        client_ip, cached_ip_prefix(client_ip) if client_ip else None, user_agent, payment_fp,
        created, n_messages, n_user,
        system_text, text_hash(system_text) if system_text is not None else None,
        prompt, fast_prompt_hash(prompt), len(prompt),
        *_params(req),
        status, finish, out_chars, p_tok, c_tok, r_tok, latency,
        dumps_text(redact(req) if redact_bodies else req),
        None if resp is None else dumps_text(redact(resp) if redact_bodies else resp),
        meta_json,
    )
