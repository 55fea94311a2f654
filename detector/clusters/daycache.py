"""Per-day window ingredients, cached so a 7-day window merges days instead of re-reading them.

For each lake day D, ``clusters/cache/date=D/<key>/`` holds what every look-back window needs
from that day's requests, per account (every account active on D):

=====================  =================================================================
``payment.parquet``    account_id, key: distinct payment fingerprints
``ip.parquet``         account_id, key, slot: distinct (address, ``ip_slot_s`` slot)
``prefix.parquet``     account_id, key, slot: distinct (/24 or /48, slot)
``profile.parquet``    account_id, key, generic, c: requests per client profile
``scaffold.parquet``   account_id, prompt_hash, rk, shingles: the ``template_sample``
                       prompts of smallest rk = hash63(prompt_hash), each with its sorted
                       distinct word 3-gram hashes (``templates.sample_sql``; BIGINTs,
                       ``dialect.hash63``: an md5 prefix)
``minutes.parquet``    account_id, minute (epoch minutes), c: requests per minute
``manifest.json``      written last: key, parameters, rows, the lake partition's fingerprint,
                       the engine that built the day
=====================  =================================================================

A window then reads the cached days (``open_window``) and gives exactly what reading its raw
requests gives: address, payment and profile keys are unions of distinct rows or sums of
counts, and the sample of prompts of a window is the ``template_sample`` smallest ``rk`` over
the days' samples (the k smallest of a union are among the k smallest of each part).

``<key>`` hashes the cache version and the parameters the ingredients depend on, so a
changed parameter reads a new folder. A day is rebuilt when its partition changed (files
added, replaced or removed by a re-ingest or late data): the manifest keeps each file's name,
size and mtime.

Each table is one SQL text for both engines (:func:`day_sql`; spellings that differ between
them come from ``detector.clusters.dialect``): with ``engine = "spark"`` the day is built on
the cluster (``detector.clusters.daycache_spark``), the same rows and types as DuckDB's.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pyarrow.parquet as pq

from detector.clusters import daycache_spark, dialect, store
from detector.clusters.keys import GENERIC_UA_RE, profile_sql
from detector.clusters.params import ClusterParams
from detector.clusters.templates import sample_sql
from detector.lake.db import lake_dates
from detector.lake.io import atomic_path, write_bytes_atomic
from detector.settings import Settings

#: Bump when the content or meaning of a cached table changes (2: md5-prefix hashes, BIGINT
#: ``rk`` and ``shingles``, no longer DuckDB's ``hash``).
CACHE_VERSION = 2

TABLES: tuple[str, ...] = ("payment", "ip", "prefix", "profile", "scaffold", "minutes")

#: Accounts per range when the day's prompt sample is built (its text is held range by range).
ACCOUNTS_PER_RANGE = 20_000

#: Columns of the day's requests the key tables read (prompt text is read separately).
_DAY_COLUMNS = ("account_id", "ts", "client_ip", "ip_prefix", "user_agent",
                "payment_fingerprint", "max_tokens", "temperature", "logprobs", "top_logprobs",
                "system_hash")


def cache_root(settings: Settings) -> Path:
    """The cluster cache: a ``date=D`` folder per day (:func:`day_root`); the Spark engine's
    scratch files go in hidden ``.spark-*`` folders here (``lake.spark.sent_view``), which
    the ``date=*`` globs (:func:`prune`, the day readers) skip."""
    return store.clusters_root(settings) / "cache"


def cache_key(params: ClusterParams) -> str:
    """12 hex characters naming the parameters (and code versions) the ingredients depend on."""
    basis = {"version": CACHE_VERSION,
             "ip_slot_s": params.ip_slot_s, "template_sample": params.template_sample,
             "template_max_chars": params.template_max_chars, "generic_ua": GENERIC_UA_RE}
    return hashlib.blake2b(orjson.dumps(basis, option=orjson.OPT_SORT_KEYS),
                           digest_size=6).hexdigest()


def day_root(settings: Settings, day: str) -> Path:
    """The day's cache folder (``date=D``, a folder per cache key inside)."""
    return cache_root(settings) / f"date={day}"


def day_dir(settings: Settings, day: str, key: str) -> Path:
    return day_root(settings, day) / key


