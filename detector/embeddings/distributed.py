"""The coverage stage's per-account work on a Spark cluster (``engine = "spark"``).

The shape of :mod:`detector.embeddings.batched`, with Spark partitions for buckets: every
account's statistics depend only on its own sampled prompts and the population model.

1. **Sample** (Spark SQL over the day's request files, read by URI on the executors:
   ``lake.spark.read_requests``): the same rows as :func:`sampling.sample_prompts`
   (:func:`sampling.sample_sql`), each with its vector from the embedding cache when it has
   one (:func:`cache_spark.cached_vectors`), repartitioned by ``account_id`` into partitions
   of about ``accounts_per_batch`` accounts.
2. **Pass 1** (``mapInArrow``, the one encoding): each partition embeds its distinct prompts
   the cache lacks with the backend loaded once per Python worker (and writes them for the
   cache: :mod:`cache_spark`) and returns its sample without the text, in
   the one-pass order (``row``), each distinct prompt's vector on its first row and on the
   population-sample candidates (at most ``reference_per_account`` rows per account). This
   frame is kept (memory, then disk) on the executors until the stage ends; only the
   candidates a fit uses reach the driver, and only when the model may be fitted (3.).
3. **Driver**: the population model is loaded or fitted (:meth:`CoverageStage.ensure_population`),
   exactly as on DuckDB; the executors make the candidates the population sample and only the
   rows the fit uses (at most ``codebook_sample``) are collected (:mod:`population_spark`).
   When an active, complete (not provisional) model is loaded and no refit is asked for,
   nothing is fitted, so nothing is collected.
4. **Pass 2** (``mapInArrow`` over pass 1's kept frame, same partitions; the population pickled
   and broadcast, unpickled once per worker): each partition rebuilds pass 1's rows, prompt
   codes and vectors (the same float32 numbers, nothing encoded) and returns one row per
   account (sampled rows, distinct prompts, statistics, centroid). These rows stay on the
   cluster: joined with the day's active accounts, one task builds and writes the day's
   coverage features and centroids files (:mod:`write_spark`, the tables
   :meth:`CoverageStage._write` builds); the driver renames them into place and writes the
   manifest last.

What reaches the driver: when the model may be fitted, the population sample's rows the fit
uses (at most ``codebook_sample``, with their vectors), the day's account and distinct prompt counts, and the write task's one
result row (file names, counts, sampled rows); never prompts nor centroids. A
sampled prompt missing from the embedding cache is encoded once per partition that samples it,
in pass 1 only (an accumulator counts the encoded prompts: ``embedded_now``); the driver moves
the new vectors into the cache after pass 2. Executors run the
``static`` model (its folder under the home, on storage every executor mounts at the same path)
or ``hashing``; MiniLM on GPU executors is designed, not built (docs/scale.md).
"""

from __future__ import annotations

import hashlib
import pickle
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from detector.embeddings import population_spark
from detector.embeddings.cache import vectors_from_arrow
from detector.embeddings.cache_spark import cached_vectors, publish, staging, write_new
from detector.embeddings.sampling import sample_sql
from detector.embeddings.stats import STAT_NAMES
from detector.embeddings.write_spark import write_day
from detector.errors import ConfigError
from detector.lake.spark import read_requests, spark_session

if TYPE_CHECKING:
    from detector.embeddings.stage import CoverageStage, DayResult
    from detector.settings import Settings

_ENC_SCHEMA = ("account_id string, row long, pos long, prompt_hash string, n_distinct long, "
               "first boolean, candidate boolean, vector array<float>")
_STATS_SCHEMA = ", ".join(["account_id string", "n_sampled long", "n_distinct long",
                           *(f"{name} double" for name in STAT_NAMES), "centroid array<float>"])
_BACKENDS: dict[tuple, Any] = {}   # backend spec -> backend, per Python worker process
_POPULATIONS: dict[str, Any] = {}  # pickle digest -> Population, per Python worker process


