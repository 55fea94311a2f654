"""Scratch folders (``lake.io.scratch_folder``: where ``lake.spark.sent_view`` leaves the rows it
sends to Spark) are fresh hidden folders of the store they are given, which the readers of the
stores ``sent_view`` is given (verdicts, the cluster cache, the centroids) do not read."""

from __future__ import annotations

import pyarrow as pa

from detector.clusters import daycache
from detector.embeddings.paths import centroids_root
from detector.lake.days import drop_partitions_before
from detector.lake.io import hidden_folder, scratch_folder, write_parquet_atomic
from detector.settings import load_settings
from detector.verdicts.paths import evaluated_dates, root


def test_a_scratch_folder_is_a_fresh_hidden_folder_of_its_store(tmp_path):
    store = tmp_path / "store"
    a, b = scratch_folder(store), scratch_folder(store)
    assert a != b and a.parent == b.parent == store and a.is_dir() and b.is_dir()
    assert a.name.startswith(".spark-")
    c = hidden_folder(store / "date=2026-11-28" / "part-0.parquet")  # beside the date=D folder
    assert c.parent == store and c.name.startswith(".spark-")


def test_the_stores_readers_skip_scratch_folders(tmp_path):
    s = load_settings(tmp_path / "home")
    rows = pa.table({"account_id": ["acct-1"]})
    stores = [root(s), daycache.cache_root(s), centroids_root(s)]
    for store in stores:
        write_parquet_atomic(scratch_folder(store) / "dg_view.parquet", rows)
    assert evaluated_dates(s) == []
    assert daycache.prune(s, "2999-01-01") == []
    assert drop_partitions_before(stores, "2999-01-01") == []
    assert all(len(list(store.glob(".spark-*/dg_view.parquet"))) == 1 for store in stores)
