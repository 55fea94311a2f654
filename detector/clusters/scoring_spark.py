"""Pair scoring on a Spark cluster (``engine = "spark"``): ``scoring.best_edges`` +
``scoring.score_pairs`` in one Spark SQL query over the day's typed edges.

The typed edges of every window (on the driver already: each edge family's pairs come back from
the cluster) are sent without their evidence (row number, src, dst, edge_type, window, weight),
as a Parquet file of a scratch folder read by URI (``lake.spark.sent_view``: not rows in the
query plan); on the executors each (src, dst, edge_type) keeps its strongest row (largest
weight, then the smallest window name, then the first row: the driver's stable sort and
``drop_duplicates``), each pair takes the largest weight of each family, their sum left to right
in ``FAMILY_NAMES`` order (the driver's row sum over at most 8 columns adds in that order too),
the families at ``family_min_weight`` and the link rule. One row per pair comes back with its
family weights, score, family count, link flag and the row numbers of its strongest edges, from
which the driver takes ``best`` (the rows themselves, evidence included). The same pairs and the
same strongest edges as the driver's, bit for bit (``tests/clusters/test_scoring_spark.py``);
``best`` comes back in the edges' order rather than by weight (its one reader,
``pipeline._stored_edges``, sorts by pair and type).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from detector.clusters import daycache
from detector.clusters.params import FAMILIES, ClusterParams
from detector.clusters.scoring import FAMILY_NAMES, best_edges, score_pairs
from detector.lake.spark import sent_view
from detector.settings import Settings

_EDGES_SCHEMA = "rid long, src string, dst string, edge_type string, `window` string, weight double"


def _double(x: float) -> str:
    return f"CAST({float(x)!r} AS DOUBLE)"


def _quote(s: str) -> str:
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


def score_sql(p: ClusterParams) -> str:
    """Spark SQL over view ``dg_sc_edges``: one row per pair (src, dst, one weight column per
    family, score, n_families, linked, rids: the row numbers of its strongest edges)."""
    family = "CASE edge_type " + " ".join(
        f"WHEN {_quote(t)} THEN {_quote(f)}" for t, f in FAMILIES.items()) + " END"
    weights = ",\n           ".join(
        f"coalesce(max(CASE WHEN family = {_quote(f)} THEN weight END), 0.0D) AS `{f}`"
        for f in FAMILY_NAMES)
    score = " + ".join(f"`{f}`" for f in FAMILY_NAMES)
    fmin = _double(p.family_min_weight)
    n_fam = " + ".join(f"CASE WHEN `{f}` >= {fmin} THEN 1 ELSE 0 END" for f in FAMILY_NAMES)
    return f"""
    WITH b AS (SELECT rid, src, dst, weight, {family} AS family FROM (
                   SELECT *, row_number() OVER (PARTITION BY src, dst, edge_type
                                                ORDER BY weight DESC, `window`, rid) AS k
                   FROM dg_sc_edges) r
               WHERE k = 1),
    w AS (SELECT src, dst,
           {weights},
           collect_list(rid) AS rids
          FROM b WHERE family IS NOT NULL GROUP BY src, dst),
    s AS (SELECT *, {score} AS score, CAST({n_fam} AS BIGINT) AS n_families FROM w)
    SELECT src, dst, {', '.join(f'`{f}`' for f in FAMILY_NAMES)}, score, n_families,
           `payment` >= 1.0D OR (n_families >= {int(p.link_min_families)}
                                 AND score >= {_double(p.link_min_score)}) AS linked,
           rids
    FROM s"""


@contextmanager
def score_query(spark: Any, settings: Settings, edges: pd.DataFrame,
                p: ClusterParams) -> Iterator[Any]:
    """The Spark DataFrame of :func:`score_sql` over ``edges`` (their row numbers as ``rid``;
    sent by ``sent_view`` as view ``dg_sc_edges``, the scratch folder in the home's cluster
    cache); it can be run inside the block only."""
    table = pa.table({
        "rid": pa.array(np.arange(len(edges), dtype=np.int64)),
        "src": pa.array(edges["src"].astype(str).tolist(), pa.string()),
        "dst": pa.array(edges["dst"].astype(str).tolist(), pa.string()),
        "edge_type": pa.array(edges["edge_type"].astype(str).tolist(), pa.string()),
        "window": pa.array(edges["window"].astype(str).tolist(), pa.string()),
        "weight": pa.array(edges["weight"].to_numpy(dtype=np.float64), pa.float64())})
    with sent_view(spark, settings, daycache.cache_root(settings), "dg_sc_edges", table,
                   _EDGES_SCHEMA):
        yield spark.sql(score_sql(p))


def score(spark: Any, settings: Settings, edges: pd.DataFrame,
          p: ClusterParams) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(best, pairs): ``scoring.best_edges(edges)`` (in the edges' order) and
    ``scoring.score_pairs`` of it (sorted by src, dst, as the driver's), computed on the
    cluster; the home's cluster cache holds the edges' scratch file meanwhile."""
    if edges.empty:
        best = best_edges(edges)
        return best, score_pairs(best, p)
    with score_query(spark, settings, edges, p) as query:
        got = query.toArrow()
    rids = np.sort(got.column("rids").combine_chunks().flatten().to_numpy())
    best = edges.iloc[rids].reset_index(drop=True)
    pairs = (got.drop_columns(["rids"]).to_pandas()
             .sort_values(["src", "dst"], ignore_index=True))
    pairs["n_families"] = pairs["n_families"].astype("int64")
    pairs["linked"] = pairs["linked"].astype(bool)
    return best, pairs.rename_axis(columns="family")  # named as the driver's pivot names it
