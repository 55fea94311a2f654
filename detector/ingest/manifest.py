"""The ingest manifest: one SQLite database in ``state/ingest/manifest.sqlite``.

Tables (grain in brackets):

* ``jobs`` [one ingest command]: job id, the key of its input list, status, result JSON.
* ``files`` [one distinct file content, by sha256]: size, first path, status (``open`` while
  being read, ``done``), cumulative counts, resume point (decompressed byte offset, line).
  ``read = accepted + duplicates + quarantined``; ``enriched`` and ``conflicting`` break
  ``duplicates`` down (re-deliveries that completed, or contradicted, the stored row).
* ``job_files`` [one input path of one job]: the counts that path contributed to the job.
* ``chunks`` [one committed batch of one file]: staged -> final part paths, published flag.
* ``id_runs`` [one run file of the id store]: the live runs of accepted request ids
  (``detector.ingest.idstore``). ``seen`` / ``seen_extra``, where ids were kept before, stay
  empty: an older home's ids move into one run on its next ingest.
* ``dates`` [one UTC day]: ``changed_seq`` bumped whenever rows for the day are committed,
  ``scored_seq`` set by :func:`mark_scored`; the day is dirty while its own or an earlier
  day of its feature window has changed > its scored (:func:`dirty_dates`).
* ``samples`` [one account-day]: prompt texts kept so far when prompt text is sampled.

Every chunk commit (ids, counts, resume point, part list, dates) is one transaction, so the
manifest and the lake never disagree after a crash; see ``detector.ingest.commit``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path

from detector.ingest import idstore
from detector.ingest.config import IngestHome

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
  job_id TEXT PRIMARY KEY, job_key TEXT NOT NULL, status TEXT NOT NULL,
  started_at TEXT NOT NULL, finished_at TEXT, result_json TEXT);
CREATE INDEX IF NOT EXISTS jobs_key ON jobs(job_key);
CREATE TABLE IF NOT EXISTS files (
  file_id INTEGER PRIMARY KEY, sha256 TEXT NOT NULL UNIQUE, size INTEGER NOT NULL,
  path TEXT NOT NULL, fmt TEXT NOT NULL, job_id TEXT, status TEXT NOT NULL,
  read INTEGER NOT NULL DEFAULT 0, accepted INTEGER NOT NULL DEFAULT 0,
  duplicates INTEGER NOT NULL DEFAULT 0, quarantined INTEGER NOT NULL DEFAULT 0,
  end_offset INTEGER NOT NULL DEFAULT 0, end_line INTEGER NOT NULL DEFAULT 0,
  chunks INTEGER NOT NULL DEFAULT 0, dates_json TEXT NOT NULL DEFAULT '[]',
  rescore_json TEXT NOT NULL DEFAULT '[]', warnings_json TEXT NOT NULL DEFAULT '[]',
  started_at TEXT, finished_at TEXT);
CREATE TABLE IF NOT EXISTS path_cache (
  path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, sha256 TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS job_files (
  job_id TEXT NOT NULL, path TEXT NOT NULL, sha256 TEXT NOT NULL, role TEXT NOT NULL,
  read INTEGER NOT NULL, accepted INTEGER NOT NULL, duplicates INTEGER NOT NULL,
  quarantined INTEGER NOT NULL, dates_json TEXT NOT NULL, rescore_json TEXT NOT NULL,
  warnings_json TEXT NOT NULL, PRIMARY KEY (job_id, path));
CREATE TABLE IF NOT EXISTS chunks (
  file_id INTEGER NOT NULL, seq INTEGER NOT NULL, parts_json TEXT NOT NULL,
  published INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (file_id, seq));
CREATE TABLE IF NOT EXISTS seen (h INTEGER PRIMARY KEY, h2 INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS seen_extra (h INTEGER, h2 INTEGER, PRIMARY KEY (h, h2)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS dates (
  date TEXT PRIMARY KEY, changed_seq INTEGER NOT NULL, scored_seq INTEGER,
  rows INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS samples (
  account_id TEXT NOT NULL, date TEXT NOT NULL, n INTEGER NOT NULL,
  PRIMARY KEY (account_id, date)) WITHOUT ROWID;
"""



def ingest_state_dir(settings: IngestHome) -> Path:
    """``<home>/state/ingest``: manifest, lock file and staging area."""
    return settings.state_dir / "ingest"


def held_dir(settings: IngestHome) -> Path:
    """``<home>/state/ingest/held``: what later deliveries need (``Format.holds``)."""
    return ingest_state_dir(settings) / "held"


def manifest_path(settings: IngestHome) -> Path:
    return ingest_state_dir(settings) / "manifest.sqlite"


