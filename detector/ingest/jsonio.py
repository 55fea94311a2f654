"""JSON decoding of raw log lines and re-encoding of bodies, tolerant of hostile input.

``decode_line`` never raises: it returns the parsed value or a quarantine reason. Invalid UTF-8
is decoded with replacement characters (flag ``invalid_utf8``), lone UTF-16 surrogates in
``\\u`` escapes are replaced (flag ``lone_surrogate``); nesting deeper than orjson's 1024 levels
is a bad line.
"""

from __future__ import annotations

import json
import sys

import orjson

_BOM = b"\xef\xbb\xbf"
_MAX_REASON = 200


def _fix_surrogates(text: str) -> str:
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def _sanitize(obj: object) -> object:
    """Copy of ``obj`` with lone surrogates in every string replaced (iterative)."""
    root: list = [obj]
    stack: list[tuple[object, object]] = [(root, 0)]
    while stack:
        parent, key = stack.pop()
        value = parent[key]  # type: ignore[index]
        if isinstance(value, str):
            parent[key] = _fix_surrogates(value)  # type: ignore[index]
        elif isinstance(value, list):
            stack.extend((value, i) for i in range(len(value)))
        elif isinstance(value, dict):
            fixed = {_fix_surrogates(k): v for k, v in value.items()}
            parent[key] = fixed  # type: ignore[index]
            stack.extend((fixed, k) for k in fixed)
    return root[0]


def clean_line(raw: bytes) -> bytes:
    """The JSON text of a raw line: without a UTF-8 BOM, CR and surrounding whitespace."""
    if raw.startswith(_BOM):
        raw = raw[3:]
    return raw.strip()


def decode_line(raw: bytes, flags: list[str]) -> tuple[object, str | None]:
    """(value, None) for a decodable line, (None, reason) for a bad one. Never raises."""
    line = clean_line(raw)
    if not line:
        return None, "empty_line"
    try:
        return orjson.loads(line), None
    except orjson.JSONDecodeError as exc:
        msg = str(exc)
    if "depth limit" in msg:
        return None, "nesting_too_deep: more than 1024 levels"
    if "UTF-8" not in msg and "surrogate" not in msg:
        return None, f"invalid_json: {msg[:_MAX_REASON]}"
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        flags.append("invalid_utf8")
        text = line.decode("utf-8", "replace")
    try:
        return orjson.loads(text), None
    except orjson.JSONDecodeError as exc:
        msg = str(exc)
        if "surrogate" not in msg:
            return None, f"invalid_json: {msg[:_MAX_REASON]}"
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as exc:
        return None, f"invalid_json: {str(exc)[:_MAX_REASON]}"
    flags.append("lone_surrogate")
    return _sanitize(value), None


def decode_object(raw: bytes, flags: list[str], holder: str = "record") -> tuple[dict | None, str | None]:
    """(object, None) for a line holding one JSON object; (None, reason) otherwise: the
    :func:`decode_line` reason, or ``not_an_object: <holder> holds a JSON <type>``."""
    value, reason = decode_line(raw, flags)
    if reason is not None:
        return None, reason
    if not isinstance(value, dict):
        return None, f"not_an_object: {holder} holds a JSON {type(value).__name__}"
    return value, None


def dumps_text(obj: object) -> str:
    """Compact JSON text of ``obj`` (orjson; falls back to the stdlib for very deep values)."""
    try:
        return orjson.dumps(obj).decode("utf-8")
    except (orjson.JSONEncodeError, TypeError):
        old = sys.getrecursionlimit()
        sys.setrecursionlimit(max(old, 5000))
        try:
            return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
        finally:
            sys.setrecursionlimit(old)
