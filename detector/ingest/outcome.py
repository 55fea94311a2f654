"""What one input file contributed to an ingest job, as recorded in the manifest."""

from __future__ import annotations

import sqlite3
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

import orjson


@dataclass
class FileOutcome:
    """What one input path contributed to a job (``role``: processed or redelivery).

    ``read == accepted + duplicates + quarantined``: every record whose request id was
    already delivered is a duplicate. Two kinds of duplicates are counted again apart
    (``detector.ingest.enrich``), so ``enriched + conflicting <= duplicates``: ``enriched``
    completed the stored row; ``conflicting`` differ from it on a field both have (kept in
    the quarantine as ``conflicting_redelivery: <field>``, not counted in ``quarantined``)."""

    path: str
    sha256: str
    fmt: str
    role: str
    read: int = 0
    accepted: int = 0
    duplicates: int = 0
    quarantined: int = 0
    dates: list[str] = field(default_factory=list)
    rescore_dates: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    enriched: int = 0
    conflicting: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


def finish_file(con: sqlite3.Connection, sha256: str, path: str, job_id: str,
                warnings: list[str]) -> FileOutcome:
    """Mark the file done and record its contribution to the job (one transaction)."""
    con.execute("BEGIN IMMEDIATE")
    con.execute(
        "UPDATE files SET status = 'done', finished_at = ?, warnings_json = ? "
        "WHERE sha256 = ? AND status = 'open'",
        (datetime.now(UTC).isoformat(), orjson.dumps(warnings).decode(), sha256))
    outcome = file_outcome(con, sha256, path, "processed")
    insert_job_file(con, job_id, outcome)
    con.execute("COMMIT")
    return outcome


def file_outcome(con: sqlite3.Connection, sha256: str, path: str, role: str) -> FileOutcome:
    """Counts of a file from the manifest; as a redelivery every good record is a duplicate
    (one that neither completes nor contradicts anything: the file was read before)."""
    row = con.execute(
        "SELECT fmt, read, accepted, duplicates, quarantined, dates_json, rescore_json, "
        "warnings_json, enriched, conflicting FROM files WHERE sha256 = ?", (sha256,)).fetchone()
    fmt, read, acc, dup, quar, dates, rescore, warns, enriched, conflicting = row
    if role == "redelivery":
        return FileOutcome(path, sha256, fmt, role, read, 0, acc + dup, quar,
                           warnings=orjson.loads(warns))
    return FileOutcome(path, sha256, fmt, role, read, acc, dup, quar, orjson.loads(dates),
                       orjson.loads(rescore), orjson.loads(warns), enriched, conflicting)


def insert_job_file(con: sqlite3.Connection, job_id: str, o: FileOutcome) -> None:
    con.execute(
        "INSERT OR REPLACE INTO job_files (job_id, path, sha256, role, read, accepted, "
        "duplicates, quarantined, dates_json, rescore_json, warnings_json, enriched, "
        "conflicting) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (job_id, o.path, o.sha256, o.role, o.read, o.accepted, o.duplicates, o.quarantined,
         orjson.dumps(o.dates).decode(), orjson.dumps(o.rescore_dates).decode(),
         orjson.dumps(o.warnings).decode(), o.enriched, o.conflicting))
