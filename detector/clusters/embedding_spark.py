"""Centroid (embedding) edges on a Spark cluster (``engine = "spark"``): the cosine of each
candidate pair's centroids on the executors; only one number per pair comes back.

The driver (``window.embedding_edges``) gathers both centroids of every candidate pair from the
day's centroids it holds (``centroids.centroid_table``). Here the candidate pairs (on the driver
already: ``window.verify_candidates``) are sent to the cluster as a Parquet file of a scratch
folder read by URI (``lake.spark.sent_view``: not rows in the query plan), the embeddings
stage's stored centroids (``embeddings/centroids/date=D/part-0.parquet``, one row per account)
are read there by URI (``spark_path``: the home's ``embeddings/`` folder must be on storage
every executor reaches at the same path) and joined to both ends of each pair, and
:class:`Cosines` (``mapInArrow``) centres and scales both rows and takes their cosine with the
driver's own numpy code (``centroids.unit_rows``, ``centroids.row_cosines``: float32, row by
row, so a row's bits do not depend on the batch it is in). The day's mean centroid they are
centred on is computed on the cluster too (:func:`centroid_mean`): each coordinate split into
the integer parts of ``detector.clusters.exact``, summed per dimension on the executors
(integers: the same in any order of partitions), the sums (one row per dimension) divided on the
driver by ``centroids.mean_from_sums``, the driver's own definition, so the mean is
``centroid_table``'s bits; it is pickled with :class:`Cosines` (a few hundred float32s). The
cosines come back as float32 and the driver's ``centroids.embedding_frame`` makes the edges, so
weights and evidence are the driver's bits (``tests/clusters/test_embedding_spark.py``), given
the same numpy on both sides (one virtualenv). The driver never reads every account's centroid:
the cluster features' ``clu_centroid_spread`` needs the clustered accounts' only
(:func:`unit_centroids_of`; their names sent as the pairs are).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from detector.clusters import daycache, exact, store
from detector.clusters.centroids import (
    embedding_frame,
    list_matrix,
    mean_from_sums,
    row_cosines,
    unit_rows,
)
from detector.clusters.keys import PAIR_COLUMNS
from detector.errors import InputError
from detector.lake.spark import sent_view, spark_path
from detector.settings import Settings

_CENTROID_SCHEMA = "account_id string, centroid array<float>"
_COS_SCHEMA = "src string, dst string, cos float"

#: Spark SQL over views ``dg_emb_pairs`` (src, dst) and ``dg_emb_centroids``: each pair whose
#: accounts both have a non-empty centroid, with both (``size`` of a null list is -1).
_JOIN_SQL = """
    WITH c AS (SELECT account_id, centroid FROM dg_emb_centroids WHERE size(centroid) > 0)
    SELECT p.src, p.dst, a.centroid AS ca, b.centroid AS cb
    FROM dg_emb_pairs p JOIN c a ON a.account_id = p.src JOIN c b ON b.account_id = p.dst"""


class Cosines:
    """``mapInArrow`` function: rows (src, dst, ca, cb: raw stored centroids of one length) ->
    (src, dst, cos: float32), both rows centred on ``mean`` and scaled to unit length first.
    Pickled to the executors by reference, with the mean."""

    def __init__(self, mean: np.ndarray | float):
        self.mean = mean

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            if batch.num_rows == 0:
                continue
            a = unit_rows(list_matrix(batch.column("ca")), self.mean)
            b = unit_rows(list_matrix(batch.column("cb")), self.mean)
            cos = row_cosines(a, b)
            yield pa.RecordBatch.from_arrays(
                [batch.column("src"), batch.column("dst"), pa.array(cos, pa.float32())],
                names=["src", "dst", "cos"])


@contextmanager
def cosine_query(spark: Any, settings: Settings, day: str, pairs: pd.DataFrame,
                 mean: np.ndarray | float) -> Iterator[Any]:
    """The Spark DataFrame (src, dst, cos float32) of :func:`pair_cosines`, the pairs sent by
    ``sent_view`` as view ``dg_emb_pairs``; it can be run inside the block only."""
    table = pa.table({"src": pa.array(pairs["src"].astype(str).tolist(), pa.string()),
                      "dst": pa.array(pairs["dst"].astype(str).tolist(), pa.string())})
    _centroid_view(spark, settings, day)
    with sent_view(spark, settings, daycache.cache_root(settings), "dg_emb_pairs", table,
                   "src string, dst string"):
        yield spark.sql(_JOIN_SQL).mapInArrow(Cosines(mean), _COS_SCHEMA)


def pair_cosines(spark: Any, settings: Settings, day: str, pairs: pd.DataFrame,
                 mean: np.ndarray | float) -> pd.DataFrame:
    """(src, dst, cos float32) of the pairs of ``pairs`` whose accounts both have a stored
    centroid on ``day``, computed on the cluster; in no particular order."""
    with cosine_query(spark, settings, day, pairs, mean) as query:
        return query.toArrow().to_pandas()


def _centroid_view(spark: Any, settings: Settings, day: str) -> bool:
    """View ``dg_emb_centroids`` of ``day``'s stored centroids, read by URI; False when the
    embeddings stage wrote none."""
    if not store.centroid_path(settings, day).exists():
        return False
    path = spark_path(settings, store.centroid_path(settings, day))
    spark.read.schema(_CENTROID_SCHEMA).parquet(path).createOrReplaceTempView(
        "dg_emb_centroids")
    return True


#: Spark SQL over view ``dg_emb_centroids``: per dimension (``pos``) of the non-empty
#: centroids, the sums of their ``exact`` parts and how many centroids reach it.
_SUMS_SQL = f"""
    SELECT pos, sum(hi) AS hi, sum(lo) AS lo, count(*) AS n FROM (
        SELECT pos, {exact.hi_sql("v")} AS hi, {exact.lo_sql("v")} AS lo
        FROM dg_emb_centroids LATERAL VIEW posexplode(centroid) e AS pos, v
        WHERE size(centroid) > 0) d
    GROUP BY pos"""


def centroid_mean(spark: Any, settings: Settings, day: str) -> np.ndarray | float | None:
    """The mean ``centroids.centroid_table`` centres ``day``'s centroids on, the same bits,
    computed on the cluster: the per-dimension sums of the exact parts (integers: any order of
    partitions gives the same) come back, one row per dimension, and the driver divides
    (``centroids.mean_from_sums``). None when the day has no non-empty stored centroid."""
    if not _centroid_view(spark, settings, day):
        return None
    got = spark.sql(_SUMS_SQL).toArrow().sort_by("pos")
    if got.num_rows == 0:
        return None
    n = got.column("n").to_numpy()
    if (n != n[0]).any():
        sizes = sorted(r[0] for r in spark.sql(
            "SELECT DISTINCT size(centroid) FROM dg_emb_centroids WHERE size(centroid) > 0"
        ).collect())
        raise InputError(f"clusters: centroids of {day} in {store.centroid_path(settings, day)} "
                         f"have mixed lengths {sizes}")
    return mean_from_sums(got.column("hi").to_numpy(), got.column("lo").to_numpy(), int(n[0]))


def unit_centroids_of(spark: Any, settings: Settings, day: str, accounts: list[str],
                      mean: np.ndarray | float | None) -> dict[str, np.ndarray]:
    """Unit centred centroids (``centroids.unit_rows`` on ``mean``, row by row: the bits of
    ``centroid_table``'s rows) of those of ``accounts`` with a non-empty stored centroid on
    ``day``, read on the cluster: only their rows come back."""
    if not accounts or mean is None or not _centroid_view(spark, settings, day):
        return {}
    wanted = pa.table({"account_id": pa.array(sorted(set(accounts)), pa.string())})
    with sent_view(spark, settings, daycache.cache_root(settings), "dg_emb_wanted", wanted,
                   "account_id string"):
        got = spark.sql("SELECT c.account_id, c.centroid FROM dg_emb_centroids c "
                        "LEFT SEMI JOIN dg_emb_wanted w ON c.account_id = w.account_id "
                        "WHERE size(c.centroid) > 0").toArrow()
    if got.num_rows == 0:
        return {}
    x = unit_rows(list_matrix(got.column("centroid")), mean)
    return {a: x[k] for k, a in enumerate(got.column("account_id").to_pylist())}


def embedding_edges(spark: Any, settings: Settings, day: str, cands: pd.DataFrame,
                    mean: np.ndarray | float, min_cos: float) -> pd.DataFrame:
    """``window.embedding_edges`` of the candidate pairs ``cands`` (src, dst; unique), the
    cosines computed on the cluster from ``day``'s stored centroids centred on ``mean``."""
    if cands.empty or not store.centroid_path(settings, day).exists():
        return pd.DataFrame(columns=PAIR_COLUMNS)
    got = pair_cosines(spark, settings, day, cands, mean)
    sub = cands[["src", "dst"]].merge(got, on=["src", "dst"], how="inner")  # cands' order
    if sub.empty:
        return pd.DataFrame(columns=PAIR_COLUMNS)
    cos = sub.pop("cos").to_numpy(dtype=np.float32)
    return embedding_frame(sub, cos, min_cos)
