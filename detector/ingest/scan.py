"""Compiled fast path: native lines of the common shape straight to Arrow columns.

Grain: a list of raw native JSONL lines in; an Arrow table of the canonical rows of the lines
the scanner accepts (``ROW_FIELDS`` columns) and those lines' indexes out. The other lines are
*declined*, never judged: the caller parses them in Python (``fast_row``, then ``normalize``),
which decides. The scanner is the C extension ``detector.ingest._scan`` (``_scan.c``), built by
``pip install`` when a C compiler is present; without it :data:`AVAILABLE` is False and ingest
runs the Python path only, with the same results.

Contract (``tests/ingest/test_scan.py``, on realistic, hostile and fuzzed corpora): every row
the scanner builds equals ``fast_row(orjson.loads(line), limits)``, hence
``normalize(...)``; it accepts only what that path would accept without an ingest flag.

Why it is faster: one pass over the bytes per line, no Python object per field or per record,
the request and response re-encoded (as ``orjson.dumps`` would) while they are parsed, blake2b
in C, and columns built as Arrow buffers. Two values stay in Python for the rows that need
them: the prompt hash of non-ASCII prompts (Unicode lower-casing and whitespace) and the
network prefix of addresses other than dotted IPv4.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from detector.ingest import idstore, parse
from detector.ingest.fastpath import cached_ip_prefix, fast_prompt_hash
from detector.ingest.normalize import Limits
from detector.ingest.parse import ParsedBatch, RecordReader, native_records, parse_batch
from detector.ingest.sources import LineBatch
from detector.ingest.tables import with_table
from detector.lake.schema import REQUEST_SCHEMA

try:
    from detector.ingest import _scan  # type: ignore[attr-defined]
except ImportError:  # no compiler at install time: the Python path does everything
    _scan = None

#: Columns the scanner builds: the canonical row without the source columns.
ROW_FIELDS = list(REQUEST_SCHEMA)[:-3]
_STR, _I64, _I32, _F64, _BOOL = range(5)


def _kind(t: pa.DataType) -> int:
    """The scanner's buffer kind for a lake column type."""
    if pa.types.is_string(t):
        return _STR
    if pa.types.is_timestamp(t) or pa.types.is_int64(t):
        return _I64
    if pa.types.is_int32(t):
        return _I32
    if pa.types.is_float64(t):
        return _F64
    if pa.types.is_boolean(t):
        return _BOOL
    raise TypeError(f"no scanner kind for lake column type {t}")


#: The one declaration of the row is ``REQUEST_SCHEMA``; the scanner's own table must equal it.
EXPECTED_COLUMNS = tuple((f.name, _kind(f.type)) for f in ROW_FIELDS)


def table_mismatch(columns: object) -> str | None:
    """Why a compiled scanner's ``COLUMNS`` table differs from ``REQUEST_SCHEMA`` (None if equal)."""
    if columns is None:
        return "the compiled scanner has no COLUMNS table (built from an older _scan.c)"
    got = tuple(tuple(c) for c in columns)  # type: ignore[union-attr]
    for i, (want, have) in enumerate(zip(EXPECTED_COLUMNS, got, strict=False)):
        if want != have:
            return f"column {i}: REQUEST_SCHEMA has {want}, the scanner {have}"
    if len(got) != len(EXPECTED_COLUMNS):
        return f"REQUEST_SCHEMA has {len(EXPECTED_COLUMNS)} scanner columns, the scanner {len(got)}"
    return None


#: Why the compiled scanner is not used although it imports (None when it is usable). Ingest
#: then runs the Python path, with the same results; rebuild with ``pip install -e .``.
MISMATCH = table_mismatch(getattr(_scan, "COLUMNS", None)) if _scan is not None else None
#: The compiled scanner is importable and builds exactly the declared row.
AVAILABLE = _scan is not None and MISMATCH is None
#: Tests switch the scanner off to compare both paths; results are identical by contract.
ENABLED = True
_PROMPT_HASH = [f.name for f in ROW_FIELDS].index("prompt_hash")
_PROMPT = [f.name for f in ROW_FIELDS].index("prompt_text")
_IP_PREFIX = [f.name for f in ROW_FIELDS].index("ip_prefix")
_CLIENT_IP = [f.name for f in ROW_FIELDS].index("client_ip")


def usable(limits: Limits) -> bool:
    """Whether the scanner may be used: built, enabled, and bodies kept as they are."""
    return AVAILABLE and ENABLED and not limits.redact_bodies


def _bitmap(flags: np.ndarray) -> pa.Buffer:
    return pa.py_buffer(np.packbits(flags, bitorder="little"))


