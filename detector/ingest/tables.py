"""Arrow tables of canonical rows and quarantine entries, split into daily partitions."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime

import pyarrow as pa

from detector.ingest.parse import ParsedBatch
from detector.ingest.timeparse import day_of
from detector.lake.schema import QUARANTINE_SCHEMA, REQUEST_SCHEMA

#: Columns produced by normalize(); the last three (source_file, source_line, ingest_id) are
#: added per batch.
ROW_FIELDS = list(REQUEST_SCHEMA)[:-3]
_TS_COL = 1
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
