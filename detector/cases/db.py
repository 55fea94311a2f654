"""The thin database layer under the case store: the only module that knows it is SQLite.

Everything above it speaks portable SQL with ``?`` placeholders through :class:`Database`.
Replacing SQLite with PostgreSQL means a second implementation of this module (connect,
placeholders, ``transaction``, ``insert_returning_id``), not touching the store.

SQLite is opened in WAL mode (readers never block the single writer and vice versa), with a
busy timeout so concurrent writers wait instead of failing, and every write is one short
``BEGIN IMMEDIATE … COMMIT`` transaction.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

BUSY_TIMEOUT_MS = 5000


def _connect_sqlite(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                           check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if str(mode).lower() != "wal":  # e.g. a read-only or network filesystem
        conn.execute("PRAGMA journal_mode = DELETE")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


class Database:
    """One SQLite file; one connection per thread; short explicit transactions.

    ``path`` is the database file. Methods are safe to call from several threads (each thread
    gets its own connection) and several processes (WAL + busy timeout).
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._local = threading.local()

    # --- connections ---------------------------------------------------------------------
    def connection(self) -> sqlite3.Connection:
        """This thread's connection (opened on first use)."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = _connect_sqlite(self.path)
            self._local.conn = conn
        return conn

    def close(self) -> None:
        """Close this thread's connection, if any."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: ``BEGIN IMMEDIATE`` (takes the write lock up front), commit on
        success, roll back on any exception. Yields the raw connection so helpers that take a
        DB-API connection (the hooks outbox) can write inside the same transaction."""
        with immediate_transaction(self.connection()) as conn:
            yield conn

    # --- queries -------------------------------------------------------------------------
    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Rows of a read query as dicts (column name -> value)."""
        cur = self.connection().execute(sql, tuple(params))
        return [dict(r) for r in cur.fetchall()]

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """The first column of the first row, or None."""
        row = self.connection().execute(sql, tuple(params)).fetchone()
        return None if row is None else row[0]

    @staticmethod
    def insert(conn: sqlite3.Connection, table: str, values: dict[str, Any]) -> int:
        """Insert one row inside a transaction; return its integer id."""
        cols = ", ".join(values)
        marks = ", ".join("?" for _ in values)
        cur = conn.execute(f"INSERT INTO {table} ({cols}) VALUES ({marks})", tuple(values.values()))
        return int(cur.lastrowid or 0)

    def executescript(self, sql: str) -> None:
        """Run DDL (schema creation); idempotent statements only."""
        self.connection().executescript(sql)


@contextmanager
def immediate_transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on any exception) on an autocommit connection."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
