"""The request body, response and usage of a native record, read into canonical values.

The body is what the client sent, so its parameters are coerced leniently: a value that cannot
be coerced becomes null (the raw body is kept verbatim in ``request_json``). Used by
:mod:`detector.ingest.normalize` (one record to one row) and the adapters.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from detector.lake.hashing import text_hash

_TEXT_PARTS = frozenset({"text", "input_text", "output_text"})
_IMAGE_PARTS = frozenset({"image_url", "image", "input_image", "image_file"})
_SYSTEM_ROLES = frozenset({"system", "developer"})
_MAX_PART_DEPTH = 16


class BadRecord(ValueError):
    """The record is bad: ``str(self)`` is the reason stored in the quarantine."""


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


