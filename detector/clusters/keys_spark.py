"""Blocking-key edges of a window on a Spark cluster (``engine = "spark"`` with the day caches):
the key rows are built on the executors from the cached key tables; only the pairs come back.

On the driver (``window.key_edges`` with ``cached``) DuckDB reads the window's cached
``payment``, ``ip``, ``prefix`` and ``profile`` tables (``daycache.open_window``: the rows of the
accounts active on the clustered day) and builds each family's distinct key rows (key, slot,
account_id, factor) from them. Here the same files are read by URI (``spark_path``, as
``templates_spark`` reads ``scaffold.parquet``) into the views of :data:`VIEWS`, kept for the
accounts active on the day (those of its ``minutes.parquet``); the same key SQL
(``keys.cached_payment_sql``, ``cached_address_sql``, ``fingerprint_sql``: one text for both
engines, given the view names) and :func:`key_rows_sql` (``keys.key_rows_sql`` in Spark's
spelling) make the key rows there, and ``spark_sql.key_pairs`` / ``star_pairs`` pair them. So
the driver sends SQL text and receives pairs; no key row passes through it. The same pairs as
the driver's, weights and evidence bit for bit (``tests/clusters/test_keys_spark.py``).

The creation-time keys (:func:`creation_edges`) come from the day's node table built on the
executors from its request files (``nodes_spark``: each account's earliest
``account_created_at``, the driver's ``nodes.created_at``) and ``keys.creation_sql`` (one text
for both engines, given ``engine="spark"`` and the view name) make the key rows there.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from detector.clusters import daycache, keys, nodes_spark, spark_sql
from detector.clusters.params import ClusterParams
from detector.lake.spark import spark_path
from detector.settings import Settings

#: The cached key tables the key SQL reads, as Spark views (the driver's are ``win_<name>``).
VIEWS = {"payment": "dg_key_payment", "ip": "dg_key_ip", "prefix": "dg_key_prefix",
         "profile": "dg_key_profile"}

#: Columns of the day cache's key tables (``daycache.day_sql``), given: no job reads a footer.
_SCHEMAS = {"payment": "account_id string, key string",
            "ip": "account_id string, key string, slot long",
            "prefix": "account_id string, key string, slot long",
            "profile": "account_id string, key string, generic boolean, c long"}


def key_rows_sql(key_sql: str, star: bool = False) -> str:
    """Spark SQL: ``keys.key_rows_sql`` (distinct key rows, nulls dropped) with the columns the
    pairing reads (``slot`` BIGINT, ``factor`` DOUBLE, as the driver casts them)."""
    cols = "key, account_id" if star else "key, slot, account_id, factor"
    rows = (f"SELECT DISTINCT CAST(key AS STRING) AS {cols} FROM ({key_sql}) k "
            "WHERE key IS NOT NULL AND account_id IS NOT NULL")
    if star:
        return rows
    return ("SELECT key, CAST(slot AS BIGINT) AS slot, account_id, "
            f"CAST(factor AS DOUBLE) AS factor FROM ({rows}) d")


def window_views(spark: Any, settings: Settings, day: str, days: int,
                 params: ClusterParams) -> bool:
    """The views of :data:`VIEWS`: the window's cached key tables (read by URI) for the
    accounts active on ``day``; False when the day has no cached tables in the window."""
    key = daycache.cache_key(params)
    in_window = daycache.window_days(settings, day, days)
    if day not in in_window:
        return False
    minutes = spark_path(settings, daycache.day_dir(settings, day, key) / "minutes.parquet")
    (spark.read.schema("account_id string").parquet(minutes).distinct()
     .createOrReplaceTempView("dg_key_nodes"))
    for name, view in VIEWS.items():
        files = [spark_path(settings, daycache.day_dir(settings, d, key) / f"{name}.parquet")
                 for d in in_window]
        spark.read.schema(_SCHEMAS[name]).parquet(*files).createOrReplaceTempView(f"{view}_all")
        spark.sql(f"SELECT x.* FROM {view}_all x LEFT SEMI JOIN dg_key_nodes n "
                  "ON x.account_id = n.account_id").createOrReplaceTempView(view)
    return True


def key_edges(spark: Any, settings: Settings, day: str, days: int, p: ClusterParams,
              specs: list[tuple[str, str, dict[str, Any]]]) -> list[pd.DataFrame]:
    """The pairs of each key family of ``specs`` (edge type, key SQL over :data:`VIEWS`, pairing
    arguments; ``star``: ``star_pairs``), on the cluster, for the window of ``days`` days
    ending on ``day`` (its day caches built)."""
    if not window_views(spark, settings, day, days, p):
        return []
    out = []
    for edge_type, sql, kw in specs:
        kw = dict(kw)
        if kw.pop("star", False):
            rows = spark.sql(key_rows_sql(sql, star=True))
            out.append(spark_sql.star_pairs(spark, rows, edge_type, p.max_key_accounts))
        else:
            rows = spark.sql(key_rows_sql(sql))
            out.append(spark_sql.key_pairs(spark, rows, edge_type, p.max_key_accounts, **kw))
    return out


def creation_nodes(spark: Any, settings: Settings, day: str) -> bool:
    """View ``dg_creation_nodes``: each account of ``day``'s request files (read by URI on the
    executors) with its earliest ``account_created_at`` (``pipeline._nodes``'s ``created_at``):
    the day's node table (``nodes_spark.frame``: the one the stage keeps on the executors
    while it clusters the day); False when the day has no request file."""
    nodes = nodes_spark.frame(spark, settings, day)
    if nodes is None:
        return False
    nodes.select("account_id", "created_at").createOrReplaceTempView("dg_creation_nodes")
    return True


def creation_edges(spark: Any, settings: Settings, day: str,
                   p: ClusterParams) -> list[pd.DataFrame]:
    """The creation-time pairs of ``day`` (unshifted buckets, then half-shifted), the key rows
    built and paired on the cluster: ``window.creation_edges``'s parts."""
    if not creation_nodes(spark, settings, day):
        return []
    return [spark_sql.key_pairs(spark, spark.sql(key_rows_sql(keys.creation_sql(
        p.creation_bucket_s, shift, engine="spark", nodes="dg_creation_nodes"))), "creation",
        p.max_key_accounts, weigh="factor", min_weight=p.min_edge_weight)
        for shift in (False, True)]