def sample_frame(session: Any, settings: Settings, date: str, k: int, seed: int,
                 max_chars: int) -> Any:
    """The day's sample as a Spark DataFrame (rows of :func:`sampling.sample_prompts`, no
    order), or None when the day has no request file."""
    day = read_requests(session, settings, date,
                        ["account_id", "prompt_hash", "ts", "prompt_text"])
    if day is None:
        return None
    view = f"dg_emb_day_{date.replace('-', '_')}"
    day.createOrReplaceTempView(view)
    return session.sql(sample_sql("spark", view=view, date=date, k=k, seed=seed,
                                  max_chars=max_chars))


def _spec(stage: CoverageStage) -> tuple:
    """What an executor needs to build the driver's backend: (name, model_version, dim, folder,
    batch size)."""
    backend = stage.backend
    if backend.name == "hashing":
        return ("hashing", backend.model_version, backend.dim, "", 0)
    if backend.name == "static":
        return ("static", backend.model_version, backend.dim, str(Path(backend.model_dir).absolute()),
                int(backend.batch_size))
    raise ConfigError(f"setting 'embedding_backend': {backend.name!r} does not run on Spark executors "
                      "(engine = 'spark' runs 'static' or 'hashing'; MiniLM on GPU executors is "
                      "designed, not built: docs/scale.md)")


def _backend(spec: tuple) -> Any:
    """The backend of ``spec``, built once per Python worker process; its model version must be
    the driver's (the same model files)."""
    backend = _BACKENDS.get(spec)
    if backend is None:
        import torch

        from detector.embeddings.backends import HashingBackend, StaticBackend

        torch.set_num_threads(1)  # one task per core: Spark runs the partitions in parallel
        name, version, dim, folder, batch = spec
        backend = HashingBackend(dim) if name == "hashing" else StaticBackend(Path(folder), batch)
        if backend.model_version != version:
            raise RuntimeError(f"embeddings on Spark: executor built {name} model "
                               f"{backend.model_version!r} from {folder or 'code'!r}, the driver "
                               f"has {version!r}")
        _BACKENDS.clear()
        _BACKENDS[spec] = backend
    return backend


def _partition(batches: Iterator[pa.RecordBatch], spec: tuple, counter: Any = None,
               stash: str | None = None) -> tuple[pd.DataFrame, np.ndarray, np.ndarray] | None:
    """(sample in one-pass order, row -> distinct prompt code, vectors per code) of one
    partition; None when empty. Distinct prompts with a ``cached`` vector (column optional)
    take it, the others are encoded, counted in ``counter`` and written into ``stash``."""
    got = list(batches)
    if not got:
        return None
    table = pa.Table.from_batches(got)
    if not table.num_rows:
        return None
    cached = table.column("cached") if "cached" in table.column_names else None
    sample = table.drop_columns(["cached"] if cached is not None else []).to_pandas()
    sample = sample.sort_values(["account_id", "first_ts", "prompt_hash"], kind="stable")
    source, sample = sample.index.to_numpy(), sample.reset_index(drop=True)
    codes, _ = pd.factorize(sample["prompt_hash"], sort=False)
    _, first_row = np.unique(codes, return_index=True)
    new = np.ones(len(first_row), bool)
    vectors = np.zeros((len(first_row), spec[2]), np.float32)
    if cached is not None:
        hit = cached.take(pa.array(source[first_row]))
        new = hit.is_null().to_numpy(zero_copy_only=False)
        vectors[~new] = vectors_from_arrow(hit.filter(pc.invert(hit.is_null())), spec[2])
    if new.any():
        vectors[new] = _backend(spec).encode(sample["prompt_text"].to_numpy()[first_row[new]].tolist())
        if counter is not None:
            counter.add(int(new.sum()))
        if stash is not None:
            write_new(stash, spec, sample["prompt_hash"].to_numpy()[first_row[new]].tolist(),
                      vectors[new])
    return sample, codes, vectors


def _list_column(vectors: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    """``vectors`` as a list<float32> column; with ``mask``, one row per entry, null where it is
    true, ``vectors`` holding the other rows' vectors in order."""
    n = len(mask) if mask is not None else len(vectors)
    flat = pa.array(np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1))
    sizes = np.full(n, vectors.shape[1], np.int32)
    if mask is not None:
        sizes[mask] = 0
    offsets = pa.array(np.concatenate([[0], np.cumsum(sizes)]).astype(np.int32))
    return pa.ListArray.from_arrays(offsets, flat,
                                    mask=pa.array(mask) if mask is not None else None)


