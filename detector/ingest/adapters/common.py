"""Helpers shared by adapters: JSON-in-a-string fields, timestamps, record readers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import orjson

from detector.ingest.jsonio import decode_object

Mapper = Callable[[dict], dict]


def maybe_json(value: object) -> object:
    """Decode a JSON object/array stored as a string (CSV exports do that); else as is."""
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
    return value


def blank_to_none(value: object) -> object:
    return None if value == "" else value


def epoch_ms(value: object) -> object:
    """A timestamp as epoch milliseconds when it is a datetime; other values unchanged."""
    if isinstance(value, datetime):
        return value.timestamp() * 1000.0
    return value


def object_reader(mapper: Mapper) -> Callable[[bytes, list[str]], list[tuple[bytes, object]]]:
    """A record reader: one JSON object per raw record, mapped onto a native record."""
    def read(raw: bytes, flags: list[str]) -> list[tuple[bytes, object]]:
        value, reason = decode_object(raw, flags)
        return [(raw, reason if value is None else mapper(value))]
    return read


def drop_none(d: dict) -> dict:
    return {k: v for k, v in d.items() if v is not None}
