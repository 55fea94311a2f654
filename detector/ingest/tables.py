"""Arrow tables of canonical rows and quarantine entries, split into daily partitions."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.compute as pc

from detector.ingest.parse import ParsedBatch
from detector.ingest.timeparse import day_of
from detector.lake.schema import QUARANTINE_SCHEMA, REQUEST_SCHEMA

#: Columns produced by normalize(); the last three (source_file, source_line, ingest_id) are
#: added per batch.
ROW_FIELDS = list(REQUEST_SCHEMA)[:-3]
_TS_COL = 1
_DAY_US = 86_400_000_000
_ACCOUNT_COL = 2
PROMPT_COL = [f.name for f in ROW_FIELDS].index("prompt_text")
SYSTEM_COL = [f.name for f in ROW_FIELDS].index("system_prompt")


def rows_to_table(rows: list[tuple], lines: list[int], source_file: str, ingest_id: str
                  ) -> pa.Table:
    """Canonical rows (REQUEST_SCHEMA) of one batch; ``lines`` are their 1-based line numbers."""
    n = len(rows)
    cols = list(zip(*rows, strict=True)) if rows else [()] * len(ROW_FIELDS)
    arrays = [pa.array(c, type=f.type) for c, f in zip(cols, ROW_FIELDS, strict=True)]
    arrays.append(pa.array([source_file] * n, pa.string()))
    arrays.append(pa.array(lines, pa.int64()))
    arrays.append(pa.array([ingest_id] * n, pa.string()))
    return pa.Table.from_arrays(arrays, schema=REQUEST_SCHEMA)


def with_table(parsed: ParsedBatch) -> ParsedBatch:
    """``parsed`` with its row tuples moved into ``parsed.table`` (see ``ParsedBatch.table``)."""
    if parsed.table is not None:
        return parsed
    table = rows_to_table(parsed.rows, parsed.row_lines, "", "")
    parsed.table = table.select([f.name for f in ROW_FIELDS] + ["source_line"])
    parsed.rows, parsed.row_lines = [], []
    return parsed


def table_by_date(rows: pa.Table, source_file: str, ingest_id: str
                  ) -> list[tuple[str, pa.Table]]:
    """(day, REQUEST_SCHEMA table) per UTC day of ``ts``, days in order, rows in input order.

    ``rows``: ROW_FIELDS columns plus ``source_line`` (see ``ParsedBatch.table``).
    """
    us = rows.column("ts").cast(pa.int64())
    if rows.num_rows and pc.min(us).as_py() < 0:  # integer division truncates: floor by hand
        days = pa.array([u // _DAY_US for u in us.to_pylist()], pa.int64())
    else:
        days = pc.divide(us, _DAY_US)
    unique = sorted(pc.unique(days).to_pylist())
    out = []
    for day in unique:
        part = rows if len(unique) == 1 else rows.filter(pc.equal(days, day))
        n = part.num_rows
        arrays = [part.column(f.name) for f in ROW_FIELDS]
        arrays.append(pa.array([source_file] * n, pa.string()))
        arrays.append(part.column("source_line"))
        arrays.append(pa.array([ingest_id] * n, pa.string()))
        out.append((day_of(day * _DAY_US),
                    pa.Table.from_arrays(arrays, schema=REQUEST_SCHEMA).combine_chunks()))
    return out


def rows_by_date(rows: list[tuple]) -> dict[str, list[int]]:
    """Row indexes grouped by the UTC day of their timestamp, days in order."""
    groups: dict[str, list[int]] = defaultdict(list)
    for i, row in enumerate(rows):
        groups[day_of(row[_TS_COL])].append(i)
    return dict(sorted(groups.items()))


def account_of(row: tuple) -> str:
    return row[_ACCOUNT_COL]


def quarantine_table(parsed: ParsedBatch, source_file: str, ingest_id: str) -> pa.Table:
    """Bad records of one batch, verbatim, with file, line and reason (QUARANTINE_SCHEMA)."""
    n = len(parsed.bad_raw)
    now = datetime.now(UTC)
    return pa.Table.from_arrays([
        pa.array([source_file] * n, pa.string()),
        pa.array(parsed.bad_lines, pa.int64()),
        pa.array(parsed.bad_reasons, pa.string()),
        pa.array(parsed.bad_raw, pa.binary()),
        pa.array([ingest_id] * n, pa.string()),
        pa.array([now] * n, pa.timestamp("us", tz="UTC")),
    ], schema=QUARANTINE_SCHEMA)
