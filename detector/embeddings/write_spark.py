"""The coverage stage's day files written by a Spark cluster (``engine = "spark"``).

Pass 2's rows (one per sampled account: statistics and centroid) stay a DataFrame: joined with
the day's active accounts, they go to one task (``repartition(1)``: a day is one run), which
puts them in account order and builds the tables :meth:`CoverageStage._write` builds
(:func:`stage.coverage_table`, :func:`stage.centroid_table`: the same code, so the same schema,
rows and bits) and writes each with pyarrow (zstd, as ``write_parquet_atomic``) into a hidden
folder beside its target (``features/coverage/.spark-*``, ``embeddings/centroids/.spark-*``;
the file names end in ``.tmp``, so no ``**/*.parquet`` glob reads them). The driver renames
each onto the stage's path (an atomic rename: a reader sees the old file or the new one) and
deletes the folders; the manifest is written last, by the driver. Only the file names, the
active and sampled account counts and the sampled rows come back to the driver.

Both folders must be on storage every executor and the driver reach at the same path
(``spark_path``), as the embedding cache is. A failed task or rename leaves the previous files
of every path it did not reach; the hidden folders are removed.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from detector.embeddings.cache import vectors_from_arrow
from detector.embeddings.paths import centroids_path
from detector.embeddings.stage import CoverageStage, centroid_table, coverage_path, coverage_table
from detector.embeddings.stats import STAT_NAMES
from detector.lake.io import hidden_folder, move_into_place, write_parquet_atomic
from detector.lake.spark import spark_path

#: What the writing task returns (one row).
RESULT = ("coverage string, centroids string, accounts long, sampled_accounts long, "
          "sampled_rows long")


def account_rows(got: pa.Table | None, dim: int
                 ) -> tuple[list[str], np.ndarray, np.ndarray, dict[str, np.ndarray], np.ndarray]:
    """Pass 2's rows in account order: (ids, sampled rows, distinct prompts, stats, centroids)."""
    if got is None or got.num_rows == 0:
        empty = np.zeros(0)
        return ([], np.zeros(0, np.int64), np.zeros(0, np.int64),
                {name: empty.copy() for name in STAT_NAMES}, np.zeros((0, dim), np.float32))
    ids = np.asarray(got.column("account_id").to_pylist(), dtype=object)
    order = np.argsort(ids.astype(str), kind="stable")
    if len(set(ids)) != len(ids):
        raise RuntimeError("embeddings on Spark: an account came back from two partitions")
    stats = {name: got.column(name).to_numpy(zero_copy_only=False).astype(np.float64)[order] for name in STAT_NAMES}
    return (ids[order].tolist(), got.column("n_sampled").to_numpy()[order],
            got.column("n_distinct").to_numpy()[order], stats,
            vectors_from_arrow(got.column("centroid"), dim)[order])


class _WriteDay:
    """``mapInArrow`` function: the day's rows (every active account, ``active`` true, joined
    with pass 2's row of each sampled account) -> the coverage features and centroids files
    in the folders ``coverage_dir`` and ``centroids_dir`` (URIs); yields one result row."""

    def __init__(self, date: str, dim: int, backend: str, model_version: str,
                 coverage_dir: str, centroids_dir: str) -> None:
        self.date, self.dim, self.backend, self.model_version = date, dim, backend, model_version
        self.coverage_dir, self.centroids_dir = coverage_dir, centroids_dir

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        got = list(batches)
        if not got or not sum(b.num_rows for b in got):
            return
        rows = pa.Table.from_batches(got)
        accounts = sorted(rows.filter(pc.fill_null(rows["active"], False))["account_id"].to_pylist())
        if len(set(accounts)) != len(accounts):
            raise RuntimeError(f"embeddings on Spark: an account of {self.date} reached the "
                               "writing task twice")
        ids, lengths, n_distinct, stats, centroids = account_rows(
            rows.filter(pc.is_valid(rows["n_sampled"])), self.dim)
        tables = {"coverage": (self.coverage_dir,
                               coverage_table(self.date, accounts, ids, lengths, n_distinct, stats)),
                  "centroids": (self.centroids_dir,
                                centroid_table(self.date, ids, lengths, centroids, self.backend,
                                               self.model_version))}
        names = {}
        for key, (folder, table) in tables.items():
            names[key] = _write(folder, f"date={self.date}.{uuid.uuid4().hex}.parquet.tmp", table)
        yield pa.RecordBatch.from_pydict({
            "coverage": [names["coverage"]], "centroids": [names["centroids"]],
            "accounts": [len(accounts)], "sampled_accounts": [len(ids)],
            "sampled_rows": [int(lengths.sum())]},
            schema=pa.schema([("coverage", pa.string()), ("centroids", pa.string()),
                              ("accounts", pa.int64()), ("sampled_accounts", pa.int64()),
                              ("sampled_rows", pa.int64())]))


def _write(folder: str, name: str, table: pa.Table) -> str:
    """Write ``table`` as ``name`` in ``folder`` (a URI), as ``write_parquet_atomic`` writes
    (zstd); returns ``name`` (a retried task writes another name)."""
    from pyarrow import fs

    filesystem, base = fs.FileSystem.from_uri(folder)
    pq.write_table(table, f"{base}/{name}", filesystem=filesystem, compression="zstd")
    return name


def write_day(stage: CoverageStage, date: str, accounts: Any, stats: Any, expect: int) -> int:
    """Replace the day's coverage features and centroids files with what one task builds from
    Spark DataFrames ``accounts`` (the day's ``expect`` active ``account_id``s, or None: no
    request file) and ``stats`` (pass 2's rows, or None); returns the sampled rows."""
    settings, backend = stage.settings, stage.backend
    targets = {"coverage": coverage_path(settings, date), "centroids": centroids_path(settings, date)}
    if accounts is None:
        return _write_empty(stage, date, targets)
    folders: dict[str, Path] = {}
    try:
        for key, target in targets.items():
            folders[key] = hidden_folder(target)
        fn = _WriteDay(date, backend.dim, backend.name, backend.model_version,
                       spark_path(settings, folders["coverage"]),
                       spark_path(settings, folders["centroids"]))
        frame = accounts.selectExpr("account_id", "true AS active")
        if stats is not None:
            frame = frame.join(stats, "account_id", "full_outer")
        got = frame.repartition(1).mapInArrow(fn, RESULT).collect()
        if not got and not expect:  # no active account
            return _write_empty(stage, date, targets)
        if len(got) != 1 or got[0]["accounts"] != expect:
            raise RuntimeError(f"embeddings on Spark: {len(got)} task(s) wrote the files of "
                               f"{date}, with {[r['accounts'] for r in got]} accounts (expected "
                               f"one, with the day's {expect}); nothing replaced")
        for key, target in targets.items():
            move_into_place(folders[key] / got[0][key], target, "embeddings on Spark")
        return int(got[0]["sampled_rows"])
    finally:
        for folder in folders.values():
            shutil.rmtree(folder, ignore_errors=True)


def _write_empty(stage: CoverageStage, date: str, targets: dict[str, Path]) -> int:
    """The files of a day without accounts, written by the driver (what DuckDB's writes)."""
    ids, lengths, n_distinct, stats, centroids = account_rows(None, stage.backend.dim)
    write_parquet_atomic(targets["coverage"], coverage_table(date, [], ids, lengths, n_distinct,
                                                             stats))
    write_parquet_atomic(targets["centroids"], centroid_table(
        date, ids, lengths, centroids, stage.backend.name, stage.backend.model_version))
    return 0
