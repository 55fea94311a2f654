"""Raw lines of one file to canonical row tuples and quarantine entries.

Grain: one :class:`~detector.ingest.sources.LineBatch` in, one :class:`ParsedBatch` out. A
*record* is one item read: for the native format one line; an adapter may read several records
from one line (an OTLP export line holds many spans). Every record ends up in exactly one of
``rows`` or ``bad``, so ``read == len(rows) + len(bad)`` for every batch, whatever the input.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import orjson

from detector.ingest.fastpath import fast_row
from detector.ingest.jsonio import decode_object
from detector.ingest.normalize import BadRecord, Limits, normalize
from detector.ingest.sources import LineBatch

#: Try :func:`detector.ingest.fastpath.fast_row` before ``normalize`` (tests switch it off to
#: compare both paths; results are identical by contract).
FAST_PATH = True

#: A record reader: raw line -> [(raw bytes of the record, native record dict or bad reason)].
RecordReader = Callable[[bytes, list[str]], list[tuple[bytes, object]]]


def native_records(raw: bytes, flags: list[str]) -> list[tuple[bytes, object]]:
    """The native format: one JSON object per line."""
    value, reason = decode_object(raw, flags, holder="line")
    return [(raw, reason if value is None else value)]


@dataclass
class ParsedBatch:
    """Rows (canonical tuples without the source columns) and bad records of one batch."""

    rows: list[tuple] = field(default_factory=list)
    row_lines: list[int] = field(default_factory=list)
    bad_lines: list[int] = field(default_factory=list)
    bad_raw: list[bytes] = field(default_factory=list)
    bad_reasons: list[str] = field(default_factory=list)
    #: Set by :func:`detector.ingest.tables.with_table` (parsing in another process): every row
    #: as an Arrow table (ROW_FIELDS columns plus ``source_line``, in line order); ``rows`` and
    #: ``row_lines`` are then empty. Cheaper to send between processes than row tuples.
    table: object = None

    @property
    def n_rows(self) -> int:
        return len(self.rows) + (self.table.num_rows if self.table is not None else 0)

    @property
    def read(self) -> int:
        return self.n_rows + len(self.bad_raw)

    def request_ids(self) -> list[str]:
        """The request id of every row, in row order."""
        if self.table is not None:
            return self.table.column("request_id").to_pylist()
        return [row[0] for row in self.rows]

    def add_bad(self, line_no: int, raw: bytes, reason: str) -> None:
        self.bad_lines.append(line_no)
        self.bad_raw.append(raw)
        self.bad_reasons.append(reason)


def safe_normalize(rec: object, limits: Limits, flags: list[str]) -> tuple | str:
    """normalize() that never raises: a row tuple, or the reason the record is bad."""
    if isinstance(rec, str):
        return rec
    if not isinstance(rec, dict):
        return f"not_an_object: {type(rec).__name__}"
    if FAST_PATH and not flags:
        row = _try_fast(rec, limits)
        if row is not None:
            return row
    try:
        return normalize(rec, limits, flags)
    except BadRecord as exc:
        return str(exc)
    except (RecursionError, MemoryError) as exc:
        return f"unprocessable: {type(exc).__name__}"
    except Exception as exc:  # noqa: BLE001 - a hostile record must never stop an ingest
        return f"unprocessable: {type(exc).__name__}: {str(exc)[:160]}"


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic GC while a batch is parsed: parsed JSON and row tuples hold no cycles, and
    the collector would otherwise rescan the growing batch thousands of times."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _try_fast(rec: dict, limits: Limits) -> tuple | None:
    try:
        return fast_row(rec, limits)
    except Exception:  # noqa: BLE001 - normalize() then decides, with its own error handling
        return None


def _fast_line(raw: bytes, limits: Limits) -> tuple | None:
    """Row of a native line that orjson reads as-is and the fast path accepts, else None."""
    try:
        rec = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return _try_fast(rec, limits) if rec.__class__ is dict else None


def parse_line(raw: bytes, limits: Limits, reader: RecordReader = native_records
               ) -> list[tuple[bytes, tuple | str]]:
    """Every record of one raw line, each as a row tuple or a bad reason. Never raises."""
    try:
        items = reader(raw, flags := [])
    except Exception as exc:  # noqa: BLE001
        return [(raw, f"unprocessable: {type(exc).__name__}: {str(exc)[:160]}")]
    out: list[tuple[bytes, tuple | str]] = []
    for item_raw, rec in items:
        out.append((item_raw, safe_normalize(rec, limits, list(flags))))
    return out


def parse_batch(batch: LineBatch, limits: Limits, reader: RecordReader = native_records,
                only: Sequence[int] | None = None) -> ParsedBatch:
    """Parse every line of ``batch`` (or the lines at indexes ``only``, in that order); see the
    module docstring for the invariant."""
    with gc_paused():
        return _parse_lines(batch, limits, reader, only)


def _parse_lines(batch: LineBatch, limits: Limits, reader: RecordReader,
                 only: Sequence[int] | None) -> ParsedBatch:
    out = ParsedBatch()
    last = len(batch.lines) - 1
    fast_lines = FAST_PATH and reader is native_records
    lines = batch.lines
    for i in range(len(lines)) if only is None else only:
        raw = lines[i]
        line_no = batch.line_no(i)
        if i in batch.too_long:
            out.add_bad(line_no, raw, f"line_too_long: {batch.too_long[i]} bytes (first 1 MiB kept)")
            continue
        if fast_lines:
            row = _fast_line(raw, limits)
            if row is not None:
                out.rows.append(row)
                out.row_lines.append(line_no)
                continue
        for item_raw, result in parse_line(raw, limits, reader):
            if isinstance(result, tuple):
                out.rows.append(result)
                out.row_lines.append(line_no)
            else:
                if i == last and batch.unterminated and result.startswith("invalid_json"):
                    result = "truncated_last_line: " + result
                out.add_bad(line_no, item_raw, result)
    return out