def lake_fingerprint(settings: Settings, day: str) -> list[list[Any]]:
    """(relative path, size, mtime_ns) of every committed Parquet file of the day's partition."""
    folder = settings.requests_dir / f"date={day}"
    if not folder.exists():
        return []
    out = []
    for p in sorted(folder.rglob("*.parquet")):
        if p.name.startswith("."):
            continue
        st = p.stat()
        out.append([p.relative_to(folder).as_posix(), st.st_size, st.st_mtime_ns])
    return out


def read_manifest(settings: Settings, day: str, key: str) -> dict[str, Any] | None:
    path = day_dir(settings, day, key) / "manifest.json"
    if not path.exists():
        return None
    try:
        return orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError:
        return None


def is_current(settings: Settings, day: str, key: str) -> bool:
    """True when the day's cache exists, is complete and matches the partition as it is now."""
    manifest = read_manifest(settings, day, key)
    if manifest is None or manifest.get("key") != key:
        return False
    files_ok = all((day_dir(settings, day, key) / f"{t}.parquet").exists() for t in TABLES)
    return files_ok and manifest.get("lake") == lake_fingerprint(settings, day)


def _copy(con: duckdb.DuckDBPyConnection, sql: str, target: Path) -> None:
    """Write the result of ``sql`` to ``target`` (Parquet, zstd), atomically."""
    with atomic_path(target) as tmp:
        con.execute(f"COPY ({sql}) TO '{_q(tmp)}' (FORMAT parquet, COMPRESSION zstd)")


def _account_ranges(con: duckdb.DuckDBPyConnection, per_range: int) -> list[tuple[Any, Any]]:
    """[lo, hi) bounds (hi None: open) splitting the accounts of ``_dc`` into runs of at most
    ``per_range`` in DuckDB's own order; one unbounded range when they fit in one."""
    firsts = [r[0] for r in con.execute(
        "SELECT account_id FROM (SELECT account_id, row_number() OVER (ORDER BY account_id) AS n "
        f"FROM (SELECT DISTINCT account_id FROM _dc)) WHERE (n - 1) % {int(per_range)} = 0 "
        "ORDER BY account_id").fetchall()]
    if len(firsts) <= 1:
        return [(None, None)]
    return [(None if k == 0 else lo, firsts[k + 1] if k + 1 < len(firsts) else None)
            for k, lo in enumerate(firsts)]


def _copy_by_account_range(con: duckdb.DuckDBPyConnection, sql: str, target: Path) -> None:
    """Write ``sql`` over view ``_dc_part`` to ``target`` one account range at a time (view
    ``_dc_part``: the range's rows of ``_dc_text``), atomically, into one Parquet file.

    ``sql`` is ordered by account first, so the ranges in order give the rows of the whole
    day in the same order; DuckDB's memory for the query is bounded by a range, not the day.
    """
    writer = None
    with atomic_path(target) as tmp:
        try:
            for lo, hi in _account_ranges(con, ACCOUNTS_PER_RANGE):
                cond = " AND ".join([*([f"account_id >= {_literal(lo)}"] if lo is not None else []),
                                     *([f"account_id < {_literal(hi)}"] if hi is not None else [])])
                con.execute("CREATE OR REPLACE TEMP VIEW _dc_part AS SELECT * FROM _dc_text "
                            f"WHERE {cond or 'true'}")
                reader = con.sql(sql).to_arrow_reader(batch_size=65_536)
                if writer is None:
                    writer = pq.ParquetWriter(tmp, reader.schema, compression="zstd")
                for batch in reader:
                    writer.write_batch(batch)
        finally:
            if writer is not None:
                writer.close()


def _literal(value: Any) -> str:
    """An account id as a SQL string literal."""
    return "'" + str(value).replace("'", "''") + "'"


