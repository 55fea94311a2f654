"""Redaction of request/response bodies for the privacy mode (``keep_prompt_text = false``)."""

from __future__ import annotations

_TEXT_KEYS = frozenset({"content", "prompt", "input", "text", "instructions", "output_text",
                        "system", "value", "arguments", "messages", "choices", "message"})
_KEEP_KEYS = frozenset({"type", "role", "name", "detail", "finish_reason", "index", "id"})


def redact(obj: object) -> object:
    """Copy of a request/response body with the text under text-bearing keys redacted."""
    def walk(value: object, inside: bool, depth: int) -> object:
        if isinstance(value, str):
            return f"[redacted {len(value)} chars]" if inside else value
        if depth > 64:
            return None
        if isinstance(value, list):
            return [walk(v, inside, depth + 1) for v in value]
        if isinstance(value, dict):
            return {k: (v if k in _KEEP_KEYS and not isinstance(v, dict | list)
                        else walk(v, inside or k in _TEXT_KEYS, depth + 1))
                    for k, v in value.items()}
        return value
    return walk(obj, False, 0)
