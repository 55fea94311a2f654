"""Where the stored copies of known request ids are, read from the lake (enrichment,
:mod:`detector.ingest.enrich`): three cheap columns of the part files whose row-group
statistics admit an id, then whole rows only of the parts that hold one.

The three columns of a part are kept in the process (up to ``CACHE_ROWS`` rows, least recently
used first out) for as long as the file is the same (size, mtime, inode): each chunk with known
ids looks through the same parts of its day again, and a part is written once (a rewrite by
enrichment is a new file)."""

from __future__ import annotations

import bisect
from collections import OrderedDict
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from detector.ingest.config import IngestHome


def stored_heads(settings: IngestHome, wanted: dict[str, str]
                 ) -> dict[str, tuple[Path, object, str]]:
    """(part file, ts, account_id) of each request id in ``wanted`` (id -> the day to look
    first, then the nearest days), read from three cheap columns of the parts whose request_id
    statistics admit it."""
    found: dict[str, tuple[Path, object, str]] = {}
    if not wanted:
        return found
    root = settings.requests_dir
    first_days = sorted(set(wanted.values()))
    other = sorted((p.name[5:] for p in root.glob("date=*") if p.name[5:] not in first_days),
                   key=lambda d: min(abs(_ordinal(d) - _ordinal(f)) for f in first_days))
    for day in [*first_days, *other]:
        todo = sorted(i for i in wanted if i not in found)
        if not todo:
            break
        look = pa.array(todo, pa.string())
        for part in sorted((root / f"date={day}").glob("*.parquet")):
            if part.name.startswith("."):
                continue
            heads = _heads(part, todo)
            if heads is None:
                continue
            hit = heads.filter(pc.is_in(heads.column("request_id"), value_set=look))
            for rid, ts, acct in zip(*(hit.column(c).to_pylist() for c in hit.column_names),
                                     strict=True):
                found.setdefault(rid, (part, ts, acct))
    return found


#: Rows of part heads (request_id, ts, account_id) kept between lookups, per process.
CACHE_ROWS = 1_000_000
_CACHE: OrderedDict[Path, tuple[tuple[int, int, int], pa.Table]] = OrderedDict()


def _heads(part: Path, todo: list[str]) -> pa.Table | None:
    """The three columns of ``part`` (cached), or None when its statistics rule out ``todo``
    (or it is gone)."""
    try:
        st = part.stat()
    except FileNotFoundError:
        return None
    key = (st.st_size, st.st_mtime_ns, st.st_ino)
    cached = _CACHE.get(part)
    if cached is not None and cached[0] == key:
        _CACHE.move_to_end(part)
        return cached[1]
    if not _may_hold(part, todo):
        return None
    heads = pq.read_table(part, columns=["request_id", "ts", "account_id"])
    _CACHE[part] = (key, heads)
    rows = sum(t.num_rows for _, t in _CACHE.values())
    while rows > CACHE_ROWS and len(_CACHE) > 1:
        rows -= _CACHE.popitem(last=False)[1][1].num_rows
    return heads


def stored_rows(heads: dict[str, tuple[Path, object, str]], rids: set[str]
                 ) -> dict[str, tuple[Path, dict]]:
    """(part file, whole row) of each of ``rids`` (found by :func:`stored_heads`)."""
    by_part: dict[Path, list[str]] = {}
    for rid in rids:
        by_part.setdefault(heads[rid][0], []).append(rid)
    out = {}
    for part, ids in by_part.items():
        for row in pq.read_table(part, filters=[("request_id", "in", ids)]).to_pylist():
            out.setdefault(row["request_id"], (part, row))
    return out


def _ordinal(day: str) -> int:
    try:
        return date.fromisoformat(day).toordinal()
    except ValueError:
        return 0


def _may_hold(part: Path, todo: list[str]) -> bool:
    """Whether a row group's request_id min/max statistics admit one of ``todo`` (sorted);
    True when the file has no statistics."""
    try:
        meta = pq.ParquetFile(part).metadata
        col = meta.schema.names.index("request_id")
        for g in range(meta.num_row_groups):
            stats = meta.row_group(g).column(col).statistics
            if stats is None or not stats.has_min_max:
                return True
            k = bisect.bisect_left(todo, stats.min)
            if k < len(todo) and todo[k] <= stats.max:
                return True
        return False
    except (OSError, ValueError):
        return True