class _Encode:
    """Pass 1: a partition's sample in the one-pass order (``row``), without its text; each
    distinct prompt's vector on its first row (``first``) and on the population-sample
    candidates (``candidate``, blocked accounts included: the driver drops them)."""

    def __init__(self, spec: tuple, per: int, counter: Any, stash: str | None = None) -> None:
        self.spec, self.per, self.counter, self.stash = spec, per, counter, stash

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        from detector.embeddings.stage import candidate_rows

        part = _partition(batches, self.spec, self.counter, self.stash)
        if part is None:
            return
        sample, codes, vectors = part
        n = len(sample)
        first = np.zeros(n, bool)
        first[np.unique(codes, return_index=True)[1]] = True
        candidate = np.zeros(n, bool)
        candidate[candidate_rows(sample, set(), self.per)] = True
        yield pa.RecordBatch.from_pydict({
            "account_id": pa.array(sample["account_id"].astype(str).tolist(), pa.string()),
            "row": pa.array(np.arange(n, dtype=np.int64)),
            "pos": pa.array(sample.groupby("account_id", sort=False).cumcount().to_numpy()
                            .astype(np.int64)),
            "prompt_hash": pa.array(sample["prompt_hash"].astype(str).tolist(), pa.string()),
            "n_distinct": pa.array(sample["n_distinct"].to_numpy().astype(np.int64)),
            "first": pa.array(first), "candidate": pa.array(candidate),
            "vector": _list_column(vectors[codes[first | candidate]], ~(first | candidate)),
        })


def _encoded(batches: Iterator[pa.RecordBatch], dim: int
             ) -> tuple[pd.DataFrame, np.ndarray, np.ndarray] | None:
    """Pass 1's (sample, codes, vectors) of one partition, rebuilt from its kept rows: the
    same order, codes and float32 vectors, nothing encoded; None when empty."""
    got = list(batches)
    if not got or not sum(b.num_rows for b in got):
        return None
    table = pa.Table.from_batches(got)
    table = table.take(pc.sort_indices(table, [("row", "ascending")]))
    sample = table.select(["account_id", "prompt_hash", "n_distinct"]).to_pandas()
    codes, _ = pd.factorize(sample["prompt_hash"], sort=False)
    first = table.column("first").to_numpy(zero_copy_only=False)
    if not np.array_equal(np.flatnonzero(first), np.unique(codes, return_index=True)[1]):
        raise RuntimeError("embeddings on Spark: pass 1's kept rows lost their one-pass order "
                           f"(account {sample['account_id'].iloc[0]!r}'s partition)")
    vectors = vectors_from_arrow(table.column("vector").filter(first), dim).copy()  # writable
    return sample, codes, vectors


class _Coverage:
    """Pass 2, over pass 1's kept frame: one row per account of the partition: sampled rows,
    distinct prompts, statistics against the broadcast population model, centroid."""

    def __init__(self, dim: int, digest: str, broadcast: Any, similar_threshold: float) -> None:
        self.dim, self.digest, self.broadcast = dim, digest, broadcast
        self.similar_threshold = similar_threshold

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        part = _encoded(batches, self.dim)
        if part is None:
            return
        pop = _POPULATIONS.get(self.digest)
        if pop is None and self.digest not in _POPULATIONS:
            _POPULATIONS.clear()  # one population at a time: a worker lives for many jobs
            pop = _POPULATIONS[self.digest] = pickle.loads(self.broadcast.value)
        yield _stats_batch(*part, pop, self.similar_threshold)


