"""DuckDB over the lake: one connection with views named after the stored tables.

Views: ``requests`` (lake/requests/date=*/part-*.parquet), ``quarantine``, ``features_daily``
(``detector.verdicts.connect`` adds ``verdicts``). A view whose folder has no files yet is an
empty table with the right columns where the schema is known, so queries never fail on a new
home.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa

from detector.lake.schema import QUARANTINE_SCHEMA, REQUEST_SCHEMA
from detector.settings import Settings


def _has_parquet(folder: Path) -> bool:
    return folder.exists() and any(folder.rglob("*.parquet"))


def _glob(folder: Path) -> str:
    return str(folder / "**" / "*.parquet").replace("'", "''")


def register_parquet_view(con: duckdb.DuckDBPyConnection, name: str, folder: Path,
                          empty_schema: pa.Schema | None = None) -> bool:
    """Create or replace view ``name`` over every Parquet file under ``folder``.

    Returns False (and creates an empty view when ``empty_schema`` is given) when there are none.
    Only names ending in ``.parquet`` are read, so the temporary files of atomic writes
    (``lake.io.atomic_path``: ``.<name>.<random>.tmp``) never are; DuckDB's glob does read
    names starting with '.', so nothing may stage ``.parquet`` files under a view's folder.
    """
    if _has_parquet(folder):
        con.execute(
            f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM read_parquet('{_glob(folder)}', "
            "hive_partitioning = true, union_by_name = true)"
        )
        return True
    if empty_schema is not None:
        con.register(f"_{name}_empty", empty_schema.empty_table())
        con.execute(f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM _{name}_empty")
    return False


def open_duckdb(database: str = ":memory:") -> duckdb.DuckDBPyConnection:
    """A DuckDB connection that prints nothing: every connection the package opens comes from here.

    DuckDB draws a progress bar on stdout for queries running over two seconds (on by default
    since DuckDB 2, also when stdout is not a terminal), which would corrupt the commands'
    machine-readable output (``ingest --json``, ``verdicts --format csv``) that hooks parse."""
    con = duckdb.connect(database)
    silence(con)
    return con


def silence(con: duckdb.DuckDBPyConnection) -> None:
    """Switch off DuckDB's progress bar and its printing on ``con`` (setting ``progress_bar_time``
    switches the bar itself back on). A cursor does not inherit the printing setting: silence
    it too."""
    try:
        con.execute("SET enable_progress_bar = false")
        con.execute("SET enable_progress_bar_print = false")
    except duckdb.InvalidInputException:
        # In a Jupyter kernel DuckDB refuses any change to these settings without ipywidgets
        # (it draws a widget there); a notebook's output is read by people, not parsed.
        pass


def connect(settings: Settings, threads: int | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with views over the home's lake and tables."""
    con = open_duckdb()
    n = threads or settings.threads
    if n:
        con.execute(f"SET threads = {int(n)}")
    con.execute("SET TimeZone = 'UTC'")
    register_parquet_view(con, "requests", settings.requests_dir, REQUEST_SCHEMA)
    register_parquet_view(con, "quarantine", settings.quarantine_dir, QUARANTINE_SCHEMA)
    register_parquet_view(con, "features_daily", settings.features_dir / "daily")
    return con


def request_files(settings: Settings, day: str) -> list[Path]:
    """Committed request partition files of ``day`` (temporary '.'-files excluded), sorted."""
    return _committed(settings.requests_dir / f"date={day}")


def sql_file_list(files: list) -> str:
    """``files`` as the body of a DuckDB list literal of quoted paths (``read_parquet([...])``)."""
    return ", ".join("'" + str(f).replace("'", "''") + "'" for f in files)


def _committed(folder: Path) -> list[Path]:
    if not folder.exists():
        return []
    return sorted(p for p in folder.glob("*.parquet") if not p.name.startswith("."))


def lake_dates(settings: Settings) -> list[str]:
    """Dates (YYYY-MM-DD) that have at least one committed request partition file."""
    root = settings.requests_dir
    if not root.exists():
        return []
    return [d.name.split("=", 1)[1] for d in sorted(root.glob("date=*")) if _committed(d)]
