"""The day's account centroids as the clusters stage compares them, and the float32 arithmetic
of that comparison, shared by the driver (``window.embedding_edges``) and the executors
(``embedding_spark``), so both compute the same bits.

Raw centroids of accounts with many varied prompts all drift towards the population mean
(cosine 0.9 between unrelated people is common), so only the part of a centroid that departs
from the population says what an account is about: each is centred on the day's mean centroid
and rescaled to unit length (``unit_rows``). The mean is an exact sum per dimension
(``mean_from_sums`` over ``detector.clusters.exact``'s integer parts), so the driver's batches
and Spark's partitions (``embedding_spark.centroid_mean``) give the same float32 bits.
"""

from __future__ import annotations

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from detector.clusters import exact, store
from detector.clusters.keys import PAIR_COLUMNS
from detector.errors import InputError
from detector.settings import Settings


def unit_rows(x: np.ndarray, mean: np.ndarray | float) -> np.ndarray:
    """``x`` (float32 rows, changed in place and returned) minus ``mean``, each row divided by
    its length (at least 1e-12). Row by row: a row's result does not depend on the others."""
    x -= mean
    x /= np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    return x


def row_cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine of ``a[k]`` and ``b[k]`` (float32 rows) in float32, row by row."""
    return (a * b).sum(axis=1) / np.maximum(
        np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-12)


def embedding_frame(sub: pd.DataFrame, cos: np.ndarray, min_cos: float) -> pd.DataFrame:
    """Embedding edges of the pairs ``sub`` (src, dst) whose cosines are ``cos`` (float32, in
    the same order): those at or above ``min_cos``, weight and evidence."""
    sel = cos >= min_cos
    out = sub.loc[sel, ["src", "dst"]].copy()
    out["edge_type"] = "embedding"
    out["weight"] = ((cos[sel] - min_cos) / max(1.0 - min_cos, 1e-9)).clip(0, 1)
    out["evidence"] = [orjson.dumps({"centroid_cos": round(float(c), 4)}).decode()
                       for c in cos[sel]]
    return out[PAIR_COLUMNS].reset_index(drop=True)


def mean_from_sums(hi: np.ndarray, lo: np.ndarray, n: int) -> np.ndarray | float:
    """The day's mean centroid from the per-dimension sums of ``exact.parts`` over its ``n``
    centroids: ``float32(exact sum / n)`` (0.0 for fewer than two centroids). The sums are
    exact integers, so the mean does not depend on the order the centroids are added in: the
    driver (batch by batch) and Spark's partitions (``embedding_spark.centroid_mean``) give
    the same bits."""
    if n < 2:
        return 0.0
    return (exact.total(hi, lo) / float(n)).astype(np.float32)


def list_matrix(col: pa.Array | pa.ChunkedArray, width: int | None = None) -> np.ndarray:
    """A list column of equally long non-empty rows as a float32 (rows, width) matrix."""
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    flat = pc.list_flatten(col).to_numpy(zero_copy_only=False)
    if width is None:
        width = int(pc.list_value_length(col)[0].as_py()) if len(col) else 0
    return np.array(flat, dtype=np.float32).reshape(-1, max(width, 1))


def centroid_table(settings: Settings, day: str) -> tuple[dict[str, np.ndarray],
                                                          np.ndarray | float]:
    """Unit centred centroid per account for ``day`` (``unit_rows``) and the mean they were
    centred on (:func:`mean_from_sums`; 0.0 for a single account); ({}, 0.0) when the
    embeddings stage wrote none."""
    path = store.centroid_path(settings, day)
    if not path.exists():
        return {}, 0.0
    # read a batch at a time into one float32 matrix: never a Python float per dimension, and
    # the decoded file is never whole in memory (a list column decodes to several times its size)
    accounts: list[str] = []
    rows: list[np.ndarray] = []
    width = None
    hi_sum = lo_sum = np.int64(0)
    for batch in pq.ParquetFile(path).iter_batches(batch_size=4096,
                                                   columns=["account_id", "centroid"]):
        col = batch.column("centroid")
        lengths = pc.fill_null(pc.list_value_length(col), 0).to_numpy(zero_copy_only=False)
        keep = lengths > 0
        if not keep.any():
            continue
        found = set(lengths[keep].tolist()) | ({width} if width is not None else set())
        if len(found) > 1:
            raise InputError(f"clusters: centroids of {day} in {path} have mixed lengths "
                             f"{sorted(found)}")
        width = int(lengths[keep][0])
        rows.append(list_matrix(col.filter(pa.array(keep)), width))
        hi, lo = exact.parts(rows[-1])
        hi_sum, lo_sum = hi_sum + hi.sum(axis=0), lo_sum + lo.sum(axis=0)
        accounts += batch.column("account_id").filter(pa.array(keep)).to_pylist()
    pa.default_memory_pool().release_unused()
    if not accounts:
        return {}, 0.0
    x = np.concatenate(rows) if len(rows) > 1 else rows[0]
    mean = mean_from_sums(hi_sum, lo_sum, len(x))
    x = unit_rows(x, mean)
    return {a: x[k] for k, a in enumerate(accounts)}, mean


def load_centroids(settings: Settings, day: str) -> dict[str, np.ndarray]:
    """Embedding centroid per account for ``day``, centred on the day's mean centroid and
    rescaled to unit length; empty when the embeddings stage wrote none."""
    return centroid_table(settings, day)[0]