def day_sql(params: ClusterParams, engine: str = "duckdb", day: str = "_dc",
            part: str = "_dc_part") -> dict[str, str]:
    """SQL per cached table (DuckDB or Spark SQL, ``engine``) over relation ``day`` (the day's
    rows with an account) and, for the prompt sample, ``part`` (the same rows with prompt
    text: on DuckDB an account range of them, ``_copy_by_account_range``).

    The big tables (addresses, minutes) are written unsorted: sorting 9M minute rows of a
    10M-request day took 11 s for a file half the size; readers aggregate anyway."""
    slot = dialect.slot("ts", params.ip_slot_s, engine)
    addr = (f"SELECT DISTINCT account_id, {{col}} AS key, {slot} AS slot FROM {day} "
            "WHERE {col} IS NOT NULL AND {col} <> ''")
    sample = sample_sql(part, params.template_sample, params.template_max_chars, engine=engine)
    return {
        "payment": ("SELECT DISTINCT account_id, CAST(payment_fingerprint AS STRING) AS key "
                    f"FROM {day} WHERE payment_fingerprint IS NOT NULL "
                    "AND payment_fingerprint <> '' ORDER BY account_id, key"),
        "ip": addr.format(col="client_ip"),
        "prefix": addr.format(col="ip_prefix"),
        "profile": f"SELECT * FROM ({profile_sql(day, engine)}) pr ORDER BY account_id, key",
        "scaffold": f"SELECT * FROM ({sample}) sc ORDER BY account_id, rk",
        "minutes": (f"SELECT account_id, {dialect.slot('ts', 60, engine)} AS minute, "
                    f"count(*) AS c FROM {day} GROUP BY ALL"),
    }


def build_day(con: duckdb.DuckDBPyConnection, settings: Settings, day: str,
              params: ClusterParams, spark: Any = None) -> dict[str, Any]:
    """Read the day's requests once and write its cached ingredients; returns the manifest.
    With ``spark`` (a SparkSession) the tables are computed and written on the cluster
    (``daycache_spark.write_day``), otherwise by DuckDB on ``con``.

    The manifest is removed first and written last, so a half-written folder never reads as
    complete. Folders of other keys for the day (older parameters) are removed.
    """
    t0 = time.perf_counter()
    key = cache_key(params)
    folder = day_dir(settings, day, key)
    fingerprint = lake_fingerprint(settings, day)
    (folder / "manifest.json").unlink(missing_ok=True)
    if spark is not None:
        view = daycache_spark.VIEW
        rows, seconds = daycache_spark.write_day(spark, settings, day,
                                                 day_sql(params, "spark", view, view), folder)
    else:
        rows, seconds = _write_day(con, day, params, folder)
    manifest = {"date": day, "key": key, "version": CACHE_VERSION,
                "engine": "duckdb" if spark is None else "spark",
                "params": {"ip_slot_s": params.ip_slot_s,
                           "template_sample": params.template_sample,
                           "template_max_chars": params.template_max_chars},
                "rows": rows, "lake": fingerprint, "steps_s": seconds,
                "seconds": round(time.perf_counter() - t0, 2)}
    write_bytes_atomic(folder / "manifest.json", orjson.dumps(manifest, option=orjson.OPT_INDENT_2))
    for other in folder.parent.iterdir():
        if other.is_dir() and other.name != key:
            shutil.rmtree(other, ignore_errors=True)
    return manifest


def _write_day(con: duckdb.DuckDBPyConnection, day: str, params: ClusterParams,
               folder: Path) -> tuple[dict[str, int], dict[str, float]]:
    """The DuckDB build: every table of ``day_sql`` into ``folder``; (rows, seconds) per table."""
    t0 = time.perf_counter()
    con.execute("CREATE OR REPLACE TEMP VIEW _dc_text AS SELECT * FROM requests "
                f"WHERE CAST(date AS DATE) = DATE '{day}' AND account_id IS NOT NULL")
    con.execute(f"CREATE OR REPLACE TEMP TABLE _dc AS SELECT {', '.join(_DAY_COLUMNS)} "
                "FROM _dc_text")
    rows, seconds = {}, {"read": round(time.perf_counter() - t0, 2)}
    for name, sql in day_sql(params).items():
        t = time.perf_counter()
        if name == "scaffold":  # reads prompt text: account range by account range
            _copy_by_account_range(con, sql, folder / f"{name}.parquet")
        else:
            _copy(con, sql, folder / f"{name}.parquet")
        seconds[name] = round(time.perf_counter() - t, 2)
        rows[name] = con.execute(
            f"SELECT count(*) FROM read_parquet('{_q(folder / f'{name}.parquet')}')").fetchone()[0]
    con.execute("DROP TABLE IF EXISTS _dc")
    con.execute("DROP VIEW IF EXISTS _dc_part")
    con.execute("DROP VIEW IF EXISTS _dc_text")
    return rows, seconds


def _q(path: Path) -> str:
    return str(path).replace("'", "''")


def window_days(settings: Settings, day: str, days: int) -> list[str]:
    """Lake days inside the window of ``days`` days ending on ``day``, oldest first."""
    end = date.fromisoformat(day)
    start = (end - timedelta(days=days - 1)).isoformat()
    return [d for d in lake_dates(settings) if start <= d <= day]


