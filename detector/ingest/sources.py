"""Input files: path expansion, compression by magic bytes, and a streaming line reader.

Grain: the reader yields :class:`LineBatch` objects of at most ``max_lines`` lines / about
``max_bytes`` bytes, each knowing the (decompressed) byte offset just past its last line, so an
interrupted ingest can resume exactly there. Memory is bounded by the batch size and by
``max_line_bytes`` (longer lines are cut to a 1 MiB prefix and marked too long).
"""

from __future__ import annotations

import glob
import hashlib
import io
import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import zstandard

from detector.errors import InputError

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_BLOCK = 1 << 20
_KEEP_OF_LONG_LINE = 1 << 20
_SKIP_NAMES = ("MANIFEST", "README", "LICENSE", "TRUTH")  # simulator ground truth (truth.json)
DATA_SUFFIXES = (".jsonl", ".ndjson", ".json", ".csv", ".parquet", ".gz", ".zst", ".zstd")


def _is_data_file(p: Path) -> bool:
    name = p.name
    if name.startswith((".", "_")) or name.upper().startswith(_SKIP_NAMES):
        return False
    return name.lower().endswith(DATA_SUFFIXES)


def expand_paths(paths: list[str | Path]) -> list[Path]:
    """Files named by ``paths``: files as given, folders recursively, shell globs expanded.

    Order: as given, each folder sorted; duplicates (same resolved file) are dropped.
    Raises InputError naming the first path that matches nothing or cannot be read.
    """
    out: list[Path] = []
    seen: set[Path] = set()
    for raw in paths:
        text = str(raw)
        p = Path(text)
        if p.exists():
            matches = [p]
        elif any(ch in text for ch in "*?["):
            matches = [Path(m) for m in sorted(glob.glob(text, recursive=True))]
            if not matches:
                raise InputError(f"{text}: no file matches this pattern")
        else:
            raise InputError(f"{text}: no such file or folder")
        for m in matches:
            files = sorted(f for f in m.rglob("*") if f.is_file() and _is_data_file(f)) \
                if m.is_dir() else [m]
            for f in files:
                key = f.resolve()
                if key not in seen:
                    seen.add(key)
                    out.append(f)
    for f in out:
        if not os.access(f, os.R_OK) or not f.is_file():
            raise InputError(f"{f}: not a readable file")
    return out


def sniff_compression(path: Path) -> str:
    """'gzip', 'zstd' or 'none', from the first bytes (not the file name)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(4)
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    return "none"


class _Decompressed(io.RawIOBase):
    """Readable stream over a gzip or zstd file that tolerates damage at the end.

    Multi-member gzip and multi-frame zstd are read through. A stream that ends early raises
    EOFError only after every byte decodable before the damage was returned.
    """

    def __init__(self, raw: BinaryIO, kind: str) -> None:
        self.raw, self.kind = raw, kind
        self.dec = self._new()
        self.buf = b""
        self.done = False

    def _new(self) -> object:
        if self.kind == "gzip":
            return zlib.decompressobj(wbits=47)
        return zstandard.ZstdDecompressor().decompressobj()

    def readable(self) -> bool:
        return True

    def _fill(self) -> None:
        while not self.buf and not self.done:
            data = self.raw.read(_BLOCK)
            if not data:
                self.done = True
                if not self.dec.eof:  # type: ignore[attr-defined]
                    raise EOFError("compressed stream ended before its end marker")
                return
            while data:
                if self.dec.eof:  # type: ignore[attr-defined]  # next member or frame
                    self.dec = self._new()
                self.buf += self.dec.decompress(data)  # type: ignore[attr-defined]
                if not self.dec.eof:  # type: ignore[attr-defined]
                    break
                data = self.dec.unused_data  # type: ignore[attr-defined]
                if not data.strip(b"\0"):
                    data = b""  # the finished decoder stays: its eof marks a complete stream

    def readinto(self, b) -> int:  # type: ignore[no-untyped-def]
        data = self.read(len(b))
        b[:len(data)] = data
        return len(data)

    def read(self, n: int = -1) -> bytes:
        if not self.buf:
            self._fill()
        if n < 0 or n >= len(self.buf):
            out, self.buf = self.buf, b""
        else:
            out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def close(self) -> None:
        self.raw.close()
        super().close()


def open_stream(path: Path) -> BinaryIO:
    """A binary stream of the decompressed content of ``path`` (gzip/zstd by magic bytes)."""
    kind = sniff_compression(path)
    raw = open(path, "rb")  # noqa: SIM115 - returned to the caller, who closes it
    if kind == "none":
        return raw
    return _Decompressed(raw, kind)  # type: ignore[return-value]


def file_sha256(path: Path) -> str:
    """Hex sha256 of the file's bytes as stored (compressed files are hashed compressed)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(4 * _BLOCK):
            h.update(block)
    return h.hexdigest()


def read_head(path: Path, n: int = 65536) -> bytes:
    """Up to ``n`` decompressed bytes from the start of ``path`` (for format detection)."""
    with open_stream(path) as fh:
        try:
            return fh.read(n)
        except (EOFError, OSError, zlib.error, zstandard.ZstdError):
            return b""


