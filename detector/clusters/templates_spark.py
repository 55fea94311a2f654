"""Template edges on a Spark cluster (``engine = "spark"``): the window's scaffolds, MinHash
signatures and LSH banding on the executors; only the candidate pairs come back.

The same edges as ``templates.scaffold_rows_from_samples`` + ``templates.template_pairs`` on
the driver (``tests/scale/test_cluster_templates.py``):

1. The window's prompt samples are read from the day cache's ``scaffold.parquet`` files by URI
   (``spark_path``), kept for the accounts active on the clustered day (those of that day's
   ``minutes.parquet``); per account the ``template_sample`` prompts of smallest ``rk``, the
   shingles in two or more of them, minus shingles more than ``max_key_accounts`` accounts
   hold: each account's sorted scaffold set.
2. :class:`Signatures` (``mapInArrow``) applies ``minhash.permutation_signatures``, the
   driver's numpy code with its ``default_rng(seed)`` coefficients, to each partition's sets.
3. Accounts with identical signatures form a group (members sorted, the smallest the
   representative); a group of 2..``cap`` members links all its pairs (weight 1).
4. Representatives are banded (``minhash.lsh_bands``: bands x rows of the signature); those
   equal on a band are candidates (the pairs within each ``(band, band key)`` bucket, as
   ``minhash.band_pairs``); the estimated Jaccard is the share of equal positions. Each
   representative keeps its ``cap`` most similar higher-named candidates (ties by name) at
   or above the threshold; each kept pair links the first ``cap`` members of both groups.

The evidence JSON is built on the driver from the returned numbers (``templates.pair_frame``:
``orjson``, Python's ``round``), as the driver's own edges are.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from detector.clusters import daycache
from detector.clusters.params import ClusterParams
from detector.clusters.templates import pair_frame
from detector.features.minhash import lsh_bands, permutation_signatures
from detector.lake.spark import sent_view, spark_path
from detector.settings import Settings

_SIG_SCHEMA = "account_id string, n long, sig array<long>"
#: Columns of the day cache's ``scaffold.parquet`` (``templates.sample_sql``).
_SAMPLE_SCHEMA = "account_id string, prompt_hash string, rk long, shingles array<long>"


class Signatures:
    """``mapInArrow`` function: rows (account_id, shingles: a non-empty BIGINT list) ->
    (account_id, n: the set's size, sig: its ``num_perm`` MinHash values as BIGINTs, all below
    2^31). Pickled to the executors by reference."""

    def __init__(self, num_perm: int, seed: int):
        self.num_perm, self.seed = int(num_perm), int(seed)

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            if batch.num_rows == 0:
                continue
            sets = batch.column("shingles")
            lens = pc.list_value_length(sets).to_numpy(zero_copy_only=False).astype(np.int64)
            values = pc.list_flatten(sets).to_numpy(zero_copy_only=False).astype(np.int64)
            sig = permutation_signatures(values, lens, self.num_perm, self.seed).astype(np.int64)
            flat = pa.array(sig.ravel(), pa.int64())
            offsets = pa.array(np.arange(0, sig.size + 1, self.num_perm, dtype=np.int32))
            yield pa.RecordBatch.from_arrays(
                [batch.column("account_id"), pa.array(lens, pa.int64()),
                 pa.ListArray.from_arrays(offsets, flat)], names=["account_id", "n", "sig"])


def _sets_sql(sample: int, cap: int, accounts: str = "dg_tpl_nodes") -> str:
    """Spark SQL: (account_id, shingles) per account of view ``accounts`` with a scaffold, from
    the window's samples (view ``dg_tpl_samples``): ``scaffold_rows_from_samples``'s rules."""
    return f"""
    WITH s AS (SELECT * FROM dg_tpl_samples x LEFT SEMI JOIN {accounts} a
               ON x.account_id = a.account_id),
    g AS (SELECT account_id, prompt_hash, min(rk) AS rk, min(shingles) AS shingles
          FROM s GROUP BY account_id, prompt_hash),
    p AS (SELECT account_id, prompt_hash, shingles FROM (
              SELECT *, row_number() OVER (PARTITION BY account_id ORDER BY rk, prompt_hash)
                        AS n FROM g) r
          WHERE n <= {int(sample)}),
    sc AS (SELECT account_id, sh FROM (SELECT account_id, explode(shingles) AS sh FROM p) e
           GROUP BY account_id, sh HAVING count(*) >= 2),
    df AS (SELECT sh FROM sc GROUP BY sh HAVING count(*) <= {int(cap)})
    SELECT account_id, array_sort(collect_list(sh)) AS shingles
    FROM sc LEFT SEMI JOIN df ON sc.sh = df.sh GROUP BY account_id"""


def _pairs_sql(p: ClusterParams) -> str:
    """Spark SQL over view ``dg_tpl_groups`` (sig, members, rep, n, size): exact-group pairs
    and LSH pairs, one row per (src, dst) with the numbers of their evidence."""
    cap, num_perm = int(p.max_key_accounts), int(p.template_num_perm)
    bands, rows = lsh_bands(float(p.template_threshold), num_perm)
    threshold = f"CAST({float(p.template_threshold)!r} AS DOUBLE)"
    return f"""
    WITH exact AS (
        SELECT a AS src, b AS dst, 1.0D AS weight, 1.0D AS jaccard, size AS identical_group,
               n AS shingles, CAST(NULL AS BIGINT) AS other_shingles
        FROM (SELECT * FROM dg_tpl_groups WHERE size BETWEEN 2 AND {cap}) g
             LATERAL VIEW posexplode(members) x AS i, a
             LATERAL VIEW posexplode(members) y AS j, b
        WHERE i < j),
    banded AS (SELECT rep, band, slice(sig, band * {rows} + 1, {rows}) AS bkey
               FROM dg_tpl_groups LATERAL VIEW explode(sequence(0, {bands - 1})) t AS band),
    cand AS (SELECT DISTINCT x.rep AS lo, y.rep AS hi FROM banded x JOIN banded y
             ON x.band = y.band AND x.bkey = y.bkey AND x.rep < y.rep),
    jac AS (SELECT c.lo, c.hi, l.n AS n_lo, h.n AS n_hi, l.members AS m_lo, h.members AS m_hi,
                   CAST(size(filter(zip_with(l.sig, h.sig, (u, v) -> u = v), t -> t)) AS DOUBLE)
                       / {num_perm} AS jac
            FROM cand c JOIN dg_tpl_groups l ON c.lo = l.rep JOIN dg_tpl_groups h ON c.hi = h.rep),
    kept AS (SELECT * FROM (
                 SELECT *, row_number() OVER (PARTITION BY lo ORDER BY jac DESC, hi) AS k
                 FROM jac) r
             WHERE k <= {cap} AND jac >= {threshold}),
    lsh AS (SELECT a AS src, b AS dst, jac AS weight, jac AS jaccard,
                   CAST(NULL AS BIGINT) AS identical_group, n_lo AS shingles,
                   n_hi AS other_shingles
            FROM kept LATERAL VIEW explode(slice(m_lo, 1, {cap})) x AS a
                      LATERAL VIEW explode(slice(m_hi, 1, {cap})) y AS b)
    SELECT least(src, dst) AS src, greatest(src, dst) AS dst, weight, jaccard, identical_group,
           shingles, other_shingles
    FROM (SELECT * FROM exact UNION ALL SELECT * FROM lsh) u"""


def _window_views(spark: Any, settings: Settings, day: str, days: int,
                  params: ClusterParams) -> bool:
    """Views ``dg_tpl_samples`` (the window's cached prompt samples) and ``dg_tpl_nodes`` (the
    accounts active on ``day``), read by URI; False when the window has no cached day."""
    key = daycache.cache_key(params)
    in_window = daycache.window_days(settings, day, days)
    if day not in in_window:
        return False
    files = [spark_path(settings, daycache.day_dir(settings, d, key) / "scaffold.parquet")
             for d in in_window]
    # the cached tables' columns, given: no job to read a footer for the schema
    spark.read.schema(_SAMPLE_SCHEMA).parquet(*files).createOrReplaceTempView("dg_tpl_samples")
    minutes = spark_path(settings, daycache.day_dir(settings, day, key) / "minutes.parquet")
    (spark.read.schema("account_id string").parquet(minutes).distinct()
     .createOrReplaceTempView("dg_tpl_nodes"))
    return True


def template_edges(spark: Any, settings: Settings, day: str, days: int,
                   p: ClusterParams) -> tuple[pd.DataFrame, Callable[[list[str]], dict]]:
    """Template edges of the window of ``days`` days ending on ``day`` (its day caches built),
    computed on the cluster; and a function giving the scaffold sets of named accounts (the
    cluster features read those of clustered accounts only), read from the same files."""
    if not _window_views(spark, settings, day, days, p):
        return pair_frame([]), lambda accounts: {}
    sets = spark.sql(_sets_sql(p.template_sample, p.max_key_accounts))
    sigs = sets.mapInArrow(Signatures(p.template_num_perm, p.seed), _SIG_SCHEMA)
    sigs.createOrReplaceTempView("dg_tpl_sigs")
    groups = spark.sql("""
        SELECT sig, array_sort(collect_list(account_id)) AS members, min(account_id) AS rep,
               min_by(n, account_id) AS n, count(*) AS size
        FROM dg_tpl_sigs GROUP BY sig""").persist()
    try:
        groups.createOrReplaceTempView("dg_tpl_groups")
        got = spark.sql(_pairs_sql(p)).toArrow()
    finally:
        groups.unpersist()
    return pair_frame(_rows(got)), lambda accounts: scaffold_sets_of(spark, settings, day, days,
                                                                     accounts, p)


def _rows(got: pa.Table) -> list[tuple[str, str, float, dict]]:
    """(src, dst, weight, evidence) rows from the cluster's numbers, evidence as the driver's
    ``template_pairs`` writes it."""
    cols = {c: got.column(c).to_pylist() for c in got.column_names}
    out = []
    for src, dst, w, jac, group, n, other in zip(
            cols["src"], cols["dst"], cols["weight"], cols["jaccard"], cols["identical_group"],
            cols["shingles"], cols["other_shingles"], strict=True):
        if group is not None:
            ev = {"jaccard": 1.0, "identical_group": int(group), "shingles": int(n)}
        else:
            ev = {"jaccard": round(float(jac), 3), "shingles": int(n),
                  "other_shingles": int(other)}
        out.append((src, dst, float(w), ev))
    return out


def scaffold_sets_of(spark: Any, settings: Settings, day: str, days: int, accounts: list[str],
                     p: ClusterParams) -> dict[str, np.ndarray]:
    """Account -> sorted scaffold set (int64 array) in the window of ``days`` days ending on
    ``day``, for those of ``accounts`` that have one (the popularity rule still counts every
    account of the window), computed on the cluster from the day caches; the names are sent as
    a scratch file in the home's cluster cache (``sent_view``)."""
    if not accounts or not _window_views(spark, settings, day, days, p):
        return {}
    wanted = pa.table({"account_id": pa.array(sorted(set(accounts)), pa.string())})
    with sent_view(spark, settings, daycache.cache_root(settings), "dg_tpl_wanted", wanted,
                   "account_id string"):
        got = spark.sql(f"SELECT * FROM ({_sets_sql(p.template_sample, p.max_key_accounts)}) s "
                        "LEFT SEMI JOIN dg_tpl_wanted w ON s.account_id = w.account_id"
                        ).toArrow()
    return {a: np.asarray(sh, dtype=np.int64)
            for a, sh in zip(got.column("account_id").to_pylist(),
                             got.column("shingles").to_pylist(), strict=True)}
