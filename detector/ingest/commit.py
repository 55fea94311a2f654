"""Crash-safe publication of partition files: stage, commit in the manifest, then rename.

Protocol for one chunk (a batch of one file):

1. the chunk's new request ids (probed against the id store) are written as an id run
   (``detector.ingest.idstore``), and one short SQLite transaction drops the ids another worker
   committed since the probe, lists the run and marks it *reserved*: from then on every worker
   counts these ids as known, so no other worker can store them too;
2. every Parquet file of the chunk is written under ``state/ingest/staging/`` (temporary name,
   fsync, rename: ``detector.lake.io``), outside any lock;
3. one SQLite transaction settles the reservation and stores the counts, resume point and the
   list of (staged, final) paths;
4. the staged files are renamed into the lake (``lake/requests/date=D/``,
   ``lake/quarantine/date=D/``), the folders fsynced, and the chunk marked published.

A crash before 3 leaves staged files and an unlisted or reserved run: :func:`recover` deletes
the files and delists the run (the chunk is read again, its ids probed afresh; a copy another
worker counted as a duplicate of a reserved id meanwhile stays counted, and the re-read chunk
stores the request, so the totals are those of an uninterrupted run). A crash after 3 leaves a
committed chunk, which :func:`recover` finishes renaming. A reader therefore never sees a
partial file, and no request is lost or stored twice. With prompt sampling (privacy mode) the
sample is drawn inside the chunk transaction, so steps 1 to 3 are one transaction there.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import orjson

from detector.errors import InputError
from detector.ingest import idstore
from detector.ingest.config import IngestHome
from detector.ingest.manifest import ingest_state_dir
from detector.lake.io import fsync_dir


def workers_lock_path(settings: IngestHome) -> Path:
    """Lock file that every worker process holds shared for as long as it lives."""
    return ingest_state_dir(settings) / "workers.lock"


@contextmanager
def home_lock(settings: IngestHome) -> Iterator[None]:
    """Exclusive ingest lock on the home (waits for another ingest in the same home).

    After taking it, waits until no worker process of an earlier (killed) ingest is alive:
    workers hold ``workers.lock`` shared and die with their parent (``PR_SET_PDEATHSIG``).
    """
    path = ingest_state_dir(settings) / "ingest.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            with open(workers_lock_path(settings), "a+b") as wl:
                fcntl.flock(wl.fileno(), fcntl.LOCK_EX)
                fcntl.flock(wl.fileno(), fcntl.LOCK_UN)
        except OSError as exc:
            raise InputError(f"{path}: cannot lock ({exc.strerror})") from None
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


_WORKER_LOCK: list = []


def enter_worker(settings_lock: Path) -> None:
    """In a worker process: die with the parent, and hold the workers lock shared."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, 9)  # PR_SET_PDEATHSIG, SIGKILL
    except (OSError, AttributeError):
        pass
    if os.getppid() == 1:  # the parent died before prctl took effect
        os._exit(1)
    fh = open(settings_lock, "a+b")  # noqa: SIM115 - held until the process exits
    fcntl.flock(fh.fileno(), fcntl.LOCK_SH)
    _WORKER_LOCK.append(fh)


def staging_dir(settings: IngestHome) -> Path:
    return ingest_state_dir(settings) / "staging"


def encode_parts(settings: IngestHome, parts: list[tuple[Path, Path]]) -> str:
    """JSON list of (staged, final) paths relative to the home."""
    home = settings.home
    return orjson.dumps([[str(s.relative_to(home)), str(f.relative_to(home))]
                         for s, f in parts]).decode()


def publish(settings: IngestHome, parts: list[tuple[Path, Path]]) -> None:
    """Rename staged files onto their final names (idempotent) and fsync the folders."""
    folders = set()
    for staged, final in parts:
        if staged.exists():
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staged, final)
            folders.add(final.parent)
    for folder in folders:
        fsync_dir(folder)


def mark_published(con: sqlite3.Connection, file_id: int, seq: int) -> None:
    con.execute("UPDATE chunks SET published = 1 WHERE file_id = ? AND seq = ?", (file_id, seq))


def recover(settings: IngestHome, con: sqlite3.Connection) -> int:
    """Finish committed chunks and discard uncommitted staging; returns chunks rolled forward.

    Call only while holding :func:`home_lock`.
    """
    home = settings.home
    pending = con.execute(
        "SELECT file_id, seq, parts_json FROM chunks WHERE published = 0").fetchall()
    for file_id, seq, parts_json in pending:
        parts = [(home / s, home / f) for s, f in orjson.loads(parts_json)]
        publish(settings, parts)
        mark_published(con, file_id, seq)
    shutil.rmtree(staging_dir(settings), ignore_errors=True)
    for root in (settings.requests_dir, settings.quarantine_dir):
        if root.exists():
            for tmp in root.glob("**/.*.tmp"):
                tmp.unlink(missing_ok=True)
    idstore.release_all(con)
    runs = idstore.folder_of(ingest_state_dir(settings))
    idstore.remove_unlisted(con, runs)
    idstore.migrate_seen_tables(con, idstore.IdStore(runs))
    return len(pending)
