"""The store of accepted request ids: immutable sorted runs on disk, listed in the manifest.

Grain: one accepted ``request_id``, as its 128-bit blake2b read as two little-endian int64
(:func:`id_keys`; the values the former ``seen`` table held).

Why runs and not a SQLite table: 128-bit hashes are random keys, so every insert lands on a
different B-tree page and each chunk's commit rewrote most of the table through the WAL; the
cost per id grew with the ids already stored (8.7 µs per id at 0.5M stored ids, 21.8 at 5M;
``bench/ingest.py --id-store``). A run is written once, sequentially, and probed with a
vectorised binary search, whatever the number of ids stored.

Layout: ``state/ingest/ids/run-<level>-<uuid>.npy``, an int64 array of shape (2, n): row 0 the
first halves, sorted, row 1 the second halves in the same order (pairs that share a first half,
a 64-bit collision, are adjacent). A run a chunk reserves has a third row: the
timestamp (µs) of each id's row, so that another worker decides a re-delivery with another time
while that chunk is still in flight (:meth:`IdStore.in_flight`); merged runs drop it. The
manifest table ``id_runs`` lists the live runs. Crash safety follows the partition protocol
(``detector.ingest.commit``): a run is written, fsynced and renamed *before* the chunk
transaction that lists it commits, so a listed run always exists, and a file that no
transaction listed is the garbage of a crash, deleted by :func:`remove_unlisted` under the
home lock. Runs are never changed; compaction writes a merged run, swaps the listing in one
transaction and deletes the inputs after it (:meth:`IdStore.compact`): when a level holds
``FANOUT`` runs they become one run of the next level, so up to ``MAX_LEVEL`` a probe reads
O(log n) runs and an id is rewritten O(log n) times.
"""

from __future__ import annotations

import hashlib
import sqlite3
import uuid
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from detector.lake.io import atomic_path, fsync_dir

SCHEMA = """
CREATE TABLE IF NOT EXISTS id_runs (
  name TEXT PRIMARY KEY, n INTEGER NOT NULL, level INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS id_reserved (name TEXT PRIMARY KEY) WITHOUT ROWID;
"""
#: ``ts`` of a key that no reserved run holds (:meth:`IdStore.in_flight`).
NO_TS = np.iinfo(np.int64).min
#: Runs of one level merged into one run of the next.
FANOUT = 8
#: Runs of this level are not merged further: a merge holds its inputs, the sort order and one
#: output row in memory, 32 bytes per id (~0.8 GB for the ~25M ids of a level-3 run made from
#: 50k-line chunks). Past it the number of runs grows linearly, each probed with one binary
#: search per key.
MAX_LEVEL = 3


def id_keys(request_ids: Iterable[str]) -> np.ndarray:
    """(n, 2) int64: the 128-bit blake2b of each id, as two little-endian halves."""
    b2 = hashlib.blake2b
    raw = b"".join(b2(r.encode("utf-8", "surrogatepass"), digest_size=16).digest()
                   for r in request_ids)
    return np.frombuffer(raw, dtype="<i8").reshape(-1, 2).astype(np.int64, copy=False)


def first_occurrences(keys: np.ndarray) -> np.ndarray:
    """Positions of the first occurrence of each distinct row of ``keys``, in order.

    Sorted (stably) by the first half only, an int64 sort; rows that share a first half (a
    repeated id, or a 64-bit collision) are then told apart by the second half, one by one:
    they are the duplicates of a chunk, about 1% of it."""
    n = len(keys)
    if n == 0:
        return np.zeros(0, np.int64)
    first, second = keys[:, 0], keys[:, 1]
    order = np.argsort(first, kind="stable")
    s1 = first[order]
    ties = np.flatnonzero(s1[1:] == s1[:-1]) + 1
    keep = np.ones(n, bool)
    if len(ties):
        s2 = second[order]
        for i in ties.tolist():
            j = i - 1
            while j >= 0 and s1[j] == s1[i]:  # earlier rows of the same first half
                if s2[j] == s2[i]:
                    keep[order[i]] = False
                    break
                j -= 1
    return np.flatnonzero(keep)


def list_run(con: sqlite3.Connection, name: str, n: int, level: int) -> None:
    """List a written run (call inside the chunk's transaction; a module function so that the
    crash tests can interrupt a commit here)."""
    con.execute("INSERT INTO id_runs (name, n, level) VALUES (?, ?, ?)", (name, n, level))


def listed(con: sqlite3.Connection) -> list[tuple[str, int, int]]:
    return con.execute("SELECT name, n, level FROM id_runs ORDER BY level, name").fetchall()


def reserve(con: sqlite3.Connection, name: str) -> None:
    """Mark a run listed in this transaction as reserved: its ids count as known for every
    worker, but the chunk that owns them is not committed yet (see ``worker.ChunkWriter``)."""
    con.execute("INSERT INTO id_reserved (name) VALUES (?)", (name,))


