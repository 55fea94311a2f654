"""The population sample on a Spark cluster (``engine = "spark"``): only the rows a fit uses
reach the driver.

Pass 1 (:mod:`detector.embeddings.distributed`) marks the population-sample candidates (at most
``reference_per_account`` rows per account, with their vectors) in its kept frame. When the
model may be fitted (:func:`may_fit`), :func:`candidates` makes them the population sample on the
executors, as :func:`batched.population_rows` does on the driver: blocked accounts out (a left
anti join with them, sent as a scratch Parquet file: ``lake.spark.sent_view``), one row per
prompt hash (its first in the one-pass order: ``row_number`` over the hash ordered by
``account_id``, ``pos``; Spark orders strings by UTF-8 bytes, numpy by code points: the same
order). The sample's size n is counted; a fit uses at most ``codebook_sample``
rows, drawn by :func:`population.fit_rows` from n alone, so the driver draws them, the sample's
keys are numbered in the one-pass order (``zipWithIndex``) and only the chosen rows, with their
vectors, are collected (all n when ``n <= codebook_sample``). The reference and the MMD null are
drawn among those rows, so nothing else is needed: the same model and version as fitting on the
whole sample (:func:`population.fit_population` with ``total``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa

from detector.embeddings.batched import population_rows
from detector.embeddings.cache import vectors_from_arrow
from detector.embeddings.paths import centroids_root
from detector.embeddings.population import fit_rows, load_active

if TYPE_CHECKING:
    from detector.embeddings.config import EmbeddingConfig
    from detector.embeddings.stage import CoverageStage, DayResult
    from detector.settings import Settings


def may_fit(stage: CoverageStage, refit: bool) -> bool:
    """Whether :meth:`CoverageStage.ensure_population` may fit today, so needs the candidates:
    not when an active, complete (not provisional) model is loaded and no refit is asked for,
    which it then returns whatever the candidates (the model is kept on the stage)."""
    if refit:
        return True
    backend = stage.backend
    active = stage.population or load_active(stage.population_root, backend.name,
                                             backend.model_version, stage.config)
    if active is None or active.meta.get("provisional"):
        return True
    stage.population = active
    return False


def candidates(session: Any, settings: Settings, encoded: Any, blocked: set[str],
               config: EmbeddingConfig) -> tuple[pa.Table, int]:
    """(the population sample's rows a fit uses, with their vectors, in no order; the sample's
    size n): all n rows when ``n <= codebook_sample``, else the ``codebook_sample`` rows
    :func:`population.fit_rows` chooses (see module doc). The blocked accounts reach the
    executors as a scratch Parquet file (``lake.spark.sent_view``, view ``dg_pop_blocked``) in
    a hidden folder of the centroids folder (``paths.centroids_root``; not under ``features/``,
    whose DuckDB views read every ``.parquet`` file), removed before this returns."""
    from detector.lake.spark import sent_view

    cand = encoded.filter("candidate").select("account_id", "pos", "prompt_hash", "vector")
    keys = cand.select("account_id", "pos", "prompt_hash")
    if not blocked:
        return _sample(session, cand, keys, config)
    table = pa.table({"account_id": pa.array(sorted(blocked), pa.string())})
    with sent_view(session, settings, centroids_root(settings), "dg_pop_blocked", table,
                   "account_id string"):
        drop = session.table("dg_pop_blocked")
        return _sample(session, cand, keys.join(drop, "account_id", "left_anti"), config)


def _sample(session: Any, cand: Any, keys: Any, config: EmbeddingConfig) -> tuple[pa.Table, int]:
    """:func:`candidates` of the candidate rows ``cand`` and their unblocked keys ``keys``."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    first = Window.partitionBy("prompt_hash").orderBy("account_id", "pos")
    keys = (keys.withColumn("_first", F.row_number().over(first)).filter("_first = 1")
            .select("account_id", "pos"))
    n = int(keys.count())
    chosen, _ = fit_rows(n, config)
    if chosen is not None:  # at most codebook_sample positions, in the closure
        wanted = frozenset(chosen.tolist())
        picked = (keys.orderBy("account_id", "pos").rdd.zipWithIndex()
                  .filter(lambda row_index: row_index[1] in wanted)
                  .map(lambda row_index: (row_index[0][0], int(row_index[0][1]))))
        keys = session.createDataFrame(picked, "account_id string, pos long")
    return cand.join(keys, ["account_id", "pos"], "left_semi").toArrow(), n


def population(stage: CoverageStage, cand: pa.Table | None, n: int, dim: int, date: str,
               blocked: set[str], refit: bool, res: DayResult) -> Any:
    """The population model from :func:`candidates`' rows (put in the one-pass order: account,
    then arrival) of a population sample of ``n`` rows, as :mod:`batched` takes it."""
    if cand is None or cand.num_rows == 0:
        frame, vectors = pd.DataFrame({"account_id": [], "pos": [], "prompt_hash": []}), \
            np.zeros((0, dim), np.float32)
    else:
        frame = cand.select(["account_id", "pos", "prompt_hash"]).to_pandas()
        vectors = vectors_from_arrow(cand.column("vector"), dim)
    hashes = frame["prompt_hash"].to_numpy().astype(str)
    keep = population_rows(frame["account_id"].to_numpy().astype(str), frame["pos"].to_numpy(),
                           hashes)
    if len(keep) != len(frame):
        raise RuntimeError(f"embeddings on Spark: the population sample of {date} has "
                           f"{len(frame) - len(keep)} repeated prompt hashes among its rows")
    pop, res.population_fitted = stage.ensure_population(
        vectors[keep], hashes[keep].tolist(), date, refit, excluded=len(blocked), total=n)
    return pop
