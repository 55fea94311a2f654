"""Where verdict files are: ``verdicts/date=D/verdicts.parquet`` under a home, one per evaluated
day (temporary files start with '.' and are never listed)."""

from __future__ import annotations

from pathlib import Path

from detector.lake.days import drop_partitions_before
from detector.settings import Settings

VERDICT_FILE = "verdicts.parquet"


def root(where: Settings | Path) -> Path:
    """The verdict folder of a home (``Settings``, or the home folder itself)."""
    return where.verdicts_dir if isinstance(where, Settings) else Path(where) / "verdicts"


def verdict_path(settings: Settings | Path, day: str) -> Path:
    """``verdicts/date=D/verdicts.parquet`` of the home (the file may not exist)."""
    return root(settings) / f"date={day}" / VERDICT_FILE


def verdict_files(folder: Path) -> list[tuple[str, Path]]:
    """(date, path) of every committed verdict file under the verdict folder, oldest first."""
    if not folder.exists():
        return []
    out = []
    for d in sorted(folder.glob("date=*")):
        f = d / VERDICT_FILE
        if f.is_file():
            out.append((d.name.split("=", 1)[1], f))
    return out


def files_signature(folder: Path) -> tuple:
    """Changes whenever a verdict file is added, replaced or removed (names, mtimes, sizes)."""
    sig = []
    for day, f in verdict_files(folder):
        try:
            st = f.stat()
        except OSError:
            continue
        sig.append((day, st.st_mtime_ns, st.st_size))
    return tuple(sig)


def evaluated_dates(settings: Settings | Path) -> list[str]:
    """Days (YYYY-MM-DD) that have a verdict file, oldest first."""
    return [day for day, _ in verdict_files(root(settings))]


def drop_days_before(settings: Settings, cutoff: str) -> list[str]:
    """Remove the verdict days dated before ``cutoff`` (YYYY-MM-DD, retention); returns the
    folders removed."""
    return drop_partitions_before([root(settings)], cutoff)
