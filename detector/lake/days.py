"""Days: parsing a ``--date`` value (the days that have verdicts: ``detector.verdicts``), and
dropping ``date=D`` partitions older than a cut-off (retention of every date-partitioned
artefact).

Shared by the daily job, the hooks (events, export), the report, the verdict store and
retention, so none of them imports another for it.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

from detector.errors import InputError


def parse_date(text: str | dt.date | None, what: str = "--date") -> dt.date | None:
    """``YYYY-MM-DD`` (or a date) to a date; None stays None; anything else is an InputError."""
    if text is None or isinstance(text, dt.date):
        return text
    try:
        return dt.date.fromisoformat(str(text))
    except ValueError:
        raise InputError(f"{what}: expected a date YYYY-MM-DD, got {text!r}") from None


def partition_day(path: Path) -> str | None:
    """The day of a ``date=YYYY-MM-DD`` folder or ``date=YYYY-MM-DD.json`` file; None otherwise."""
    name = path.name.removesuffix(".json")
    if not name.startswith("date="):
        return None
    try:
        return dt.date.fromisoformat(name.split("=", 1)[1]).isoformat()
    except ValueError:
        return None


def drop_partitions_before(roots: list[Path], cutoff: str, pattern: str = "date=*") -> list[str]:
    """Remove the ``date=D`` entries matching ``pattern`` under ``roots`` dated before ``cutoff``
    (YYYY-MM-DD): folders with their contents, files alone. Returns the paths removed."""
    gone = []
    for root in roots:
        if not root.exists():
            continue
        for path in sorted(root.glob(pattern)):
            day = partition_day(path)
            if day is None or day >= cutoff:
                continue
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            gone.append(str(path))
    return gone
