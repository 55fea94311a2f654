"""Spark's coverage passes without Spark: pass 1 (:class:`_Encode`) encodes a partition's
distinct prompts once, and pass 2 rebuilt from its rows (:func:`_encoded`) gives bit for bit
the statistics that encoding the partition again gives (what pass 2 did before it kept pass 1's
vectors), whatever order the kept rows come back in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa
import pytest

from detector.embeddings import distributed
from detector.embeddings.backends import HashingBackend
from detector.embeddings.config import EmbeddingConfig
from detector.embeddings.distributed import _Encode, _encoded, _partition, _stats_batch
from detector.embeddings.population import fit_population
from detector.embeddings.stage import candidate_rows
from detector.embeddings.stats import STAT_NAMES

from .conftest import prompt_hash
from .test_distributed import _rows

DIM = 64
SPEC = ("hashing", HashingBackend(DIM).model_version, DIM, "", 0)
CFG = EmbeddingConfig(backend="hashing", n_topics=8, reference_size=64, mmd_permutations=50,
                      sample_k=64)


class Counter:
    def __init__(self) -> None:
        self.value = 0

    def add(self, n: int) -> None:
        self.value += n


def _sample_batches() -> list[pa.RecordBatch]:
    """A partition's input as Spark hands it over: the sample's columns, rows in no order, in
    several batches; prompts shared between accounts, repeats within one."""
    base = datetime(2026, 5, 1, tzinfo=UTC)
    first: dict[tuple[str, str], tuple[datetime, str]] = {}
    for i, (account, text) in enumerate(_rows()):
        first.setdefault((account, prompt_hash(text)), (base + timedelta(minutes=i), text))
    keys = list(first)
    distinct = {a: sum(1 for k in keys if k[0] == a) for a, _ in keys}
    order = np.random.default_rng(3).permutation(len(keys))
    table = pa.table({
        "account_id": [keys[i][0] for i in order], "prompt_hash": [keys[i][1] for i in order],
        "prompt_text": [first[keys[i]][1] for i in order],
        "first_ts": pa.array([first[keys[i]][0] for i in order], pa.timestamp("us", tz="UTC")),
        "n_distinct": pa.array([distinct[keys[i][0]] for i in order], pa.int64())})
    return table.to_batches(max_chunksize=100)


@pytest.fixture(scope="module")
def population():
    sample, codes, vectors = _partition(iter(_sample_batches()), SPEC)
    hashes = sample.prompt_hash.drop_duplicates().tolist()
    return fit_population(vectors, hashes, CFG, "hashing", SPEC[1], "cpu")


def test_pass_one_encodes_each_distinct_prompt_once_and_keeps_candidates() -> None:
    sample, codes, vectors = _partition(iter(_sample_batches()), SPEC)
    counter = Counter()
    (out,) = list(_Encode(SPEC, 4, counter)(iter(_sample_batches())))
    assert counter.value == len(vectors) == sample.prompt_hash.nunique() < len(sample)
    assert out.column("row").to_pylist() == list(range(len(sample)))
    assert out.column("prompt_hash").to_pylist() == sample.prompt_hash.tolist()
    assert int(np.sum(out.column("first").to_numpy(zero_copy_only=False))) == len(vectors)
    cand = np.flatnonzero(out.column("candidate").to_numpy(zero_copy_only=False))
    want = candidate_rows(sample, set(), 4)
    assert cand.tolist() == want.tolist() and len(want) > sample.account_id.nunique()
    got = np.stack(out.column("vector").take(pa.array(cand)).to_numpy(zero_copy_only=False))
    assert np.array_equal(got, vectors[codes[want]])
    assert out.column("pos").to_numpy()[cand].tolist() == \
        sample.groupby("account_id", sort=False).cumcount().to_numpy()[want].tolist()


@pytest.mark.parametrize("with_population", [True, False])
def test_pass_two_from_kept_rows_is_bit_identical_to_encoding_again(population, with_population,
                                                                    monkeypatch) -> None:
    pop = population if with_population else None
    want = _stats_batch(*_partition(iter(_sample_batches()), SPEC), pop, 0.9)
    (kept,) = list(_Encode(SPEC, 4, Counter())(iter(_sample_batches())))

    def no_encoder(spec):
        raise AssertionError("pass 2 built an encoder")

    monkeypatch.setattr(distributed, "_backend", no_encoder)
    shuffled = pa.Table.from_batches([kept]).take(
        pa.array(np.random.default_rng(5).permutation(kept.num_rows)))
    got = _stats_batch(*_encoded(iter(shuffled.to_batches(max_chunksize=64)), DIM), pop, 0.9)
    assert got.num_rows == want.num_rows == 34
    assert got.schema == want.schema
    for name in ("account_id", "n_sampled", "n_distinct"):
        assert got.column(name).to_pylist() == want.column(name).to_pylist(), name
    for name in STAT_NAMES:
        a, b = (t.column(name).to_numpy(zero_copy_only=False) for t in (want, got))
        assert np.array_equal(a, b, equal_nan=True), name
    assert np.isfinite(want.column("mmd").to_numpy(zero_copy_only=False)).any() == with_population
    a, b = (np.stack(t.column("centroid").to_numpy(zero_copy_only=False)) for t in (want, got))
    assert a.dtype == b.dtype == np.float32 and np.array_equal(a, b)


def test_kept_rows_out_of_their_order_are_an_error() -> None:
    (kept,) = list(_Encode(SPEC, 4, Counter())(iter(_sample_batches())))
    first = kept.column("first").to_numpy(zero_copy_only=False)
    rows = kept.column("row").to_numpy().copy()
    a, b = np.flatnonzero(first)[1], np.flatnonzero(~first)[0]  # a repeat before its first row
    rows[[a, b]] = rows[[b, a]]
    broken = kept.set_column(kept.schema.get_field_index("row"), "row", pa.array(rows))
    with pytest.raises(RuntimeError, match="one-pass order"):
        _encoded(iter([broken]), DIM)


def test_executor_parts_are_published_into_the_cache(tmp_path) -> None:
    from detector.embeddings.cache import EmbeddingCache
    from detector.embeddings.cache_spark import publish, staging, write_new

    cache = EmbeddingCache(tmp_path, "hashing", SPEC[1], DIM, max_parts=2)
    cache.add(["a"], np.full((1, DIM), 0.5, np.float32))
    stash = staging(cache)
    vectors = np.eye(3, DIM, dtype=np.float32)
    write_new(str(stash), SPEC, ["a", "b"], vectors[:2])   # "a" again: the first copy wins
    write_new(str(stash), SPEC, ["c"], vectors[2:])
    write_new(str(stash), SPEC, [], vectors[:0])
    assert publish(cache, stash) == 2 and not stash.exists()
    assert len(cache.parts()) == 1  # three parts > max_parts: compacted
    found, got = cache.lookup(["a", "b", "c", "d"])
    assert found.tolist() == [True, True, True, False]
    assert np.array_equal(got[:3], np.vstack([np.full((1, DIM), 0.5, np.float32), vectors[1:]]))
    assert publish(cache, staging(cache)) == 0