def _stats_batch(sample: pd.DataFrame, codes: np.ndarray, vectors: np.ndarray, pop: Any,
                 similar_threshold: float) -> pa.RecordBatch:
    """One row per account of a partition (accounts contiguous in ``sample``)."""
    from detector.embeddings.stage import account_stats

    groups = sample.groupby("account_id", sort=False)
    lengths = groups.size()
    stats, centroids = account_stats(vectors, codes, lengths.to_numpy(), pop, "cpu",
                                     similar_threshold)
    cols = {"account_id": pa.array(lengths.index.astype(str).tolist(), pa.string()),
            "n_sampled": pa.array(lengths.to_numpy().astype(np.int64)),
            "n_distinct": pa.array(groups["n_distinct"].first().to_numpy().astype(np.int64))}
    cols.update({name: pa.array(np.asarray(stats[name], np.float64)) for name in STAT_NAMES})
    cols["centroid"] = _list_column(centroids)
    return pa.RecordBatch.from_pydict(cols)


def run_day_spark(stage: CoverageStage, date: str, blocked: set[str], refit: bool) -> DayResult:
    """The day's coverage features, centroids and manifest, the per-account work on Spark."""
    from pyspark import StorageLevel

    from detector.embeddings.stage import DayResult

    cfg, dim = stage.config, stage.backend.dim
    spec = _spec(stage)
    session = spark_session(stage.settings)
    seconds = dict.fromkeys(("sample", "embed", "population", "stats"), 0.0)
    t0 = time.perf_counter()
    frame = sample_frame(session, stage.settings, date, cfg.sample_k, cfg.seed, cfg.max_chars)
    accounts = None
    if frame is not None:
        view = f"dg_emb_day_{date.replace('-', '_')}"
        accounts = session.sql(f"SELECT DISTINCT account_id FROM {view} "
                               "WHERE account_id IS NOT NULL")
    res = DayResult(date=date, accounts=int(accounts.count()) if accounts is not None else 0)
    parts = max(int(session.sparkContext.defaultParallelism),
                -(-res.accounts // cfg.accounts_per_batch), 1)
    seconds["sample"] = time.perf_counter() - t0
    encoded = cand = None
    n_pop = 0
    counter = session.sparkContext.accumulator(0)
    stash = staging(stage.cache)
    if frame is not None:
        known = cached_vectors(session, stage.settings, stage.cache, frame)
        frame = (frame.join(known, "prompt_hash", "left") if known is not None else
                 frame.selectExpr("*", "CAST(NULL AS array<float>) AS cached"))
        fn = _Encode(spec, cfg.reference_per_account, counter, str(stash))
        encoded = (frame.repartition(parts, "account_id").mapInArrow(fn, _ENC_SCHEMA)
                   .persist(StorageLevel.MEMORY_AND_DISK))
    try:
        t0 = time.perf_counter()
        if encoded is not None:  # the first action encodes and keeps every partition
            if population_spark.may_fit(stage, refit):
                cand, n_pop = population_spark.candidates(session, stage.settings, encoded,
                                                             blocked, cfg)
            res.unique_prompts = int(encoded.select("prompt_hash").distinct().count())
        seconds["embed"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        pop = population_spark.population(stage, cand, n_pop, dim, date, blocked, refit, res)
        res.population_version = pop.version if pop else None
        seconds["population"] = time.perf_counter() - t0

        t0 = time.perf_counter()  # pass 2 and the files' write: one job, one task writes
        stats = broadcast = None
        if encoded is not None:
            blob = pickle.dumps(pop)
            broadcast = session.sparkContext.broadcast(blob)
            fn = _Coverage(dim, hashlib.sha256(blob).hexdigest(), broadcast, cfg.similar_threshold)
            stats = encoded.mapInArrow(fn, _STATS_SCHEMA)
        try:
            res.sampled_rows = write_day(stage, date, accounts, stats, res.accounts)
        finally:
            if broadcast is not None:
                broadcast.unpersist()
        seconds["stats"] = time.perf_counter() - t0
        publish(stage.cache, stash)  # after pass 2: a recomputed partition writes again
    finally:
        if encoded is not None:
            encoded.unpersist()
        shutil.rmtree(stash, ignore_errors=True)
    res.embedded = int(counter.value)  # after pass 2: a partition recomputed counts again
    res.seconds = seconds
    t0 = time.perf_counter()
    stage._write_manifest(date, pop, res)
    res.seconds["write"] = time.perf_counter() - t0
    return res
