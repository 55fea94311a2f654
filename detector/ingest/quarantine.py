"""Reading the quarantine: bad records kept verbatim with file, line and reason.

Grain: one row per bad record (``lake/quarantine/date=Q/part-*.parquet``, Q = the UTC day it
was quarantined). ``reason`` is ``<code>: <detail>``; the code (before the colon) is what
:func:`summary` groups by.

Not every record kept here was counted ``quarantined`` by its ingest: a re-delivery that
contradicts the stored row (:data:`CONFLICT_CODE`, ``detector.ingest.enrich``) is kept here
verbatim but counted among the ``duplicates`` (its id was delivered before). Each listed
record says how it was counted (``counted``: ``quarantined`` or ``duplicates``).
"""

from __future__ import annotations

from pathlib import Path

from detector.errors import InputError
from detector.lake.db import connect
from detector.settings import Settings

_PREVIEW = 160
#: reason code of a re-delivery kept here but counted as a duplicate
CONFLICT_CODE = "conflicting_redelivery"


def counted_as(reason: str) -> str:
    """Which ingest count a record kept with ``reason`` is in: duplicates or quarantined."""
    return "duplicates" if reason.split(":", 1)[0] == CONFLICT_CODE else "quarantined"


def _where(file: str | None, reason: str | None) -> tuple[str, list]:
    clauses, params = [], []
    if file:
        clauses.append("(source_file = ? OR source_file LIKE ?)")
        params += [file, f"%{file}"]
    if reason:
        clauses.append("reason LIKE ?")
        params.append(f"{reason}%")
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def list_quarantine(settings: Settings, file: str | None = None, reason: str | None = None,
                    limit: int = 50) -> list[dict]:
    """Bad records (newest first) with a printable preview of the raw line, no raw bytes."""
    where, params = _where(file, reason)
    con = connect(settings)
    try:
        rows = con.execute(
            f"SELECT source_file, source_line, reason, octet_length(raw) AS bytes, raw, "
            f"ingest_id, quarantined_at FROM quarantine{where} "
            f"ORDER BY quarantined_at DESC, source_file, source_line LIMIT ?",
            [*params, int(limit)]).fetchall()
    finally:
        con.close()
    return [{"source_file": f, "source_line": ln, "reason": r, "counted": counted_as(r),
             "bytes": n, "preview": bytes(raw[:_PREVIEW]).decode("utf-8", "replace"),
             "ingest_id": i, "quarantined_at": str(t)} for f, ln, r, n, raw, i, t in rows]


def summary(settings: Settings) -> list[dict]:
    """Count of kept records per reason code, largest first, with the ingest count they
    are in (``counted``)."""
    con = connect(settings)
    try:
        rows = con.execute(
            "SELECT split_part(reason, ':', 1) AS code, count(*) AS n FROM quarantine "
            "GROUP BY 1 ORDER BY n DESC, code").fetchall()
    finally:
        con.close()
    return [{"reason": c, "count": n, "counted": counted_as(c)} for c, n in rows]


def show_quarantine(settings: Settings, file: str, line: int) -> list[dict]:
    """Every quarantined record at ``file`` (full path or a path suffix) and ``line``, raw."""
    where, params = _where(file, None)
    con = connect(settings)
    try:
        rows = con.execute(
            f"SELECT source_file, source_line, reason, raw, ingest_id, quarantined_at "
            f"FROM quarantine{where} AND source_line = ? ORDER BY quarantined_at",
            [*params, int(line)]).fetchall()
    finally:
        con.close()
    if not rows:
        raise InputError(f"quarantine: no record at {file}:{line}")
    return [{"source_file": f, "source_line": ln, "reason": r, "counted": counted_as(r),
             "raw": bytes(raw), "ingest_id": i, "quarantined_at": str(t)}
            for f, ln, r, raw, i, t in rows]


def parse_location(text: str) -> tuple[str, int]:
    """``FILE:LINE`` -> (FILE, LINE); InputError naming the argument otherwise."""
    file, sep, line = text.rpartition(":")
    if not sep or not line.isdigit() or not file:
        raise InputError(f"quarantine show: expected FILE:LINE, got {text!r}")
    return str(Path(file)), int(line)