def _array(field: pa.Field, n: int, kind: int, valid: bytes, offsets: bytes | None,
           data: bytes) -> pa.Array:
    ok = np.frombuffer(valid, np.uint8).view(bool)
    nulls = int(n - np.count_nonzero(ok))
    bitmap = _bitmap(ok) if nulls else None
    if kind == _STR:
        return pa.Array.from_buffers(field.type, n, [bitmap, pa.py_buffer(offsets),
                                                     pa.py_buffer(data)], nulls)
    if kind == _BOOL:
        values = _bitmap(np.frombuffer(data, np.uint8).view(bool))
        return pa.Array.from_buffers(field.type, n, [bitmap, values], nulls)
    return pa.Array.from_buffers(field.type, n, [bitmap, pa.py_buffer(data)], nulls)


def _fix(arrays: list[pa.Array], col: int, rows: bytes, source: int, fn) -> None:
    """Fill ``arrays[col]`` at ``rows`` (int64 indexes) with ``fn`` of ``arrays[source]``."""
    idx = np.frombuffer(rows, np.int64)
    if not len(idx):
        return
    values = [fn(x) for x in arrays[source].take(pa.array(idx)).to_pylist()]
    mask = np.zeros(len(arrays[col]), bool)
    mask[idx] = True
    arrays[col] = pc.replace_with_mask(arrays[col], pa.array(mask),
                                       pa.array(values, pa.string()))


def scan_lines(lines: list[bytes], limits: Limits) -> tuple[pa.Table, np.ndarray]:
    """(table of the accepted lines' rows, their indexes in ``lines``), rows in line order."""
    n, accepted, cols, prompt_fix, ip_fix = _scan.scan(lines, limits.min_ts_us, limits.max_ts_us)
    arrays = [_array(f, n, *c) for f, c in zip(ROW_FIELDS, cols, strict=True)]
    _fix(arrays, _PROMPT_HASH, prompt_fix, _PROMPT, fast_prompt_hash)
    _fix(arrays, _IP_PREFIX, ip_fix, _CLIENT_IP, cached_ip_prefix)
    table = pa.Table.from_arrays(arrays, schema=pa.schema(ROW_FIELDS))
    return table, np.frombuffer(accepted, np.int64)


def parse_to_table(batch: LineBatch, limits: Limits, reader: RecordReader = native_records
                   ) -> ParsedBatch:
    """:func:`~detector.ingest.parse.parse_batch` with every row in ``ParsedBatch.table``.

    Native lines go through the scanner first; the lines it declines (and every line when it
    cannot be used) through ``parse_batch``. Rows stay in line order.
    """
    if not (usable(limits) and parse.FAST_PATH and reader is native_records):
        return with_table(parse_batch(batch, limits, reader))
    with parse.gc_paused():
        return _scan_batch(batch, limits, reader)


def _scan_batch(batch: LineBatch, limits: Limits, reader: RecordReader) -> ParsedBatch:
    n = len(batch.lines)
    if batch.too_long:
        candidates = np.array([i for i in range(n) if i not in batch.too_long], np.int64)
        table, hit = scan_lines([batch.lines[i] for i in candidates], limits)
        hit = candidates[hit]
    else:
        table, hit = scan_lines(batch.lines, limits)
    declined = np.ones(n, bool)
    declined[hit] = False
    rest = with_table(parse_batch(batch, limits, reader, np.flatnonzero(declined).tolist()))
    if batch.numbers is None:
        lines = hit + batch.first_line
    else:
        lines = np.asarray(batch.numbers, np.int64)[hit]
    table = table.append_column("source_line", pa.array(lines, pa.int64()))
    if rest.table.num_rows:
        table = pa.concat_tables([table, rest.table])
        table = table.take(pc.sort_indices(table.column("source_line")))
    rest.table = table
    return rest


def request_id_keys(parsed: ParsedBatch) -> np.ndarray:
    """:func:`detector.ingest.idstore.id_keys` of the batch's request ids, in row order; from
    the Arrow column's buffers when the scanner is built (no Python string per id)."""
    if not AVAILABLE or parsed.table is None:
        return idstore.id_keys(parsed.request_ids())
    ids = parsed.table.column("request_id").combine_chunks()
    if len(ids) == 0:
        return np.zeros((0, 2), np.int64)
    _, offsets, data = ids.buffers()
    raw = _scan.id_keys(offsets, data if data is not None else b"", ids.offset, len(ids))
    return np.frombuffer(raw, dtype="<i8").reshape(-1, 2).astype(np.int64, copy=False)


def blake2b64(data: bytes) -> str:
    """The scanner's blake2b (digest size 8) as hex; tested against ``hashlib``."""
    return _scan.blake2b64(data)
