"""Argument checks and timestamps shared by the case store's tables.

Every check returns the normalised value or raises :class:`CaseInputError` naming the argument
and the value it got.
"""

from __future__ import annotations

import contextlib
import os
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from detector.errors import InputError
from detector.lake.io import current_umask

_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MAX_ID_LEN = 256
#: account ids as ingest accepts them (any non-blank string up to 1,024 characters, kept as is)
MAX_ACCOUNT_ID_LEN = 1024
MAX_NOTE_LEN = 10_000


class CaseInputError(InputError, ValueError):
    """An argument to the case store that is missing, malformed or out of range."""


def now_iso() -> str:
    """The current UTC time as ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (sorts as text)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def iso(ts: datetime) -> str:
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def check_id(name: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_ID_LEN:
        raise CaseInputError(
            f"{name}: expected a non-empty string of at most {MAX_ID_LEN} characters, got {value!r}")
    return value.strip()


def restrict_file_mode(db_path: Path) -> None:
    """The new database file (and its WAL/SHM) get 0666 minus the umask: SQLite makes them
    0644, which is world-readable and, with ``group_access``, not group-writable."""
    mask = current_umask()
    for p in (db_path, db_path.with_name(db_path.name + "-wal"),
              db_path.with_name(db_path.name + "-shm")):
        with contextlib.suppress(OSError):
            os.chmod(p, 0o666 & ~mask)


def check_account(value: object) -> str:
    """An account id exactly as the lake holds it (never stripped: ' a' and 'a' differ)."""
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_ACCOUNT_ID_LEN:
        raise CaseInputError("account_id: expected a non-blank string of at most "
                             f"{MAX_ACCOUNT_ID_LEN} characters, got {str(value)[:80]!r}")
    return value


def check_date(name: str, value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    text = str(value)
    try:
        if _DATE_RE.match(text):
            date.fromisoformat(text)
            return text
    except ValueError:
        pass
    raise CaseInputError(f"{name}: expected a date YYYY-MM-DD, got {value!r}")


def check_until(value: object) -> str | None:
    """Normalise an allow-list expiry: None (never), a datetime, or a date (= end of that day)."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, date):
        return iso(datetime.combine(value + timedelta(days=1), datetime.min.time()))
    text = str(value).strip()
    if _DATE_RE.match(text):
        try:
            return check_until(date.fromisoformat(text))
        except ValueError:
            pass
    try:
        return iso(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        raise CaseInputError(
            f"until: expected an ISO date or timestamp (or nothing for no expiry), got {value!r}"
        ) from None