def connect(settings: IngestHome) -> sqlite3.Connection:
    """Open (creating if needed) the manifest; autocommit mode, transactions are explicit."""
    path = manifest_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(path, timeout=600, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=FULL")
    con.execute("PRAGMA cache_size=-65536")
    con.executescript(_SCHEMA)
    con.executescript(idstore.SCHEMA)
    _add_breakdown(con)
    return con


def _add_breakdown(con: sqlite3.Connection) -> None:
    """The ``enriched`` and ``conflicting`` counts of ``files`` and ``job_files`` (added to
    older manifests). A manifest that has ``enriched`` but not ``conflicting`` counted enriched
    records outside ``duplicates``: they move into it, so read = accepted + duplicates +
    quarantined holds for the files it recorded (its conflicting re-deliveries stay counted
    as quarantined: the counts cannot tell them apart)."""
    for table in ("files", "job_files"):
        cols = {r[1] for r in con.execute(f"PRAGMA table_info({table})")}
        if "conflicting" in cols:
            continue
        con.execute("BEGIN IMMEDIATE")
        try:
            cols = {r[1] for r in con.execute(f"PRAGMA table_info({table})")}
            if "conflicting" not in cols:  # another process may have added it meanwhile
                if "enriched" in cols:
                    con.execute(f"UPDATE {table} SET duplicates = duplicates + enriched")
                else:
                    con.execute(f"ALTER TABLE {table} ADD COLUMN enriched INTEGER NOT NULL "
                                f"DEFAULT 0")
                con.execute(f"ALTER TABLE {table} ADD COLUMN conflicting INTEGER NOT NULL "
                            f"DEFAULT 0")
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise


def next_seq(con: sqlite3.Connection) -> int:
    """Next value of the monotonic change counter (inside a transaction)."""
    con.execute("INSERT INTO counters VALUES ('change', 1) "
                "ON CONFLICT(name) DO UPDATE SET value = value + 1")
    return con.execute("SELECT value FROM counters WHERE name = 'change'").fetchone()[0]


def touch_dates(con: sqlite3.Connection, rows_per_date: dict[str, int]) -> list[str]:
    """Mark days changed (inside the chunk transaction); returns those already scored before."""
    if not rows_per_date:
        return []
    seq = next_seq(con)
    rescore = []
    for day, n in rows_per_date.items():
        row = con.execute("SELECT scored_seq FROM dates WHERE date = ?", (day,)).fetchone()
        if row is not None and row[0] is not None:
            rescore.append(day)
        con.execute(
            "INSERT INTO dates (date, changed_seq, rows) VALUES (?, ?, ?) ON CONFLICT(date) "
            "DO UPDATE SET changed_seq = excluded.changed_seq, rows = rows + excluded.rows",
            (day, seq, n))
    return sorted(rescore)


#: the widest window a day's features read, today included: ``w7_`` 7 days, ``hist_`` 28
#: (``detector.features.catalog.HISTORY_WINDOWS``; a test keeps the two in step)
WINDOW_DAYS = 28


def dirty_dates(settings: IngestHome, window_days: int = WINDOW_DAYS) -> list[str]:
    """Days (``YYYY-MM-DD``) to score: never scored, or scored before rows arrived for a day
    inside their window (themselves or one of the ``window_days - 1`` days before them).

    So a late day marks every later scored day whose windows include it: ingesting days 1 and
    3, scoring, then ingesting day 2 makes days 2 and 3 dirty (day 3's 7-day features read
    day 2), and days up to 27 days later for the 28-day ``hist_`` baselines."""
    if not manifest_path(settings).exists():
        return []
    con = connect(settings)
    try:
        rows = con.execute(
            "SELECT e.date FROM dates e WHERE e.scored_seq IS NULL OR EXISTS ("
            "SELECT 1 FROM dates d WHERE d.date <= e.date AND d.date >= date(e.date, ?) "
            "AND d.changed_seq > e.scored_seq) ORDER BY e.date",
            (f"-{max(int(window_days), 1) - 1} days",)).fetchall()
    finally:
        con.close()
    return [r[0] for r in rows]


def mark_scored(settings: IngestHome, dates: Iterable[str]) -> None:
    """Record that ``dates`` were scored with every row committed so far.

    Rows committed for a listed day between the start of scoring and this call are treated as
    scored too, so call it right after scoring (``detector run`` holds no ingest at that time).
    """
    days = sorted(set(dates))
    if not days:
        return
    con = connect(settings)
    try:
        con.execute("BEGIN IMMEDIATE")
        # the change counter now, not the day's own changed_seq: the day's window (earlier
        # days) is scored as of every change committed so far
        con.executemany("UPDATE dates SET scored_seq = max(changed_seq, coalesce((SELECT value "
                        "FROM counters WHERE name = 'change'), 0)) WHERE date = ?",
                        [(d,) for d in days])
        con.execute("COMMIT")
    finally:
        con.close()