def ensure_days(con: duckdb.DuckDBPyConnection, settings: Settings, days: list[str],
                params: ClusterParams, spark: Any = None) -> dict[str, float]:
    """Build the cache of every day in ``days`` that is missing or stale (on the cluster with
    ``spark``, a SparkSession); seconds per build."""
    key = cache_key(params)
    built = {}
    for d in days:
        if not is_current(settings, d, key):
            built[d] = build_day(con, settings, d, params, spark)["seconds"]
    return built


def open_window(con: duckdb.DuckDBPyConnection, settings: Settings, day: str, days: int,
                params: ClusterParams, spark: Any = None) -> dict[str, float]:
    """Create the window's tables from the cached days (built first where missing or stale,
    on the cluster with ``spark``).

    Temp tables ``win_payment``, ``win_ip``, ``win_prefix``, ``win_profile`` and views
    ``win_scaffold``, ``win_minutes``: the cached rows of the window's days for the accounts
    of table ``nodes``. The key tables are read by several queries; the prompt samples and
    minute counts, the largest, by one each, straight from the cache files (not held in
    DuckDB's memory, whose share of the stage is capped). With ``spark`` every one is a view:
    the executors read the files themselves (``keys_spark``, ``templates_spark``,
    ``timing_spark``), so the driver holds none of their rows. Returns seconds spent building
    caches, per day built.
    """
    in_window = window_days(settings, day, days)
    built = ensure_days(con, settings, in_window, params, spark)
    key = cache_key(params)
    for name in TABLES:
        files = [day_dir(settings, d, key) / f"{name}.parquet" for d in in_window]
        src = ("read_parquet([" + ", ".join(f"'{_q(f)}'" for f in files) + "])" if files
               else _EMPTY[name])
        con.execute(f"CREATE OR REPLACE TEMP {_kind(name, spark)} win_{name} AS SELECT * "
                    f"FROM {src} WHERE account_id IN (SELECT account_id FROM nodes)")
    return built


def close_window(con: duckdb.DuckDBPyConnection, spark: Any = None) -> None:
    """Drop the window's tables and views (frees their memory before the next window);
    ``spark`` as given to :func:`open_window`."""
    for name in TABLES:
        con.execute(f"DROP {_kind(name, spark)} IF EXISTS win_{name}")


def _kind(name: str, spark: Any) -> str:
    """How :func:`open_window` holds ingredient ``name``: a view with ``spark``, else
    ``_KIND``'s."""
    return "VIEW" if spark is not None else _KIND[name]


#: How ``open_window`` holds each ingredient: a table (read by several queries) or a view.
_KIND = {"payment": "TABLE", "ip": "TABLE", "prefix": "TABLE", "profile": "TABLE",
         "scaffold": "VIEW", "minutes": "VIEW"}


#: Empty relations with the cached tables' columns (a window with no lake day at all).
_EMPTY = {
    "payment": "(SELECT NULL::VARCHAR AS account_id, NULL::VARCHAR AS key LIMIT 0)",
    "ip": "(SELECT NULL::VARCHAR AS account_id, NULL::VARCHAR AS key, NULL::BIGINT AS slot "
          "LIMIT 0)",
    "prefix": "(SELECT NULL::VARCHAR AS account_id, NULL::VARCHAR AS key, NULL::BIGINT AS slot "
              "LIMIT 0)",
    "profile": "(SELECT NULL::VARCHAR AS account_id, NULL::VARCHAR AS key, NULL::BOOLEAN AS "
               "generic, NULL::BIGINT AS c LIMIT 0)",
    "scaffold": "(SELECT NULL::VARCHAR AS account_id, NULL::VARCHAR AS prompt_hash, "
                "NULL::BIGINT AS rk, NULL::BIGINT[] AS shingles LIMIT 0)",
    "minutes": "(SELECT NULL::VARCHAR AS account_id, NULL::BIGINT AS minute, NULL::BIGINT AS c "
               "LIMIT 0)",
}


def prune(settings: Settings, keep_from: str) -> list[str]:
    """Remove cached days older than ``keep_from`` (no window of a later day reads them)."""
    root = cache_root(settings)
    removed = []
    if root.exists():
        for d in sorted(root.glob("date=*")):
            if d.name.split("=", 1)[1] < keep_from:
                shutil.rmtree(d, ignore_errors=True)
                removed.append(d.name.split("=", 1)[1])
    return removed
