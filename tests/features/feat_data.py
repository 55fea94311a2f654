"""Tiny hand-made request tables written straight into a temporary home's lake."""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path

import pyarrow as pa

from detector.lake.io import write_parquet_atomic
from detector.lake.schema import REQUEST_SCHEMA
from detector.settings import Settings

_ids = itertools.count()


def ts(day: str, hh: int = 0, mm: int = 0, ss: int = 0, ms: int = 0) -> dt.datetime:
    d = dt.date.fromisoformat(day)
    return dt.datetime(d.year, d.month, d.day, hh, mm, ss, ms * 1000, tzinfo=dt.UTC)


def req(account_id: str, when: dt.datetime, prompt: str = "hello", **kw: object) -> dict:
    """One canonical request row; unspecified columns are null (n defaults to 1)."""
    row: dict[str, object] = {c: None for c in REQUEST_SCHEMA.names}
    row.update(request_id=f"r{next(_ids)}", ts=when, account_id=account_id, prompt_text=prompt,
               prompt_hash=f"h:{' '.join(prompt.lower().split())}", n_user_turns=1, n_messages=1,
               prompt_chars=len(prompt), model="m1", request_json="{}")
    row.update(kw)
    return row


def write_day(settings: Settings, day: str, rows: list[dict], part: int = 0) -> Path:
    path = settings.requests_dir / f"date={day}" / f"part-{part}.parquet"
    write_parquet_atomic(path, pa.Table.from_pylist(rows, schema=REQUEST_SCHEMA))
    return path
