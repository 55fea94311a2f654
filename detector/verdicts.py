"""Reading verdicts back: the public API behind `detector verdicts`, the API and the report."""

from __future__ import annotations

from typing import TYPE_CHECKING

from detector.lake.db import connect
from detector.settings import Settings

if TYPE_CHECKING:
    import pandas as pd

CONTRACT_COLUMNS = ["account_id", "date", "score", "decision", "reasons", "cluster_id"]
#: ``risk`` (``detector.decide.risk``) and ``not_evaluable`` (acting rules whose inputs were
#: missing that day, ";"-separated; never part of ``reasons``) are NULL for verdict files
#: written before they existed.
EXTRA_COLUMNS = ["model_score", "anomaly_score", "model_version", "ruleset_hash", "run_id",
                 "risk", "not_evaluable"]


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
    return sorted(p.name.split("=", 1)[1] for p in root.glob("date=*") if (p / "verdicts.parquet").exists())
