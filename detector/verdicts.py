"""Verdict files: where they are, writing a day, reading them back (`detector verdicts`, the
API, the report).

One file per evaluated day, ``verdicts/date=D/verdicts.parquet`` with ``VERDICT_SCHEMA``
(``detector.lake.schema``); decide writes it, the campaign pass rewrites it to tag campaign
members. Both go through :func:`write_verdict_day`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from detector.lake.db import connect
from detector.lake.io import write_parquet_atomic
from detector.lake.schema import VERDICT_SCHEMA
from detector.settings import Settings

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

VERDICT_FILE = "verdicts.parquet"

CONTRACT_COLUMNS = ["account_id", "date", "score", "decision", "reasons", "cluster_id"]
#: ``risk`` (``detector.decide.risk``) and ``not_evaluable`` (acting rules whose inputs were
#: missing that day, ";"-separated; never part of ``reasons``) are NULL for verdict files
#: written before they existed.
EXTRA_COLUMNS = ["model_score", "anomaly_score", "model_version", "ruleset_hash", "run_id",
                 "risk", "not_evaluable"]


def verdict_path(settings: Settings, day: str) -> Path:
    """``verdicts/date=D/verdicts.parquet`` of ``settings``' home (the file may not exist)."""
    return settings.verdicts_dir / f"date={day}" / VERDICT_FILE


def write_verdict_day(settings: Settings, day: str, table: pa.Table) -> Path:
    """Replace the verdict file of ``day`` atomically with ``table`` (``VERDICT_SCHEMA``)."""
    if table.schema != VERDICT_SCHEMA:
        table = table.cast(VERDICT_SCHEMA)
    path = verdict_path(settings, day)
    write_parquet_atomic(path, table)
    return path


def load_verdicts(settings: Settings, date: str | None = None,
                  columns: list[str] | None = None) -> pd.DataFrame:
    """Verdict rows (all evaluated days, or one), ordered by date then score descending
    (equal scores: higher risk first)."""
    import pandas as pd

    con = connect(settings)
    cols = columns or CONTRACT_COLUMNS + EXTRA_COLUMNS
    names = set(con.sql("SELECT * FROM verdicts LIMIT 0").columns) if _has(con) else set()
    if not names:
        return pd.DataFrame(columns=cols)
    select = ", ".join(c if c in names else f"NULL AS {c}" for c in cols)
    where = "WHERE date = CAST(? AS DATE)" if date else ""
    params = [date] if date else []
    order = "date, score DESC, " + ("risk DESC NULLS LAST, " if "risk" in names else "")
    df = con.execute(f"SELECT {select} FROM verdicts {where} ORDER BY {order}account_id",
                     params).df()
    if "date" in df.columns:
        df["date"] = pd.to_datetime(df["date"]).dt.strftime("%Y-%m-%d")
    return df


def _has(con) -> bool:
    return bool(con.execute("SELECT count(*) FROM duckdb_views() WHERE view_name = 'verdicts'").fetchone()[0])


def evaluated_dates(settings: Settings) -> list[str]:
    root = settings.verdicts_dir
    return sorted(p.name.split("=", 1)[1] for p in root.glob("date=*") if (p / VERDICT_FILE).exists())


def verdict_for(verdicts_dir: Path, account_id: str, day: str | None = None,
                max_files: int = 400) -> dict[str, Any] | None:
    """The account's newest verdict row dated on or before ``day`` (any day when None), from
    the newest ``max_files`` verdict files: what an analyst decision event carries."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    files = sorted(Path(verdicts_dir).glob(f"date=*/{VERDICT_FILE}"), reverse=True)
    for path in files[:max_files]:
        if day is not None and path.parent.name.split("=", 1)[1] > day:
            continue
        try:
            t = pq.read_table(path, filters=[("account_id", "==", account_id)])
        except (OSError, ValueError, pa.ArrowException):
            continue
        if t.num_rows:
            row = t.slice(t.num_rows - 1).to_pylist()[0]
            reasons = row.get("reasons") or ""
            return {
                "verdict_date": path.parent.name.split("=", 1)[1],
                "verdict_decision": row.get("decision"),
                "score": None if row.get("score") is None else round(float(row["score"]), 6),
                "reasons": [x for x in str(reasons).split(";") if x],
                "cluster_id": row.get("cluster_id") or None,
                "model_version": row.get("model_version"),
                "ruleset_hash": row.get("ruleset_hash"), "run_id": row.get("run_id"),
            }
    return None
