"""Reading verdicts back: SQL over the files with the full current row (``READ_SCHEMA``), so no
reader carries its own "column or NULL" list.

- :func:`source_sql` / :func:`register`: a DuckDB relation (view ``verdicts``) over every day or
  given files; a column a file lacks reads as its default (``schema.DEFAULTS``: NULL);
- :func:`connect`: a lake connection (``detector.lake.db.connect``) with that view;
- :func:`read` / :func:`load_verdicts`: rows as a DataFrame, filtered by day, account and
  decision in SQL; :func:`evaluated_days`, :func:`verdict_for` for the hooks and the case store.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from detector.lake.db import connect as lake_connect
from detector.lake.db import open_duckdb
from detector.settings import Settings
from detector.verdicts.paths import VERDICT_FILE, evaluated_dates, root, verdict_files
from detector.verdicts.schema import CONTRACT_COLUMNS, EXTRA_COLUMNS, READ_SCHEMA, select_list

if TYPE_CHECKING:
    import pandas as pd

VIEW = "verdicts"


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def source_sql(con: duckdb.DuckDBPyConnection, files: list[Path] | Path | None,
               columns: list[str] | None = None) -> str:
    """SELECT of the current row (or ``columns``) over ``files``: a list of verdict files, or
    a verdict folder (globbed when a query runs); None or [] gives no rows. A column no file
    has reads as its default (NULL); a day's ``date`` is its folder's. Only the columns asked
    for are read from the files."""
    if files is None or (isinstance(files, list) and not files):
        return f"SELECT {select_list(set(), columns)} WHERE false"
    if isinstance(files, list):
        src = "[" + ", ".join(_quote(str(p)) for p in files) + "]"
    else:
        src = _quote(str(Path(files) / "date=*" / VERDICT_FILE))
    src = f"read_parquet({src}, hive_partitioning = true, union_by_name = true)"
    present = {r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {src}").fetchall()}
    return f"SELECT {select_list(present, columns)} FROM {src}"


def register(con: duckdb.DuckDBPyConnection, settings: Settings | Path,
             name: str = VIEW) -> bool:
    """Create or replace view ``name`` over every verdict day of the home (an empty view with
    the full row when there is none; the columns present are those of the files at this
    call). True when there is at least one verdict file."""
    folder = root(settings)
    has = bool(verdict_files(folder))
    con.execute(f"CREATE OR REPLACE VIEW {name} AS {source_sql(con, folder if has else None)}")
    return has


def connect(settings: Settings, threads: int | None = None) -> duckdb.DuckDBPyConnection:
    """A lake connection (views ``requests``, ``quarantine``, ``features_daily``) plus view
    ``verdicts`` (:func:`register`)."""
    con = lake_connect(settings, threads)
    register(con, settings)
    return con


def evaluated_days(where: Settings | duckdb.DuckDBPyConnection,
                   name: str = VIEW) -> list[dt.date]:
    """Days that have verdict rows, oldest first: of a home (``Settings``), or of view ``name``
    of a connection (:func:`connect`)."""
    if isinstance(where, Settings):
        files = [p for _, p in verdict_files(root(where))]
        if not files:
            return []
        con = open_duckdb()
        try:
            return [r[0] for r in con.execute(
                f"SELECT DISTINCT date FROM ({source_sql(con, files, ['date'])}) "
                "ORDER BY 1").fetchall()]
        finally:
            con.close()
    try:
        return [r[0] for r in where.execute(
            f"SELECT DISTINCT CAST(date AS DATE) FROM {name} ORDER BY 1").fetchall()]
    except duckdb.CatalogException:
        return []


def _in(column: str, values: Iterable[Any] | None, cast: str, where: list[str],
        params: list[Any]) -> None:
    if values is None:
        return
    vals = list(values)
    if not vals:
        where.append("false")
        return
    where.append(f"{column} IN ({', '.join(f'CAST(? AS {cast})' for _ in vals)})")
    params.extend(str(v) for v in vals)


def read(settings: Settings, columns: list[str] | None = None,
         days: Iterable[str | dt.date] | None = None, accounts: Iterable[str] | None = None,
         decisions: Iterable[str] | None = None, order: str = "date, account_id",
         limit: int | None = None) -> pd.DataFrame:
    """Verdict rows with the full current row (or ``columns``), filtered in SQL by ``days``,
    ``accounts`` and ``decisions`` (None: no filter). Only the days asked for are opened.
    ``date`` comes back as a date."""
    import pandas as pd

    cols = columns or READ_SCHEMA.names
    folder = root(settings)
    files = verdict_files(folder)
    if days is not None:
        wanted = {str(d)[:10] for d in days}
        files = [(d, p) for d, p in files if d in wanted]
    if not files:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
    where: list[str] = []
    params: list[Any] = []
    _in("account_id", accounts, "VARCHAR", where, params)
    _in("decision", decisions, "VARCHAR", where, params)
    con = open_duckdb()
    try:
        con.execute("SET TimeZone = 'UTC'")
        source = source_sql(con, [p for _, p in files])  # columns pruned by the outer SELECT
        sql = (f"SELECT {', '.join(chr(34) + c + chr(34) for c in cols)} FROM ({source})"
               + (f" WHERE {' AND '.join(where)}" if where else "")
               + (f" ORDER BY {order}" if order else "")
               + (f" LIMIT {int(limit)}" if limit is not None else ""))
        return con.execute(sql, params).df()
    finally:
        con.close()


def load_verdicts(settings: Settings, date: str | None = None,
                  columns: list[str] | None = None) -> pd.DataFrame:
    """Verdict rows (all evaluated days, or one), ordered by date then score descending
    (equal scores: higher risk first); ``date`` as YYYY-MM-DD text."""
    import pandas as pd

    cols = columns or CONTRACT_COLUMNS + EXTRA_COLUMNS
    if not evaluated_dates(settings):
        return pd.DataFrame(columns=cols)
    df = read(settings, cols, days=[date] if date else None,
              order="date, score DESC, risk DESC NULLS LAST, account_id")
    if "date" in df.columns:
        df["date"] = pd.to_datetime(df["date"]).dt.strftime("%Y-%m-%d")
    return df


def verdict_for(home: Settings | Path, account_id: str, day: str | None = None,
                max_files: int = 400) -> dict[str, Any] | None:
    """The account's newest verdict row dated on or before ``day`` (any day when None), from
    the newest ``max_files`` verdict files of the home (``Settings`` or the home folder): what
    an analyst decision event carries (``explanation_json``: for its structured reasons)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    files = sorted(verdict_files(root(home)), reverse=True)
    for file_day, path in files[:max_files]:
        if day is not None and file_day > day:
            continue
        try:
            t = pq.read_table(path, filters=[("account_id", "==", account_id)])
        except (OSError, ValueError, pa.ArrowException):
            continue
        if t.num_rows:
            row = t.slice(t.num_rows - 1).to_pylist()[0]
            reasons = row.get("reasons") or ""
            return {
                "verdict_date": file_day,
                "verdict_decision": row.get("decision"),
                "score": None if row.get("score") is None else round(float(row["score"]), 6),
                "reasons": [x for x in str(reasons).split(";") if x],
                "cluster_id": row.get("cluster_id") or None,
                "model_version": row.get("model_version"),
                "ruleset_hash": row.get("ruleset_hash"), "run_id": row.get("run_id"),
                "explanation_json": row.get("explanation_json"),
            }
    return None
