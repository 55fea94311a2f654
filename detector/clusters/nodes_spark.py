"""The clusters stage's per-account tables on a Spark cluster (``engine = "spark"``): the day's
node table, the clusters' day volumes and the per-account cluster feature file, built on the
executors.

On DuckDB the driver builds table ``nodes`` (``pipeline._nodes``: one row per account active
on the day, ``n_requests``, ``n_prompts``, earliest ``account_created_at`` as ``created_at``)
and writes ``features/cluster/date=D/part-0.parquet`` from it (``features.account_features``:
every active account, cluster columns joined). Both grow with accounts. Here:

- :func:`open_day` aggregates the day's request files (read by URI, ``lake.spark.read_requests``,
  as ``daycache_spark`` reads them) into the same rows on the executors and keeps them there
  (``persist``) while the day is clustered; ``keys_spark.creation_nodes`` reads them too
  (:func:`frame`), so the request files are scanned once for both.
- The driver receives only the count of active accounts (the summary's ``accounts``) and the
  rows of named accounts (:meth:`DayNodes.rows_of`: the clustered ones, for
  ``features.cluster_table``): small by construction. The names are sent as a scratch file
  in the home's cluster cache (``lake.spark.sent_view``: a file scan in the plan, not rows).
- :meth:`DayNodes.volumes`: ``features.volume_table`` (per cluster: the day's requests, tokens,
  distinct prompts and addresses of its members) over the day's request files, the members
  sent as the names are and broadcast; one row per cluster comes back (on DuckDB the driver
  scans the day's requests).
- :meth:`DayNodes.write_features` sends the small ``members`` and ``clusters`` tables with the
  writing function to one task, which receives every active account's ``account_id`` and
  ``n_requests`` sorted by account, applies ``features.account_features`` (the same code as
  DuckDB's) batch by batch and writes one Parquet file (zstd, as ``write_parquet_atomic``) into
  a hidden folder beside the target (``features/cluster/.spark-*``, the name ending in
  ``.tmp``); the driver renames it onto the target (``move_into_place``: a reader sees the old
  file or the new one) and deletes the folder. Same schema, rows, order and values as DuckDB's
  file, and the same clusters table (``tests/clusters/test_day_spark.py``).

The features folder must be on storage every executor and the driver reach at the same path
(``spark_path``), as the day cache is. A failed task or rename leaves the previous file.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from detector.clusters import daycache
from detector.clusters.features import account_features
from detector.clusters.store import arrow_table
from detector.lake.io import hidden_folder, move_into_place, write_parquet_atomic
from detector.lake.spark import read_requests, sent_view, spark_path
from detector.settings import Settings

#: What the writing task returns.
RESULT = "file string, rows long"
#: Rows the writing task gathers into one row group (Spark hands it 10,000 at a time).
ROW_GROUP = 1 << 17

#: The node frame of the day being clustered, by (requests folder, day): see :func:`frame`.
_OPEN: dict[tuple[str, str], Any] = {}


def node_frame(spark: Any, settings: Settings, day: str) -> Any:
    """Spark DataFrame of ``pipeline._nodes``'s rows for ``day``, from its request files read
    by URI on the executors; None when the day has no request file."""
    reqs = read_requests(spark, settings, day)
    if reqs is None:
        return None
    from pyspark.sql import functions as F

    return (reqs.where("account_id IS NOT NULL").groupBy("account_id")
            .agg(F.count(F.lit(1)).alias("n_requests"),
                 F.countDistinct("prompt_hash").alias("n_prompts"),
                 F.min("account_created_at").alias("created_at")))


def frame(spark: Any, settings: Settings, day: str) -> Any:
    """The node frame of ``day``: the one kept on the executors while :func:`open_day` holds
    it, else a fresh :func:`node_frame` (None without request files)."""
    held = _OPEN.get((str(settings.requests_dir), day))
    return held if held is not None else node_frame(spark, settings, day)


class DayNodes:
    """The node table of one day, kept on the executors (see the module docstring)."""

    def __init__(self, spark: Any, settings: Settings, day: str, nodes: Any) -> None:
        self.spark, self.settings, self.day, self.frame = spark, settings, day, nodes
        self.count = int(nodes.count()) if nodes is not None else 0

    @contextmanager
    def _sent(self, view: str, table: pa.Table, schema: str) -> Iterator[Any]:
        """A Spark DataFrame of ``table``'s rows sent as a scratch file in the home's cluster
        cache (``sent_view``: a file scan in the plan); it can be read inside the block only."""
        with sent_view(self.spark, self.settings, daycache.cache_root(self.settings), view,
                       table, schema):
            yield self.spark.table(view)

    def rows_of(self, accounts: list[str]) -> pd.DataFrame:
        """The node rows (``pipeline._nodes``'s columns and dtypes) of those of ``accounts``
        active on the day, sorted by account."""
        if not accounts or self.frame is None:
            return _empty_nodes()
        ids = pa.table({"account_id": pa.array(sorted(set(accounts)), pa.string())})
        from pyspark.sql.functions import broadcast

        with self._sent("dg_nodes_wanted", ids, "account_id string") as sent:
            got = self.frame.join(broadcast(sent), "account_id", "left_semi").toArrow()
        if got.num_rows == 0:
            return _empty_nodes()
        return got.sort_by("account_id").to_pandas()

    def volumes(self, members: pd.DataFrame) -> pd.DataFrame:
        """``features.volume_table`` on the executors: per cluster of ``members`` (cluster_id,
        account_id; sent broadcast), the day's requests, tokens, distinct prompts and client
        addresses of its members, from the request files read by URI; one row per cluster
        with requests comes back (DuckDB's columns and dtypes)."""
        reqs = None if members.empty else read_requests(
            self.spark, self.settings, self.day,
            ["account_id", "completion_tokens", "prompt_tokens", "prompt_hash", "client_ip"])
        if reqs is None:
            return _VOLUMES.empty_table().to_pandas()
        from pyspark.sql import functions as F

        ids = pa.table({
            "cluster_id": pa.array(members["cluster_id"].astype(str).tolist(), pa.string()),
            "account_id": pa.array(members["account_id"].astype(str).tolist(), pa.string())})
        with self._sent("dg_nodes_members", ids, "cluster_id string, account_id string") as sent:
            got = (reqs.join(F.broadcast(sent), "account_id").groupBy("cluster_id")
                   .agg(F.count(F.lit(1)).alias("clu_total_requests"),
                        # DuckDB's sum of BIGINT is a HUGEINT, a float64 in pandas
                        F.coalesce(F.sum("completion_tokens"), F.lit(0)).cast("double")
                        .alias("clu_total_output_tokens"),
                        F.coalesce(F.sum("prompt_tokens"), F.lit(0)).cast("double")
                        .alias("clu_total_prompt_tokens"),
                        F.countDistinct("prompt_hash").alias("union_prompts"),
                        F.countDistinct("client_ip").alias("clu_distinct_ips"))
                   .toArrow())
        return got.cast(_VOLUMES).sort_by("cluster_id").to_pandas()

    def write_features(self, members: pd.DataFrame, table: pd.DataFrame, target: Path) -> int:
        """Replace ``target`` (``store.feature_path``) with ``features.account_features`` of
        every active account, ``members`` and ``table`` (the day's cluster members and
        clusters) joined on the writing task; returns the rows written."""
        if self.count == 0:  # no active account: DuckDB's empty file, written here
            write_parquet_atomic(target, arrow_table(account_features(
                self.day, _empty_nodes(), members, table)))
            return 0
        small = members[["account_id", "cluster_id", "degree"]]
        sample = self.rows_of(small["account_id"].tolist())
        if sample.empty:  # no clustered account: any active one gives the file's schema
            sample = self.frame.limit(1).toArrow().to_pandas()
        schema = arrow_table(account_features(self.day, sample, small, table)).schema
        folder = hidden_folder(target)
        try:
            fn = _WriteFeatures(self.day, small, table, schema, spark_path(self.settings, folder))
            got = (self.frame.select("account_id", "n_requests").repartition(1)
                   .sortWithinPartitions("account_id").mapInArrow(fn, RESULT).collect())
            if len(got) != 1 or got[0]["rows"] != self.count:
                raise RuntimeError(
                    f"clusters on Spark: {len(got)} task(s) wrote the cluster features of "
                    f"{self.day}, with {[r['rows'] for r in got]} rows (expected one, with the "
                    f"day's {self.count} active accounts); {target} not replaced")
            move_into_place(folder / got[0]["file"], target, "clusters on Spark")
            return self.count
        finally:
            shutil.rmtree(folder, ignore_errors=True)


#: ``features.volume_table``'s columns and (Arrow) types.
_VOLUMES = pa.schema([("cluster_id", pa.string()), ("clu_total_requests", pa.int64()),
                      ("clu_total_output_tokens", pa.float64()),
                      ("clu_total_prompt_tokens", pa.float64()),
                      ("union_prompts", pa.int64()), ("clu_distinct_ips", pa.int64())])


def _empty_nodes() -> pd.DataFrame:
    return pa.table({"account_id": pa.array([], pa.string()),
                     "n_requests": pa.array([], pa.int64()),
                     "n_prompts": pa.array([], pa.int64()),
                     "created_at": pa.array([], pa.timestamp("us", tz="UTC"))}).to_pandas()


@contextmanager
def open_day(spark: Any, settings: Settings, day: str) -> Iterator[DayNodes]:
    """The node table of ``day`` kept on the executors (``persist``) while the block runs;
    :func:`frame` returns it meanwhile. Released (and forgotten) at the end."""
    key = (str(settings.requests_dir), day)
    nodes = node_frame(spark, settings, day)
    if nodes is not None:
        from pyspark import StorageLevel

        nodes = nodes.persist(StorageLevel.MEMORY_AND_DISK)
        _OPEN[key] = nodes
    try:
        yield DayNodes(spark, settings, day, nodes)
    finally:
        _OPEN.pop(key, None)
        if nodes is not None:
            nodes.unpersist()


class _WriteFeatures:
    """``mapInArrow`` function: every active account's (account_id, n_requests), sorted by
    account -> one Parquet file of ``account_features`` (conformed to ``schema``) in ``folder``
    (a URI); yields (file name, rows)."""

    def __init__(self, day: str, members: pd.DataFrame, table: pd.DataFrame, schema: pa.Schema,
                 folder: str) -> None:
        self.day, self.members, self.table = day, members, table
        self.schema, self.folder = schema, folder

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        from pyarrow import fs

        filesystem, base = fs.FileSystem.from_uri(self.folder)
        name = f"date={self.day}.{uuid.uuid4().hex}.parquet.tmp"  # a retried task: a new name
        writer, held, rows, last = None, [], 0, None

        def flush() -> None:
            nonlocal writer, held
            writer = writer or pq.ParquetWriter(f"{base}/{name}", self.schema,
                                                filesystem=filesystem, compression="zstd")
            writer.write_table(pa.concat_tables(held))
            held = []

        try:
            for batch in batches:
                if not batch.num_rows:
                    continue
                part = self._conform(arrow_table(account_features(
                    self.day, batch.to_pandas(), self.members, self.table)))
                ids = part.column("account_id")
                if last is not None and ids[0].as_py() <= last:
                    raise RuntimeError(f"clusters on Spark: the accounts of {self.day} reached "
                                       f"the writing task out of order ({ids[0].as_py()!r} after {last!r})")
                last = ids[-1].as_py()
                held.append(part)
                rows += part.num_rows
                if sum(t.num_rows for t in held) >= ROW_GROUP:
                    flush()
            if held:
                flush()
        finally:
            if writer is not None:
                writer.close()
        if writer is None:
            return
        yield pa.record_batch({"file": [name], "rows": [rows]},
                              schema=pa.schema([("file", pa.string()), ("rows", pa.int64())]))

    def _conform(self, part: pa.Table) -> pa.Table:
        """``part`` with the file's schema (a batch without clustered accounts has an all-null
        ``cluster_id``, typed null by pandas)."""
        if part.schema == self.schema:
            return part
        try:
            return part.cast(self.schema)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError) as exc:
            raise RuntimeError(f"clusters on Spark: cluster features of {self.day} on an "
                               f"executor have schema {part.schema}, not the file's "
                               f"{self.schema}: {exc}") from exc
