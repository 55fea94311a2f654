"""Atomic file writes: write to a temporary name in the same folder, fsync, rename."""

from __future__ import annotations

import os
import tempfile
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq


def fsync_dir(path: Path) -> None:
    """fsync a folder so a rename inside it survives a crash (no-op where unsupported)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


_umask_lock = threading.Lock()


def current_umask() -> int:
    """The process umask (read from /proc where it can be, so no thread sees it changed)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    with _umask_lock:
        mask = os.umask(0o077)
        os.umask(mask)
    return mask


@contextmanager
def atomic_path(target: Path, mode: int | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success fsync it and rename onto target.

    ``mode`` (default: 0666 minus the umask, as ``open`` would make it; the settings make the
    umask owner-only, docs/security.md) is applied before the rename (mkstemp makes 0600)."""
    if mode is None:
        mode = 0o666 & ~current_umask()
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp_path, mode)
        os.replace(tmp_path, target)
        fsync_dir(target.parent)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_text_atomic(target: Path, text: str) -> None:
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_bytes_atomic(target: Path, data: bytes) -> None:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def write_parquet_atomic(target: Path, table: pa.Table, compression: str = "zstd",
                         **options: object) -> None:
    """``options``: further ``pyarrow.parquet.write_table`` keywords."""
    with atomic_path(target) as tmp:
        pq.write_table(table, tmp, compression=compression, **options)


#: How the hidden folders of :func:`scratch_folder` begin: Spark scratch, disposable (a crashed
#: run may leave one behind).
SCRATCH_PREFIX = ".spark-"


def scratch_folder(store: Path) -> Path:
    """A fresh hidden folder (``.spark-<hex>``) in ``store``, a folder of ``date=D`` folders:
    date-partition readers (``date=*`` globs) and pruning skip it. Where the driver leaves a
    scratch file for the executors to read (``lake.spark.sent_view``), or executors write files
    (:func:`hidden_folder`); its user removes it. Not for a folder a DuckDB view reads with
    ``**/*.parquet`` (``lake.db.register_parquet_view``): that glob reads hidden folders too."""
    folder = Path(store) / f"{SCRATCH_PREFIX}{uuid.uuid4().hex}"
    folder.mkdir(parents=True)
    return folder


def hidden_folder(target: Path) -> Path:
    """:func:`scratch_folder` beside ``target``'s ``date=D`` folder: where executors write a
    file that :func:`move_into_place` then moves onto ``target``."""
    return scratch_folder(Path(target).parent.parent)


def move_into_place(part: Path, target: Path, what: str) -> None:
    """Move ``part``, a file another process wrote (a Spark executor, on storage this process
    shares), onto ``target`` atomically: fsynced, given the mode an atomic write gives, renamed,
    the folder fsynced. ``what`` names the stage in the error when ``part`` is not there."""
    part, target = Path(part), Path(target)
    if not part.is_file():
        raise RuntimeError(f"{what}: {part} was reported written but is not there (is "
                           f"{part.parent.parent} on storage the executors share with the driver?)")
    with open(part, "rb+") as fh:
        os.fsync(fh.fileno())
    os.chmod(part, 0o666 & ~current_umask())
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(part, target)
    fsync_dir(target.parent)
