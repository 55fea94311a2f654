"""Run the feature stage on a tiny table and read back one account's row."""

from __future__ import annotations

import pyarrow.parquet as pq

from detector.features import compute
from detector.features.store import table_path
from detector.settings import Settings


def run_day(settings: Settings, day: str, engine: str | None = None) -> dict[str, dict]:
    """{account_id: daily feature row as a dict} after computing ``day``."""
    compute(settings, [day], engine_name=engine)
    rows = pq.read_table(table_path(settings, "daily", day)).to_pylist()
    return {r["account_id"]: r for r in rows}


def weekly(settings: Settings, day: str) -> dict[str, dict]:
    rows = pq.read_table(table_path(settings, "weekly", day)).to_pylist()
    return {r["account_id"]: r for r in rows}
