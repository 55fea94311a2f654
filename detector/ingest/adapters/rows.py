"""Record sources for non-JSONL inputs: CSV, Parquet and whole-file JSON documents.

Each source yields :class:`~detector.ingest.sources.LineBatch` objects whose ``lines`` are the
JSON encoding of one input record (a CSV row as ``{header: value}``, a Parquet row, an element
of a top-level JSON array), so adapters map every input the same way and the quarantine keeps
the record in a readable form. ``end_offset`` counts records consumed (the resume point).
"""

from __future__ import annotations

import csv
import io
import json
import math
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import ijson
import orjson
import pyarrow.parquet as pq
import zstandard

from detector.ingest.sources import LineBatch, LineReader, open_stream

csv.field_size_limit(1 << 30)


def _json(value: object) -> bytes:
    return orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS)


class _RecordSource:
    """Base: skip ``offset`` records, batch the rest; subclasses yield (line_no, bytes)."""

    def __init__(self, path: Path, offset: int = 0, line: int = 0) -> None:
        self.path, self.offset, self.line = Path(path), offset, line
        self.warnings: list[str] = []
        self.bytes_read = 0

    def records(self) -> Iterator[tuple[int, bytes]]:
        raise NotImplementedError

    def batches(self, max_lines: int = 20_000, max_bytes: int = 32 << 20) -> Iterator[LineBatch]:
        batch, size, consumed = None, 0, 0
        for line_no, raw in self.records():
            consumed += 1
            if consumed <= self.offset:
                continue
            if batch is None:
                batch, size = LineBatch([], line_no, consumed, numbers=[]), 0
            batch.lines.append(raw)
            batch.numbers.append(line_no)  # type: ignore[union-attr]
            batch.end_offset = consumed
            size += len(raw)
            if len(batch.lines) >= max_lines or size >= max_bytes:
                yield batch
                batch = None
        if batch is not None:
            yield batch
        self.bytes_read = self.path.stat().st_size


class CsvSource(_RecordSource):
    """CSV with a header row; quoted fields may span lines. Line numbers are physical lines."""

    def records(self) -> Iterator[tuple[int, bytes]]:
        with open_stream(self.path) as raw:
            text = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="replace", newline="")
            reader = csv.reader(text)
            try:
                header = next(reader)
            except StopIteration:
                return
            start = reader.line_num + 1
            try:
                for row in reader:
                    if not any(row):
                        start = reader.line_num + 1
                        continue
                    rec = dict(zip(header, row, strict=False))
                    if len(row) > len(header):
                        rec["_extra_columns"] = row[len(header):]
                    yield start, _json(rec)
                    start = reader.line_num + 1
            except (csv.Error, EOFError, OSError) as exc:
                self.warnings.append(f"csv_error: {exc}")


class ParquetSource(_RecordSource):
    """Rows of a Parquet file; the line number is the 1-based row number."""

    def records(self) -> Iterator[tuple[int, bytes]]:
        n = 0
        for batch in pq.ParquetFile(self.path).iter_batches(batch_size=8192):
            for row in batch.to_pylist():
                n += 1
                yield n, _json(row)


class JsonDocumentSource(_RecordSource):
    """A file holding one JSON document: a top-level array yields its elements, an object
    yields itself; JSON Lines files are read line by line instead.

    Arrays are streamed (``ijson``, C backend): a first pass checks that every element reads,
    a second yields them, one element in memory at a time, so memory does not grow with the
    file. A document that is not valid JSON is read line by line instead (each bad line
    quarantined), as before. A top-level object is one record and is read whole (memory ~ its
    size).
    """

    #: Check that every element of an array reads before yielding any (the first pass above).
    #: A reader that only looks at the first elements (``detector.ingest.readable``) turns it
    #: off rather than parse the whole document an extra time.
    validate = True

    def records(self) -> Iterator[tuple[int, bytes]]:
        with open_stream(self.path) as fh:
            head = fh.read(1 << 16)
            first = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
            if first not in (b"[", b"{") or _looks_like_jsonl(head):
                yield from _lines(self.path, self.warnings)
                return
            if first == b"{":
                data = head + fh.read()
        if first == b"[":
            readable = not self.validate or self._valid()
            yield from self._array() if readable else _lines(self.path, self.warnings)
            return
        try:
            doc = orjson.loads(data.lstrip(b"\xef\xbb\xbf"))
        except orjson.JSONDecodeError:
            yield from _lines(self.path, self.warnings)
            return
        yield 1, _json(doc)

    def _valid(self) -> bool:
        """Whether the second pass will read every element (one element built at a time)."""
        try:
            with open_stream(self.path) as fh:
                for _ in ijson.items(_skip_bom(fh), "item", use_float=True):
                    pass
        except _READ_ERRORS:
            return False
        return True

    def _array(self) -> Iterator[tuple[int, bytes]]:
        n = 0
        try:
            with open_stream(self.path) as fh:
                for item in ijson.items(_skip_bom(fh), "item", use_float=True):
                    n += 1
                    yield n, _element_json(item)
        except _READ_ERRORS as exc:  # the file changed between the two passes
            self.warnings.append(f"json_document_error: after element {n}: {str(exc)[:200]}")


_READ_ERRORS = (ijson.JSONError, ijson.IncompleteJSONError, ValueError, UnicodeError,
                EOFError, OSError, zlib.error, zstandard.ZstdError)


def _skip_bom(fh: BinaryIO) -> BinaryIO:
    stream = fh if hasattr(fh, "peek") else io.BufferedReader(fh)  # type: ignore[arg-type]
    if stream.peek(3)[:3] == b"\xef\xbb\xbf":  # type: ignore[attr-defined]
        stream.read(3)
    return stream


def _element_json(item: object) -> bytes:
    """JSON of one array element as ``orjson.loads`` of the whole document would give it.

    Values orjson would reject (integers beyond 64 bits, non-finite numbers) keep the
    standard library's spelling, so the record reader quarantines the element as invalid
    JSON instead of storing a changed value.
    """
    try:
        out = _json(item)
    except (orjson.JSONEncodeError, TypeError):
        return _stdlib_json(item)
    if b"null" in out and _has_nonfinite(item):  # orjson writes inf and nan as null
        return _stdlib_json(item)
    return out


def _stdlib_json(item: object) -> bytes:
    return json.dumps(item, ensure_ascii=False, default=str).encode("utf-8", "surrogatepass")


def _has_nonfinite(obj: object) -> bool:
    stack = [obj]
    while stack:
        v = stack.pop()
        if isinstance(v, float) and not math.isfinite(v):
            return True
        if isinstance(v, dict):
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
    return False


def _looks_like_jsonl(head: bytes) -> bool:
    first_line = head.split(b"\n", 1)[0].strip()
    try:
        orjson.loads(first_line)
    except orjson.JSONDecodeError:
        return False
    return b"\n" in head.strip()


def _lines(path: Path, warnings: list[str]) -> Iterator[tuple[int, bytes]]:
    reader = LineReader(path)
    for batch in reader.batches():
        for i, line in enumerate(batch.lines):
            yield batch.first_line + i, line
    warnings.extend(reader.warnings)


def source_for(path: Path, offset: int = 0, line: int = 0) -> _RecordSource:
    """CSV, Parquet or JSON source chosen from the file's content and name."""
    name = path.name.lower()
    with open(path, "rb") as fh:
        magic = fh.read(4)
    if magic == b"PAR1":
        return ParquetSource(path, offset, line)
    if ".csv" in name or ".tsv" in name:
        return CsvSource(path, offset, line)
    return JsonDocumentSource(path, offset, line)
