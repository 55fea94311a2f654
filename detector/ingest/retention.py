"""Retention: delete lake partitions and quarantine older than ``retention_days`` days.

Grain: whole daily folders. ``lake/requests/date=D`` is deleted when D is more than N days
before today (UTC); ``lake/quarantine/date=Q`` (Q = the day the lines were quarantined) the
same. The manifest forgets the deleted days (they are no longer dirty) and their prompt-sample
counters; request ids stay known, so a late redelivery of expired data is still a duplicate.
"""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from detector.ingest import manifest as mf

if TYPE_CHECKING:
    from detector.settings import Settings


def _old_partitions(root: Path, cutoff: str) -> list[Path]:
    if not root.exists():
        return []
    return [d for d in sorted(root.glob("date=*"))
            if d.is_dir() and d.name.split("=", 1)[1] < cutoff]


def apply_retention(settings: Settings, days: int | None = None,
                    today: date | None = None) -> list[str]:
    """Delete partitions older than ``days`` (default: the setting); returns deleted folders.

    ``days <= 0`` keeps everything.
    """
    n = settings.retention_days if days is None else days
    if n <= 0:
        return []
    today = today or datetime.now(UTC).date()
    cutoff = (today - timedelta(days=n)).isoformat()
    deleted = []
    old_days = []
    for root in (settings.requests_dir, settings.quarantine_dir):
        for folder in _old_partitions(root, cutoff):
            shutil.rmtree(folder, ignore_errors=True)
            deleted.append(str(folder))
            if root == settings.requests_dir:
                old_days.append(folder.name.split("=", 1)[1])
    if old_days and mf.manifest_path(settings).exists():
        con = mf.connect(settings)
        try:
            con.execute("BEGIN IMMEDIATE")
            con.executemany("DELETE FROM dates WHERE date = ?", [(d,) for d in old_days])
            con.executemany("DELETE FROM samples WHERE date = ?", [(d,) for d in old_days])
            con.execute("COMMIT")
        finally:
            con.close()
    return deleted
