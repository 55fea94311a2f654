"""Embedding cache: a prompt is embedded once ever; dedupe across accounts."""

from __future__ import annotations

import numpy as np

from detector.embeddings import run_days
from detector.embeddings.backends import HashingBackend
from detector.embeddings.cache import EmbeddingCache
from detector.embeddings.config import EmbeddingConfig

from .conftest import TOPICS, topic_prompt, write_requests

DAY = "2026-04-01"


class CountingBackend(HashingBackend):
    """The hashing backend, remembering every text it was asked to embed."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []

    def encode(self, texts):  # noqa: ANN001, ANN201
        self.seen.extend(texts)
        return super().encode(texts)


def test_cache_roundtrip_missing_and_compaction(tmp_path) -> None:
    cache = EmbeddingCache(tmp_path, "hashing", "v1", dim=4, max_parts=2)
    v = np.eye(4, dtype=np.float32)
    cache.add(["a", "b"], v[:2])
    cache.add(["c"], v[2:3])
    cache.add(["a"], v[3:4])            # a duplicate written later: the first copy wins
    assert len(list(cache.folder.glob("part-*.parquet"))) == 1   # compacted past max_parts
    found, got = cache.lookup(["c", "zzz", "a", "b"])
    assert found.tolist() == [True, False, True, True]
    np.testing.assert_array_equal(got[[0, 2, 3]], v[[2, 0, 1]])
    assert not got[1].any()
    assert cache.size() == 3
    other_model = EmbeddingCache(tmp_path, "hashing", "v2", dim=4)
    assert not other_model.lookup(["a"])[0].any()   # keyed by model as well as hash


def test_second_run_embeds_nothing_and_shared_prompts_are_embedded_once(settings) -> None:
    rows = [(f"acct{a}", topic_prompt(t, i)) for a, t in enumerate(TOPICS) for i in range(12)]
    rows += [(f"copy{a}", "the very same shared prompt") for a in range(5)]
    write_requests(settings.home, DAY, rows)
    cfg = EmbeddingConfig(backend="hashing", n_topics=4, reference_size=16, mmd_permutations=50)
    backend = CountingBackend()
    first = run_days(settings, [DAY], config=cfg, backend=backend)[0]
    assert first.embedded == first.unique_prompts == 8 * 12 + 1
    assert backend.seen.count("the very same shared prompt") == 1
    cov = settings.features_dir / "coverage" / f"date={DAY}" / "part-0.parquet"
    before = cov.read_bytes()
    again = CountingBackend()
    second = run_days(settings, [DAY], config=cfg, backend=again)[0]
    assert second.embedded == 0 and again.seen == []
    import pandas as pd
    pd.testing.assert_frame_equal(pd.read_parquet(cov), pd.read_parquet(__import__("io").BytesIO(before)))
    stored = list((settings.home / "embeddings" / "cache").glob("model=*/part-*.parquet"))
    table = pd.read_parquet(stored[0])
    assert set(table.backend) == {"hashing"} and set(table.model_version) == {backend.model_version}


def test_compacted_cache_is_read_and_written_in_row_groups(tmp_path, monkeypatch) -> None:
    import pyarrow.parquet as pq

    from detector.embeddings import cache as cache_module

    monkeypatch.setattr(cache_module, "ROW_GROUP", 2)
    cache = EmbeddingCache(tmp_path, "hashing", "v1", dim=4, max_parts=1)
    v = np.eye(4, dtype=np.float32)
    cache.add(["a", "b", "c"], v[:3])
    cache.add(["d", "a"], v[[3, 3]])    # compacts: "a" keeps its first vector
    (part,) = cache.folder.glob("part-*.parquet")
    meta = pq.ParquetFile(part).metadata
    assert max(meta.row_group(i).num_rows for i in range(meta.num_row_groups)) == 2
    assert cache.size() == 4
    found, got = cache.lookup(["d", "a", "c"])
    assert found.all()
    np.testing.assert_array_equal(got, v[[3, 0, 2]])
