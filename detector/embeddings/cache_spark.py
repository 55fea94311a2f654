"""The embedding cache on a Spark cluster (``engine = "spark"``): executors read and add to it.

Layout and rules are :mod:`detector.embeddings.cache`'s; the cache folder
(``embeddings/cache/model=<slug>`` under the home) must be on storage every executor and the
driver reach at the same path, as the clusters' day cache is (``spark_path`` gives its URI).

- **Read** (:func:`cached_vectors`): the cache's part files, read by URI, semi-joined with the
  day's sampled prompt hashes and cut to one row per hash, the first stored copy (part files in
  name order, then row order in a file: :meth:`EmbeddingCache.lookup`'s rule), all on the
  executors. The stage left-joins it onto the sample before the ``account_id`` repartition, so
  the partitions are the same accounts as without a cache.
- **Add**: each pass 1 task writes the vectors it encoded (prompts not in the cache) as one
  Parquet file (:func:`write_new`, atomic) into a hidden folder of the cache folder; the
  driver moves them into place under the cache's lock after the stage's passes
  (:func:`publish`: atomic renames, then the usual compaction). A prompt new to two partitions
  is stored twice, which the cache allows (the first copy wins). A failed run's hidden folder
  is removed with its vectors; one a killed driver leaves is never listed by a reader.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from detector.embeddings.cache import EmbeddingCache, cache_table
from detector.lake.io import fsync_dir, write_parquet_atomic
from detector.lake.spark import spark_path
from detector.settings import Settings


def cached_vectors(session: Any, settings: Settings, cache: EmbeddingCache, hashes: Any) -> Any:
    """(``prompt_hash``, ``cached`` array<float>) of the hashes in DataFrame ``hashes`` (column
    ``prompt_hash``) the cache holds, the first stored copy of each; None when it holds none."""
    parts = cache.parts()
    if not parts:
        return None
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    stored = (session.read.parquet(*[spark_path(settings, p) for p in parts])
              .select("prompt_hash", F.col("vector").alias("cached"),
                      F.col("_metadata.file_name").alias("file"),
                      F.col("_metadata.row_index").alias("at")))
    wanted = hashes.select("prompt_hash").distinct()
    first = Window.partitionBy("prompt_hash").orderBy("file", "at")
    return (stored.join(wanted, "prompt_hash", "left_semi")
            .withColumn("copy", F.row_number().over(first)).where("copy = 1")
            .select("prompt_hash", "cached"))


def staging(cache: EmbeddingCache) -> Path:
    """A fresh hidden folder in the cache folder for one run's new vectors."""
    return cache.folder / f".spark-{uuid.uuid4().hex}"


def write_new(folder: str, spec: tuple, hashes: list[str], vectors: np.ndarray) -> None:
    """Executor side: one task's new vectors as one cache part file in ``folder``."""
    if not hashes:
        return
    name, version, dim = spec[:3]
    target = Path(folder) / f"task-{uuid.uuid4().hex}.parquet"
    target.parent.mkdir(parents=True, exist_ok=True)
    write_parquet_atomic(target, cache_table(hashes, vectors, name, version, dim))


def publish(cache: EmbeddingCache, folder: Path) -> int:
    """Driver side: move the run's part files from ``folder`` into the cache (atomic renames,
    under the cache's lock, in file-name order), remove ``folder``; returns the files moved."""
    if not folder.exists():
        return 0
    files = sorted(folder.glob("task-*.parquet"))
    try:
        with cache.locked():
            for f in files:
                os.replace(f, cache.folder / f"part-{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.parquet")
            fsync_dir(cache.folder)
            if len(cache.parts()) > cache.max_parts:
                cache.compact()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return len(files)