def settle(con: sqlite3.Connection, name: str) -> None:
    """The reserving chunk is committed (call in its transaction): the run is an ordinary one."""
    con.execute("DELETE FROM id_reserved WHERE name = ?", (name,))


def release(con: sqlite3.Connection, name: str) -> None:
    """Delist a reserved run whose chunk was not committed (call in a transaction)."""
    con.execute("DELETE FROM id_runs WHERE name = ?", (name,))
    con.execute("DELETE FROM id_reserved WHERE name = ?", (name,))


def release_all(con: sqlite3.Connection) -> int:
    """Delist every reserved run: their chunks never committed (a crash), so the chunks are
    read again and their ids probed afresh. Call only under the home lock."""
    names = [n for (n,) in con.execute("SELECT name FROM id_reserved").fetchall()]
    if names:
        con.execute("BEGIN IMMEDIATE")
        for name in names:
            release(con, name)
        con.execute("COMMIT")
    return len(names)


def _level_for(n: int, base: int = 50_000) -> int:
    level, size = 0, base
    while n > size * FANOUT:
        size *= FANOUT
        level += 1
    return level


class IdStore:
    """Probe and extend the run store of one home (one instance per connection)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._runs: dict[str, np.ndarray] = {}

    # --- reading --------------------------------------------------------------------------

    def _run(self, name: str) -> np.ndarray:
        run = self._runs.get(name)
        if run is None:
            path = self.folder / name
            try:
                run = np.load(path, mmap_mode="r")
            except FileNotFoundError:
                raise
            except (OSError, ValueError) as exc:
                raise RuntimeError(f"{path}: unreadable id run ({exc})") from None
            if run.ndim != 2 or run.shape[0] not in (2, 3) or run.dtype != np.int64:
                raise RuntimeError(f"{path}: id run of shape {run.shape} and type {run.dtype}; "
                                   "expected (2, n) or (3, n) int64")
            self._runs[name] = run
        return run

    def known(self, con: sqlite3.Connection, keys: np.ndarray,
              skip: frozenset[str] = frozenset()) -> tuple[np.ndarray, frozenset[str]]:
        """(mask of ``keys`` rows already stored, names of the runs read).

        Runs in ``skip`` were read by an earlier probe of the same keys and are not read again.
        Outside a write transaction a run may be compacted away between listing and reading;
        the listing is then read again (the merged run holds the same ids).
        """
        # sorted keys: each binary search starts where the previous one ended
        order = np.argsort(keys[:, 0], kind="stable")
        ordered = keys[order]
        for _ in range(100):
            names = frozenset(name for name, _, _ in listed(con))
            for gone in self._runs.keys() - names:  # merged away: let its file go
                del self._runs[gone]
            try:
                found = np.zeros(len(keys), bool)
                for name in names - skip:
                    if len(keys):
                        found |= _probe(self._run(name), ordered)
            except FileNotFoundError:
                continue
            mask = np.empty(len(keys), bool)
            mask[order] = found
            return mask, names | skip
        raise RuntimeError(f"{self.folder}: id runs keep disappearing while being read")

    def in_flight(self, con: sqlite3.Connection, keys: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:
        """(ts, run) of each ``keys`` row held by a reserved run (a chunk not committed yet):
        the timestamp (µs) its row will be stored with and the run's name; ``NO_TS`` and None
        where no reserved run holds it. Reserved runs are never merged, so they stay readable
        until settled (a run released meanwhile counts as holding nothing)."""
        ts = np.full(len(keys), NO_TS, np.int64)
        holder = np.full(len(keys), None, object)
        if not len(keys):
            return ts, holder
        for (name,) in con.execute("SELECT name FROM id_reserved").fetchall():
            try:
                run = self._run(name)
            except FileNotFoundError:
                continue
            if run.shape[0] < 3:
                continue
            pos = _find(run, keys)
            hit = pos >= 0
            ts[hit] = run[2][pos[hit]]
            holder[hit] = name
        return ts, holder

    # --- writing --------------------------------------------------------------------------

    def write(self, keys: np.ndarray, level: int = 0, ts: np.ndarray | None = None) -> str:
        """Write ``keys`` ((n, 2), unique, not yet stored) as a new, unlisted run; ``ts``
        (n,) int64 µs: the rows' timestamps, kept as a third row (runs to be reserved)."""
        return self._write_rows(keys[:, 0], keys[:, 1], level, ts)

    def _write_rows(self, first: np.ndarray, second: np.ndarray, level: int,
                    ts: np.ndarray | None = None) -> str:
        """Write the pairs (first[i], second[i]) (and ts[i]) sorted by ``first``; returns the
        run's name.

        Pairs with an equal first half (a 64-bit collision) end up adjacent, which is all
        :func:`_probe` needs."""
        order = np.argsort(first, kind="stable")
        name = f"run-{level}-{uuid.uuid4().hex}.npy"
        with atomic_path(self.folder / name) as tmp:
            out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.int64,
                                            shape=(2 if ts is None else 3, len(first)))
            out[0] = first[order]
            out[1] = second[order]
            if ts is not None:
                out[2] = ts[order]
            out.flush()
            del out
        return name

    def discard(self, name: str) -> None:
        """Delete a run that no transaction listed (or that one has just delisted)."""
        self._runs.pop(name, None)
        (self.folder / name).unlink(missing_ok=True)

    def compact(self, con: sqlite3.Connection) -> int:
        """Merge full levels (outside any transaction); returns the number of merges done.

        The merged run replaces its inputs only if they are all still listed when the write
        lock is taken (another worker may have merged them meanwhile); else it is dropped.
        Reserved runs are never merged: a crash must be able to delist them one by one.
        """
        merges = 0
        while True:
            by_level: dict[int, list[str]] = {}
            for name, _, level in con.execute(
                    "SELECT name, n, level FROM id_runs WHERE name NOT IN "
                    "(SELECT name FROM id_reserved) ORDER BY level, name").fetchall():
                by_level.setdefault(level, []).append(name)
            full = sorted(lv for lv, names in by_level.items()
                          if len(names) >= FANOUT and lv < MAX_LEVEL)
            if not full:
                return merges
            level = full[0]
            inputs = sorted(by_level[level])[:FANOUT]
            try:
                runs = [self._run(n) for n in inputs]
            except FileNotFoundError:
                return merges  # merged by another worker meanwhile
            total = sum(r.shape[1] for r in runs)
            name = self._write_rows(np.concatenate([r[0] for r in runs]),
                                    np.concatenate([r[1] for r in runs]), level + 1)
            con.execute("BEGIN IMMEDIATE")
            try:
                marks = ",".join("?" * len(inputs))
                still = con.execute(f"SELECT count(*) FROM id_runs WHERE name IN ({marks})",
                                    inputs).fetchone()[0]
                if still == len(inputs):
                    con.execute(f"DELETE FROM id_runs WHERE name IN ({marks})", inputs)
                    list_run(con, name, total, level + 1)
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                self.discard(name)
                raise
            if still != len(inputs):
                self.discard(name)
                return merges
            for n in inputs:
                self.discard(n)
            fsync_dir(self.folder)
            merges += 1


