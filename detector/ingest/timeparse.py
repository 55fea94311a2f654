"""Timestamp parsing for ingest: RFC 3339 strings and epoch milliseconds to UTC microseconds.

Accepted (the returned value is microseconds since 1970-01-01T00:00:00Z, an ``int``):

* RFC 3339 / ISO 8601 strings with an offset or ``Z`` (``T`` or a space between date and time,
  any number of fractional digits: beyond microseconds they are truncated);
* a JSON number: epoch **milliseconds** (fractions allowed);
* a string of digits (optionally with a fraction): epoch milliseconds, flagged
  ``numeric_string_timestamp``;
* a string without an offset: assumed UTC, flagged ``naive_timestamp``; a bare date is midnight
  UTC, flagged ``date_only_timestamp``.

Anything else raises :class:`TimestampError`. Range checks live with the caller (see
:class:`detector.ingest.normalize.Limits`).
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
_NUMERIC = re.compile(r"^\s*-?\d+(\.\d+)?\s*$")
_LONG_FRACTION = re.compile(r"(\.\d{6})\d+")


class TimestampError(ValueError):
    """The value is not a timestamp this project accepts."""


def epoch_ms_to_us(value: float | int) -> int:
    """Epoch milliseconds (JSON number) to epoch microseconds."""
    if isinstance(value, int):
        return value * 1000
    if not math.isfinite(value):
        raise TimestampError(f"not a finite number: {value!r}")
    return int(round(value * 1000.0))


def _from_iso(text: str, flags: list[str]) -> int:
    s = text.strip()
    if len(s) > 64:
        raise TimestampError("timestamp string too long")
    if "t" in s or "z" in s:
        s = s.replace("t", "T").replace("z", "Z")
    try:
        dt = datetime.fromisoformat(s)
    except ValueError:
        fixed = _LONG_FRACTION.sub(r"\1", s)
        try:
            dt = datetime.fromisoformat(fixed)
        except ValueError:
            raise TimestampError(f"unparseable timestamp {text[:40]!r}") from None
    if dt.tzinfo is None:
        flags.append("date_only_timestamp" if len(s) <= 10 else "naive_timestamp")
        dt = dt.replace(tzinfo=UTC)
    return (dt - _EPOCH) // _US


def parse_timestamp(value: object, flags: list[str]) -> int:
    """Parse ``value`` to epoch microseconds (UTC); append oddities to ``flags``.

    Raises TimestampError for wrong types and unparseable text.
    """
    if isinstance(value, bool) or value is None:
        raise TimestampError(f"expected RFC 3339 string or epoch milliseconds, got {value!r}")
    if isinstance(value, int | float):
        try:
            return epoch_ms_to_us(value)
        except OverflowError:
            raise TimestampError(f"epoch milliseconds out of range: {value!r}") from None
    if isinstance(value, str):
        if _NUMERIC.match(value):
            flags.append("numeric_string_timestamp")
            num = float(value) if "." in value else int(value)
            return epoch_ms_to_us(num)
        try:
            return _from_iso(value, flags)
        except OverflowError:
            raise TimestampError(f"timestamp out of range: {value[:40]!r}") from None
    raise TimestampError(f"expected RFC 3339 string or epoch milliseconds, got {type(value).__name__}")


_DAY_US = 86_400_000_000
_DAY_CACHE: dict[int, str] = {}


def day_of(us: int) -> str:
    """UTC calendar day (``YYYY-MM-DD``) of epoch microseconds ``us``."""
    day = us // _DAY_US
    text = _DAY_CACHE.get(day)
    if text is None:
        text = (date(1970, 1, 1) + timedelta(days=day)).isoformat()
        if len(_DAY_CACHE) < 100_000:
            _DAY_CACHE[day] = text
    return text


def us_of_day(day: str) -> int:
    """Epoch microseconds of midnight UTC at the start of ``day`` (``YYYY-MM-DD``)."""
    d = date.fromisoformat(day)
    return (d - date(1970, 1, 1)).days * _DAY_US
