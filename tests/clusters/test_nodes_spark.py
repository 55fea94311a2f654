"""The executors' writer of the per-account cluster feature file (``nodes_spark._WriteFeatures``,
called here in process on Arrow batches, as ``mapInArrow`` calls it; no Spark session): the
accounts in sorted batches, some without a clustered account, give the file DuckDB's path
writes (``account_features`` of every account at once), schema, order and values; rows out of
order are refused."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from detector.clusters import nodes_spark
from detector.clusters.features import FEATURE_NAMES, account_features
from detector.clusters.store import arrow_table

DAY = "2026-11-27"


def _inputs() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """60 active accounts; two clusters among the first ten (so later batches have none)."""
    ids = [f"acct{i:03d}" for i in range(60)]
    nodes = pa.table({"account_id": ids, "n_requests": pa.array(np.arange(1, 61) * 7, pa.int64())}
                     ).to_pandas()
    members = pd.DataFrame({"cluster_id": ["c1"] * 3 + ["c2"] * 2,
                            "account_id": ["acct001", "acct003", "acct004", "acct007", "acct008"],
                            "degree": [2, 1, 1, 1, 1]})
    feats = [c for c in FEATURE_NAMES if c not in ("clu_degree", "clu_member_share")]
    rng = np.random.default_rng(5)
    table = pd.DataFrame({"cluster_id": ["c1", "c2"],
                          **{c: rng.uniform(0, 100, 2) for c in feats}})
    table["clu_size"] = [3, 2]
    table["clu_total_requests"] = [float(7 * (2 + 4 + 5)), float(7 * (8 + 9))]
    return nodes, members, table


def _batches(nodes: pd.DataFrame, size: int) -> list[pa.RecordBatch]:
    return pa.Table.from_pandas(nodes, preserve_index=False).to_batches(max_chunksize=size)


def test_batched_writer_gives_duckdbs_file(tmp_path, monkeypatch):
    nodes, members, table = _inputs()
    want = arrow_table(account_features(DAY, nodes, members, table))
    schema = arrow_table(account_features(
        DAY, nodes[nodes["account_id"].isin(members["account_id"])], members, table)).schema
    monkeypatch.setattr(nodes_spark, "ROW_GROUP", 16)  # several row groups, several batches each
    fn = nodes_spark._WriteFeatures(DAY, members, table, schema, tmp_path.as_uri())
    out = list(fn(iter([pa.record_batch({"account_id": pa.array([], pa.string()),
                                         "n_requests": pa.array([], pa.int64())}),
                        *_batches(nodes, 7)])))
    assert len(out) == 1 and out[0].column("rows")[0].as_py() == 60
    name = out[0].column("file")[0].as_py()
    assert name.endswith(".parquet.tmp") and name.startswith(f"date={DAY}.")
    got = pq.read_table(tmp_path / name)
    assert pq.ParquetFile(tmp_path / name).num_row_groups > 1
    assert want.schema.field("cluster_id").type == pa.string()
    assert got.schema == want.schema and got.equals(want)
    assert got.column("clu_size").to_pylist()[:9] == [1, 3, 1, 3, 3, 1, 1, 2, 2]


def test_writer_refuses_accounts_out_of_order(tmp_path):
    nodes, members, table = _inputs()
    schema = arrow_table(account_features(DAY, nodes, members, table)).schema
    fn = nodes_spark._WriteFeatures(DAY, members, table, schema, tmp_path.as_uri())
    batches = _batches(nodes, 20)
    with pytest.raises(RuntimeError, match="out of order"):
        list(fn(iter([batches[1], batches[0]])))


def test_writer_of_no_rows_writes_nothing(tmp_path):
    nodes, members, table = _inputs()
    schema = arrow_table(account_features(DAY, nodes, members, table)).schema
    fn = nodes_spark._WriteFeatures(DAY, members, table, schema, tmp_path.as_uri())
    assert list(fn(iter([]))) == [] and list(tmp_path.iterdir()) == []


def test_day_without_clusters_one_rows_schema_is_the_files(tmp_path):
    """No cluster: ``write_features`` takes the schema from one active account's row
    (``cluster_id`` all null, typed null as in DuckDB's file)."""
    nodes, members, table = _inputs()
    members, table = members.iloc[:0], table.iloc[:0]
    want = arrow_table(account_features(DAY, nodes, members, table))
    schema = arrow_table(account_features(DAY, nodes.head(1), members, table)).schema
    fn = nodes_spark._WriteFeatures(DAY, members, table, schema, tmp_path.as_uri())
    (out,) = list(fn(iter(_batches(nodes, 25))))
    got = pq.read_table(tmp_path / out.column("file")[0].as_py())
    assert got.schema == want.schema and got.equals(want)
    assert got.column("cluster_id").null_count == 60
