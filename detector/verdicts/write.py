"""Writing verdicts: a whole day (decide) and annotations of a day's rows (post-decide stages
such as campaigns). Every write replaces the day's file atomically."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from detector.errors import InputError
from detector.lake.io import write_parquet_atomic
from detector.settings import Settings
from detector.verdicts.paths import verdict_path
from detector.verdicts.schema import DEFAULTS, VERDICT_SCHEMA

#: What an annotation may not change: which account-days there are and what was decided.
FROZEN = ("account_id", "date", "score", "decision")


def conform(table: pa.Table, where: str) -> pa.Table:
    missing = [n for n in VERDICT_SCHEMA.names if n not in table.column_names]
    if missing:
        raise InputError(f"{where}: verdict table lacks column(s) {', '.join(missing)} "
                         f"(expected {', '.join(VERDICT_SCHEMA.names)})")
    table = table.select(VERDICT_SCHEMA.names)
    if table.schema == VERDICT_SCHEMA:
        return table
    try:
        return table.cast(VERDICT_SCHEMA)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise InputError(f"{where}: verdict table does not fit VERDICT_SCHEMA ({exc})") from None


def write_verdict_day(settings: Settings, day: str, table: pa.Table) -> Path:
    """Replace the verdict file of ``day`` atomically with ``table`` (cast to
    ``VERDICT_SCHEMA``; a missing column is an InputError naming it)."""
    path = verdict_path(settings, day)
    write_parquet_atomic(path, conform(table, f"verdicts of {day}"))
    return path


def read_day(settings: Settings, day: str) -> pd.DataFrame | None:
    """The verdict rows of ``day`` as written (a column the file lacks added with its default),
    or None when the day has no verdict file."""
    path = verdict_path(settings, day)
    if not path.exists():
        return None
    v = pq.read_table(path).to_pandas()
    for name in VERDICT_SCHEMA.names:  # a file written before a column existed (e.g. risk)
        if name not in v.columns:
            v[name] = DEFAULTS[name]
    return v


def annotate(settings: Settings, day: str,
             change: Callable[[pd.DataFrame], pd.DataFrame | None]) -> bool:
    """The one way a post-decide stage changes verdict rows: ``change`` gets the day's rows
    (full ``VERDICT_SCHEMA``, pandas) and returns the changed frame, or None for no change.
    The result must keep the same account-days and their ``FROZEN`` columns; it is cast to
    ``VERDICT_SCHEMA`` and replaces the day's file atomically. Returns whether the file was
    rewritten (False when the day has no verdicts or nothing changed)."""
    before = read_day(settings, day)
    if before is None:
        return False
    after = change(before.copy())
    if after is None:
        return False
    where = f"annotate verdicts of {day}"
    if len(after) != len(before):
        raise InputError(f"{where}: {len(before)} rows became {len(after)} "
                         "(an annotation changes rows, never adds or removes them)")
    after = after.reset_index(drop=True)
    base = before.reset_index(drop=True)
    for col in FROZEN:
        if col not in after.columns or not after[col].equals(base[col]):
            raise InputError(f"{where}: column {col} changed (annotations may not change "
                             f"{', '.join(FROZEN)})")
    table = conform(pa.Table.from_pandas(after, preserve_index=False), where)
    old = conform(pa.Table.from_pandas(base, preserve_index=False), where)
    if table.equals(old):
        return False
    write_parquet_atomic(verdict_path(settings, day), table)
    return True


def rewrite(settings: Settings, day: str,
            change: Callable[[pa.Table], pa.Table | None]) -> bool:
    """Privacy erasure only (``detector.privacy.erase``): ``change`` gets the day's file as
    written (Arrow) and returns the table to keep (rows may go, ids inside JSON be replaced), or
    None for no change; the file's schema and metadata stay, the write is atomic. Returns
    whether the file was rewritten. Every other change goes through :func:`annotate`."""
    path = verdict_path(settings, day)
    if not path.exists():
        return False
    table = pq.read_table(path)
    out = change(table)
    if out is None:
        return False
    if out.schema.names != table.schema.names:
        raise InputError(f"rewrite verdicts of {day}: columns {out.schema.names} differ from "
                         f"the file's {table.schema.names}")
    write_parquet_atomic(path, out.replace_schema_metadata(table.schema.metadata))
    return True
