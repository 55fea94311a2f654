"""One JSONL file per day, records shuffled within the day, written atomically.

Lines are packed per day into one ``bytearray`` with an offsets array (a few bytes of overhead
per line instead of a Python object each). When all buffers together pass ``spill_bytes``, the
largest day is scattered at random into bucket files on disk (an external shuffle), so memory
stays bounded at any scale. On close each bucket is shuffled in memory and appended to the
day's file.
"""

from __future__ import annotations

import gzip as gzip_mod
import shutil
from array import array
from pathlib import Path
from typing import BinaryIO

import numpy as np

from detector.lake.io import atomic_path

BUCKETS = 16


class _Day:
    """Packed lines of one day: ``data[offs[i]:offs[i+1]]`` is line i (no newline)."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.offs = array("q", [0])
        self.count = 0
        self.buckets: list[BinaryIO] | None = None

    def lines(self) -> list[memoryview]:
        mv = memoryview(self.data)
        o = self.offs
        return [mv[o[i]:o[i + 1]] for i in range(len(o) - 1)]

    def reset(self) -> None:
        self.data = bytearray()
        self.offs = array("q", [0])


class DayWriter:
    """Collects serialised records (bytes without newline) per day index."""

    def __init__(self, out_dir: Path, dates: list[str], gzip: bool, rng: np.random.Generator,
                 spill_bytes: int = 384 * 2**20) -> None:
        self.out_dir = Path(out_dir)
        self.dates = dates
        self.gzip = gzip
        self.rng = rng
        self.spill_bytes = spill_bytes
        self.days = [_Day() for _ in dates]
        self.buffered = 0
        self.spill_dir = self.out_dir / ".spill"

    @property
    def counts(self) -> list[int]:
        return [d.count for d in self.days]

    def add(self, day: int, line: bytes) -> None:
        d = self.days[day]
        d.data += line
        d.offs.append(len(d.data))
        d.count += 1
        self.buffered += len(line)
        if self.buffered >= self.spill_bytes:
            self._spill(max(range(len(self.days)), key=lambda i: len(self.days[i].data)))

    def _spill(self, day: int) -> None:
        d = self.days[day]
        if d.buckets is None:
            self.spill_dir.mkdir(parents=True, exist_ok=True)
            # bucket files stay open across add() calls; close() closes them
            d.buckets = [open(self.spill_dir / f"{day}-{b}.jsonl", "wb")  # noqa: SIM115
                         for b in range(BUCKETS)]
        lines = d.lines()
        which = self.rng.integers(0, BUCKETS, size=len(lines))
        for b in range(BUCKETS):
            idx = np.flatnonzero(which == b).tolist()
            if idx:
                d.buckets[b].write(b"\n".join([lines[i] for i in idx]) + b"\n")
        del lines
        self.buffered -= len(d.data)
        d.reset()

    def path_for(self, day: int) -> Path:
        name = f"requests-{self.dates[day]}.jsonl" + (".gz" if self.gzip else "")
        return self.out_dir / name

    def _write_lines(self, fh: BinaryIO, lines: list) -> None:
        if lines:
            order = self.rng.permutation(len(lines)).tolist()
            fh.write(b"\n".join([lines[i] for i in order]) + b"\n")

    def _write_day(self, day: int, fh: BinaryIO) -> None:
        d = self.days[day]
        if d.buckets is None:
            self._write_lines(fh, d.lines())
            return
        self._spill(day)
        for b, bfh in enumerate(d.buckets):
            bfh.close()
            path = self.spill_dir / f"{day}-{b}.jsonl"
            self._write_lines(fh, path.read_bytes().splitlines())
            path.unlink()

    def close(self) -> list[Path]:
        """Shuffle and write every day's file; returns the paths of days with records."""
        paths = []
        for day, d in enumerate(self.days):
            if d.count == 0:
                continue
            target = self.path_for(day)
            with atomic_path(target) as tmp, open(tmp, "wb") as raw:
                if self.gzip:
                    with gzip_mod.GzipFile(fileobj=raw, mode="wb", compresslevel=3, mtime=0) as gz:
                        self._write_day(day, gz)  # type: ignore[arg-type]
                else:
                    self._write_day(day, raw)
            self.buffered -= len(d.data)
            d.reset()
            paths.append(target)
        if self.spill_dir.exists():
            shutil.rmtree(self.spill_dir, ignore_errors=True)
        return paths