def _probe(run: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Mask of ``keys`` rows present in ``run`` ((2, n) int64 sorted by row 0). ``keys``
    sorted by their first column make the searches cheaper, not different."""
    return _find(run, keys) >= 0


def _find(run: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Column of each ``keys`` row in ``run`` (see :func:`_probe`); -1 where absent."""
    first, second = run[0], run[1]
    n = len(first)
    if n == 0:
        return np.full(len(keys), -1, np.int64)
    pos = np.searchsorted(first, keys[:, 0])
    at = np.minimum(pos, n - 1)
    same_first = first[at] == keys[:, 0]
    hit = same_first & (second[at] == keys[:, 1])
    found = np.where(hit, at, -1)
    for i in np.flatnonzero(same_first & ~hit):  # 64-bit collision: scan the equal run
        j = int(pos[i])
        while j < n and first[j] == keys[i, 0]:
            if second[j] == keys[i, 1]:
                found[i] = j
                break
            j += 1
    return found


def remove_unlisted(con: sqlite3.Connection, folder: Path) -> int:
    """Delete run files no transaction listed (crash garbage). Call only under the home lock."""
    if not folder.exists():
        return 0
    names = {name for name, _, _ in listed(con)}
    removed = 0
    for path in folder.iterdir():
        if path.name not in names:
            path.unlink(missing_ok=True)
            removed += 1
    if removed:
        fsync_dir(folder)
    return removed


def migrate_seen_tables(con: sqlite3.Connection, store: IdStore) -> int:
    """Move ids from the former ``seen`` / ``seen_extra`` tables into one run (idempotent,
    crash-safe: the run is listed and the tables emptied in one transaction)."""
    if con.execute("SELECT 1 FROM seen LIMIT 1").fetchone() is None and \
            con.execute("SELECT 1 FROM seen_extra LIMIT 1").fetchone() is None:
        return 0
    rows = con.execute("SELECT h, h2 FROM seen UNION SELECT h, h2 FROM seen_extra").fetchall()
    keys = np.array(rows, dtype=np.int64).reshape(-1, 2)
    level = _level_for(len(keys))
    name = store.write(keys, level)
    con.execute("BEGIN IMMEDIATE")
    try:
        list_run(con, name, len(keys), level)
        con.execute("DELETE FROM seen")
        con.execute("DELETE FROM seen_extra")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        store.discard(name)
        raise
    return len(keys)


def folder_of(state_dir: Path) -> Path:
    path = state_dir / "ids"
    path.mkdir(parents=True, exist_ok=True)
    return path


__all__ = ["FANOUT", "MAX_LEVEL", "NO_TS", "IdStore", "first_occurrences", "folder_of", "id_keys", "list_run",
           "listed", "migrate_seen_tables", "remove_unlisted"]