@dataclass
class LineBatch:
    """Consecutive lines of one file.

    ``first_line`` is the 1-based number of ``lines[0]``; ``end_offset`` the decompressed byte
    offset just after the last line; ``too_long`` holds indexes of lines cut because they
    exceeded the limit; ``unterminated`` is True when the last line had no newline (end of
    file or truncated stream); ``numbers``, when set, gives each record's own line number.
    """

    lines: list[bytes]
    first_line: int
    end_offset: int
    too_long: dict[int, int] = field(default_factory=dict)
    unterminated: bool = False
    numbers: list[int] | None = None

    def line_no(self, i: int) -> int:
        """Line number of ``lines[i]`` (explicit ``numbers`` for multi-line records, e.g. CSV)."""
        return self.numbers[i] if self.numbers is not None else self.first_line + i


class LineReader:
    """Streams the lines of a (possibly compressed) file in bounded batches.

    ``warnings`` collects stream problems (a gzip/zstd stream that ends early or is corrupt):
    the lines before the damage are read normally, the partial last line is returned as an
    unterminated line, and reading stops.
    """

    def __init__(self, path: Path, start_offset: int = 0, start_line: int = 0,
                 max_line_bytes: int = 64 << 20) -> None:
        self.path = Path(path)
        self.offset = start_offset
        self.line_no = start_line
        self.max_line_bytes = max_line_bytes
        self.warnings: list[str] = []
        self.bytes_read = 0

    def _skip(self, fh: BinaryIO) -> None:
        if not self.offset:
            return
        if not isinstance(fh, _Decompressed):
            fh.seek(self.offset)
            return
        left = self.offset
        while left:
            got = fh.read(min(left, 4 * _BLOCK))
            if not got:
                raise InputError(f"{self.path}: shorter than the recorded resume offset")
            left -= len(got)

    @staticmethod
    def _raw_pos(fh: BinaryIO) -> int:
        """Bytes of the file on disk consumed so far (compressed bytes for gzip/zstd)."""
        try:
            return (fh.raw if isinstance(fh, _Decompressed) else fh).tell()
        except (OSError, ValueError):
            return 0

    def _blocks(self, fh: BinaryIO) -> Iterator[bytes]:
        while True:
            try:
                block = fh.read(_BLOCK)
            except EOFError as exc:
                self.warnings.append(f"truncated_stream: {exc}")
                return
            except (OSError, zlib.error, zstandard.ZstdError) as exc:
                self.warnings.append(f"corrupt_stream: {exc}")
                return
            if not block:
                return
            self.bytes_read = self._raw_pos(fh)
            yield block

    def batches(self, max_lines: int = 20_000, max_bytes: int = 32 << 20) -> Iterator[LineBatch]:
        """Yield batches of lines from the resume point to the end of the stream.

        A batch ends after ``max_lines`` lines or once its lines hold ``max_bytes`` bytes.
        Each block is split at its newlines in one call; the lines of a block are added in
        runs, one by one only around a line longer than ``max_line_bytes``."""
        with open_stream(self.path) as fh:
            self._skip(fh)
            batch = LineBatch([], self.line_no + 1, self.offset)
            size = 0
            pieces: list[bytes] = []
            plen = 0
            for block in self._blocks(fh):
                lines = block.split(b"\n")
                rest = lines.pop()  # after the block's last newline: a partial line
                if lines:
                    sizes = list(map(len, lines))
                    lens = sizes.copy()
                    if pieces:  # the first line began in an earlier block
                        lens[0] = plen + sizes[0]
                        if plen < self.max_line_bytes:
                            pieces.append(lines[0])
                        lines[0] = b"".join(pieces)
                        sizes[0] = len(lines[0])
                        pieces, plen = [], 0
                    i = 0
                    while i < len(lines):
                        j, full = self._take(batch, lines, sizes, lens, i, size,
                                             max_lines, max_bytes)
                        size += sum(sizes[i:j])
                        i = j
                        if full:
                            yield batch
                            batch, size = LineBatch([], self.line_no + 1, self.offset), 0
                if rest:
                    if plen < self.max_line_bytes:
                        pieces.append(rest[: max(0, self.max_line_bytes + 1 - plen)])
                    plen += len(rest)
            if pieces and plen:
                line = b"".join(pieces)
                self._add(batch, line, plen, newline=False)
                batch.unterminated = True
            if batch.lines:
                yield batch

    def _take(self, batch: LineBatch, lines: list[bytes], sizes: list[int], lens: list[int],
              i: int, size: int, max_lines: int, max_bytes: int) -> tuple[int, bool]:
        """Add ``lines[i:j]`` to ``batch``, as many as fit; (j, whether the batch is full).

        ``sizes``: bytes of each line as given; ``lens``: its length in the file (differs for
        a line cut because it ran over ``max_line_bytes``)."""
        j = min(len(lines), i + max_lines - len(batch.lines))
        total = size
        for k in range(i, j):  # the line at which max_bytes is reached ends the batch
            total += sizes[k]
            if total >= max_bytes:
                j = k + 1
                break
        if max(lens[i:j]) > self.max_line_bytes:
            for k in range(i, j):
                self._add(batch, lines[k], lens[k])
        else:
            batch.lines.extend(lines[i:j])
            self.line_no += j - i
            self.offset += sum(lens[i:j]) + (j - i)
            batch.end_offset = self.offset
        return j, len(batch.lines) >= max_lines or total >= max_bytes

    def _add(self, batch: LineBatch, line: bytes, line_len: int, newline: bool = True) -> None:
        if line_len > self.max_line_bytes:
            batch.too_long[len(batch.lines)] = line_len
            line = line[:_KEEP_OF_LONG_LINE]
        batch.lines.append(line)
        self.line_no += 1
        self.offset += line_len + (1 if newline else 0)
        batch.end_offset = self.offset
