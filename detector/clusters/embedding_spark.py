"""Centroid (embedding) edges on a Spark cluster (``engine = "spark"``): the cosine of each
candidate pair's centroids on the executors; only one number per pair comes back.

The driver (``window.embedding_edges``) gathers both centroids of every candidate pair from the
day's centroids it holds (``centroids.centroid_table``). Here the candidate pairs (on the driver
already: ``window.verify_candidates``) are sent to the cluster, the embeddings stage's stored
centroids (``embeddings/centroids/date=D/part-0.parquet``, one row per account) are read there
by URI (``spark_path``: the home's ``embeddings/`` folder must be on storage every executor
reaches at the same path) and joined to both ends of each pair, and :class:`Cosines`
(``mapInArrow``) centres and scales both rows and takes their cosine with the driver's own
numpy code (``centroids.unit_rows``, ``centroids.row_cosines``: float32, row by row, so a row's
bits do not depend on the batch it is in). The only thing the driver sends besides the pairs is
the day's mean centroid (``centroid_table``'s, a few hundred float32s, pickled with the
function once per task): that mean is a sum over every account in the driver's order, which
no partitioned sum would reproduce bit for bit. The cosines come back as float32 and the
driver's ``centroids.embedding_frame`` makes the edges, so weights and evidence are the driver's
bits (``tests/clusters/test_embedding_spark.py``), given the same numpy on both sides (one
virtualenv).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from detector.clusters import store
from detector.clusters.centroids import embedding_frame, list_matrix, row_cosines, unit_rows
from detector.clusters.keys import PAIR_COLUMNS
from detector.lake.spark import spark_path
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


def pair_cosines(spark: Any, settings: Settings, day: str, pairs: pd.DataFrame,
                 mean: np.ndarray | float) -> pd.DataFrame:
    """(src, dst, cos float32) of the pairs of ``pairs`` whose accounts both have a stored
    centroid on ``day``, computed on the cluster; in no particular order."""
    table = pa.table({"src": pa.array(pairs["src"].astype(str).tolist(), pa.string()),
                      "dst": pa.array(pairs["dst"].astype(str).tolist(), pa.string())})
    spark.createDataFrame(table, "src string, dst string").createOrReplaceTempView(
        "dg_emb_pairs")
    path = spark_path(settings, store.centroid_path(settings, day))
    spark.read.schema(_CENTROID_SCHEMA).parquet(path).createOrReplaceTempView(
        "dg_emb_centroids")
    got = spark.sql(_JOIN_SQL).mapInArrow(Cosines(mean), _COS_SCHEMA).toArrow()
    return got.to_pandas()


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
