"""What a file is made of, judged from its structure: the container and its first records.

Grain: one :class:`Sample` per input file, built once before the file is read. ``container``
says how records are laid out (JSON Lines, one JSON document holding an array or an object,
CSV/TSV with a header, Parquet); ``records`` holds the first records as parsed values. Format
detection (:func:`detector.ingest.formats.detect`) looks only at the *keys and value types* of
these records, never at substrings of the raw bytes, so no prompt text can change how a file is
read.

The container is decided by content, not by the file name: Parquet by its magic bytes; JSON when
the first non-blank character opens an object or array (an object on the first line that parses
alone means JSON Lines); CSV/TSV when the first line splits into at least two named columns on a
comma or a tab. Anything else is read as JSON Lines (its lines will say what is wrong with them).
"""

from __future__ import annotations

import csv
import io
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import ijson
import orjson
import pyarrow.parquet as pq
import zstandard

from detector.ingest.sources import LineReader, open_stream, read_head

#: Records looked at to detect a format.
SAMPLE_RECORDS = 50

_READ_ERRORS = (ijson.JSONError, ijson.IncompleteJSONError, ValueError, UnicodeError, EOFError,
                OSError, zlib.error, zstandard.ZstdError)


@dataclass(frozen=True)
class Sample:
    """The container of one file and its first records (JSON values; CSV rows as dicts)."""

    path: Path
    container: str  # "jsonl" | "json-array" | "json-object" | "csv" | "tsv" | "parquet"
    records: list[object] = field(default_factory=list)

    def objects(self) -> list[dict]:
        """The sampled records that are JSON objects (rows are objects)."""
        return [r for r in self.records if isinstance(r, dict)]


def _container(path: Path, head: bytes) -> str:
    with open(path, "rb") as fh:
        if fh.read(4) == b"PAR1":
            return "parquet"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    first = text[:1]
    if first == b"[":
        return "json-array"
    if first == b"{":
        line = text.split(b"\n", 1)[0].strip()
        try:
            orjson.loads(line)
        except orjson.JSONDecodeError:
            return "json-object" if b"\n" in text else "jsonl"
        return "jsonl"
    line = text.split(b"\n", 1)[0].decode("utf-8", "replace").rstrip("\r")
    for delim, name in (("\t", "tsv"), (",", "csv")):
        cols = next(csv.reader([line], delimiter=delim), [])
        if len(cols) >= 2 and all(c.strip() for c in cols):
            return name
    return "jsonl"


def _jsonl(path: Path, n: int) -> list[object]:
    out: list[object] = []
    reader = LineReader(path)
    for batch in reader.batches(max_lines=4 * n):
        for i, line in enumerate(batch.lines):
            if i in batch.too_long or not line.strip():
                continue
            try:
                out.append(orjson.loads(line))
            except orjson.JSONDecodeError:
                out.append(None)  # a line that is not JSON: counts, matches no format
            if len(out) >= n:
                return out
        break
    return out


def _json_array(path: Path, n: int) -> list[object]:
    out: list[object] = []
    try:
        with open_stream(path) as fh:
            for item in ijson.items(fh, "item", use_float=True):
                out.append(item)
                if len(out) >= n:
                    break
    except _READ_ERRORS:
        pass
    return out


def _json_object(path: Path) -> list[object]:
    """The top-level object's keys with values of the right type but empty (never built whole:
    an OTLP document can be large)."""
    shape: dict[str, object] = {}
    empty = {"start_map": {}, "start_array": [], "string": "", "number": 0, "boolean": False,
             "null": None}
    try:
        with open_stream(path) as fh:
            events = ijson.parse(fh, use_float=True)
            key = None
            for prefix, event, value in events:
                if prefix == "" and event == "map_key":
                    key = value
                elif key is not None and prefix == key and event in empty:
                    shape[key] = empty[event]
                    key = None
                elif prefix == "" and event == "end_map":
                    break
    except _READ_ERRORS:
        pass
    return [shape] if shape else []


def _rows(path: Path, delim: str, n: int) -> list[object]:
    with open_stream(path) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="replace", newline="")
        reader = csv.DictReader(text, delimiter=delim)
        out: list[object] = []
        try:
            for row in reader:
                out.append(dict(row))
                if len(out) >= n:
                    break
        except (csv.Error, EOFError, OSError, zlib.error, zstandard.ZstdError):
            pass
    return out


def _parquet(path: Path, n: int) -> list[object]:
    pf = pq.ParquetFile(path)
    for batch in pf.iter_batches(batch_size=n):
        return list(batch.to_pylist())
    return [dict.fromkeys(pf.schema_arrow.names)]


def container_of(path: Path) -> str:
    """The container of ``path`` (see the module docstring)."""
    return _container(Path(path), read_head(Path(path)))


def sample(path: Path, n: int = SAMPLE_RECORDS) -> Sample:
    """The container of ``path`` and its first ``n`` records (see the module docstring)."""
    path = Path(path)
    container = _container(path, read_head(path))
    if container == "parquet":
        records = _parquet(path, n)
    elif container == "json-array":
        records = _json_array(path, n)
    elif container == "json-object":
        records = _json_object(path)
    elif container in ("csv", "tsv"):
        records = _rows(path, "\t" if container == "tsv" else ",", n)
    else:
        records = _jsonl(path, n)
    return Sample(path, container, records)


__all__ = ["SAMPLE_RECORDS", "Sample", "container_of", "sample"]
