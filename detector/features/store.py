"""Where the feature engine keeps its tables, and the fingerprints that make re-runs incremental.

Layout under ``<home>/features/``: ``partials/``, ``daily/``, ``weekly/``, ``percentiles/`` (each
``date=D/part-0.parquet``) and ``state/date=D.json`` (the fingerprint of what produced D).
"""

from __future__ import annotations

import hashlib
import json
from datetime import date, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from detector.lake.io import write_parquet_atomic, write_text_atomic
from detector.settings import Settings

TABLES = ("partials", "daily", "weekly", "percentiles")


def table_path(settings: Settings, table: str, day: str) -> Path:
    """``features/<table>/date=<day>/part-0.parquet``."""
    return settings.features_dir / table / f"date={day}" / "part-0.parquet"


def state_path(settings: Settings, day: str) -> Path:
    return settings.features_dir / "state" / f"date={day}.json"


def files_fingerprint(files: list[Path]) -> list[list[object]]:
    """Name, size and mtime (ns) of each file: changes whenever ingest rewrites a partition."""
    out: list[list[object]] = []
    for p in files:
        st = p.stat()
        out.append([p.name, st.st_size, st.st_mtime_ns])
    return out


def digest(obj: object) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def read_state(settings: Settings, day: str) -> dict[str, str]:
    path = state_path(settings, day)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def write_state(settings: Settings, day: str, state: dict[str, str]) -> None:
    write_text_atomic(state_path(settings, day), json.dumps(state, sort_keys=True, indent=1))


def write_table(settings: Settings, table: str, day: str, data: pa.Table) -> None:
    write_parquet_atomic(table_path(settings, table, day), data)


def read_table(settings: Settings, table: str, day: str) -> pa.Table | None:
    path = table_path(settings, table, day)
    return pq.read_table(path) if path.exists() else None


def model_first_seen_path(settings: Settings) -> Path:
    """``features/model_first_seen/part-0.parquet``: (model, first_ts) over the whole lake as of
    the last features run (what ``rel_new_model_share`` reads); no account ids."""
    return settings.features_dir / "model_first_seen" / "part-0.parquet"


def write_model_first_seen(settings: Settings, data: pa.Table) -> None:
    write_parquet_atomic(model_first_seen_path(settings), data)


def read_model_first_seen(settings: Settings) -> pa.Table | None:
    path = model_first_seen_path(settings)
    return pq.read_table(path) if path.exists() else None


def shift(day: str, days: int) -> str:
    return (date.fromisoformat(day) + timedelta(days=days)).isoformat()


def window_days(day: str, length: int = 7) -> list[str]:
    """The ``length`` days ending on ``day``, oldest first."""
    return [shift(day, -k) for k in range(length - 1, -1, -1)]
