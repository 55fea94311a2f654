"""The coverage stage of one day in account-hash buckets: memory bounded by the bucket, not the day.

One pass over the whole day (:meth:`CoverageStage.run_sample`) holds every sampled prompt's text
and vector at once; at 100k accounts that is millions of rows and several GiB. Here the accounts
are split by ``hash(account_id) % n`` (:func:`sampling.sample_prompts` with ``bucket``) and the day
runs in two passes:

1. per bucket: sample (kept in a temporary Parquet file), embed the prompts not yet cached (the
   cache stores them; the bucket's vectors are kept in a temporary ``.npy``), and keep only the population-sample candidates (at most
   ``reference_per_account`` rows per account, with their vectors);
2. the population sample is the candidates in the one-pass order (account, then arrival), one
   row per prompt hash: the same rows, so the same population model;
3. per bucket: read the sample and its vectors back (temporary files, not the cache: its
   lookups read every stored vector), statistics and centroids (each account's values depend
   on its own prompts and the population model only);

then the per-account results are put in account order and written as one day, exactly as the
one-pass path writes them.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from detector.embeddings.paths import embeddings_root
from detector.embeddings.sampling import sample_prompts

if TYPE_CHECKING:
    from detector.embeddings.stage import CoverageStage, DayResult


def run_day_batched(stage: CoverageStage, con: Any, date: str, accounts: list[str],
                    blocked: set[str], refit: bool, n_buckets: int) -> DayResult:
    """The day's coverage features, centroids and manifest, the sample in ``n_buckets`` buckets."""
    from detector.embeddings.stage import DayResult

    res = DayResult(date=date, accounts=len(accounts))
    seconds = dict.fromkeys(("sample", "embed", "population", "stats"), 0.0)
    root = embeddings_root(stage.settings)
    root.mkdir(parents=True, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".batched-{date}-", dir=root)
    try:
        cand_frames, cand_vectors, unique = [], [], set()
        for b in range(n_buckets):
            t0 = time.perf_counter()
            table = sample_prompts(con, date, stage.config.sample_k, stage.config.seed,
                                   stage.config.max_chars, bucket=(b, n_buckets))
            pq.write_table(table, f"{tmp}/bucket-{b}.parquet")
            sample = table.to_pandas()
            del table
            seconds["sample"] += time.perf_counter() - t0
            t0 = time.perf_counter()
            codes, hashes, vectors, embedded = _embed(stage, sample)
            np.save(f"{tmp}/vectors-{b}.npy", vectors)  # pass 2 reads them here, not the cache
            res.embedded += embedded
            res.sampled_rows += len(sample)
            unique.update(hashes)
            seconds["embed"] += time.perf_counter() - t0
            rows = stage.population_candidates(sample, blocked) if len(sample) else np.zeros(0, np.int64)
            starts = sample.groupby("account_id", sort=False).cumcount().to_numpy()
            cand_frames.append(pd.DataFrame({"account_id": sample["account_id"].to_numpy()[rows],
                                             "pos": starts[rows],
                                             "prompt_hash": sample["prompt_hash"].to_numpy()[rows]}))
            cand_vectors.append(vectors[codes[rows]])
            del sample, codes, vectors  # before the next bucket's sample
        res.unique_prompts = len(unique)
        del unique

        t0 = time.perf_counter()
        cand = pd.concat(cand_frames, ignore_index=True)
        vectors = np.concatenate(cand_vectors) if cand_vectors else np.zeros((0, stage.backend.dim), np.float32)
        del cand_frames, cand_vectors
        keep = population_rows(cand["account_id"].to_numpy().astype(str), cand["pos"].to_numpy(),
                               cand["prompt_hash"].to_numpy().astype(str))
        pop, res.population_fitted = stage.ensure_population(
            vectors[keep], cand["prompt_hash"].to_numpy()[keep].astype(str).tolist(), date, refit,
            excluded=len(blocked))
        res.population_version = pop.version if pop else None
        del cand, vectors
        seconds["population"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        parts = [_bucket_stats(stage, pq.read_table(f"{tmp}/bucket-{b}.parquet").to_pandas(),
                               np.load(f"{tmp}/vectors-{b}.npy"), pop) for b in range(n_buckets)]
        ids = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, object)
        order = np.argsort(ids.astype(str), kind="stable")
        lengths = np.concatenate([p[1] for p in parts])[order]
        n_distinct = np.concatenate([p[2] for p in parts])[order]
        stats = {k: np.concatenate([p[3][k] for p in parts])[order] for k in parts[0][3]}
        centroids = np.concatenate([p[4] for p in parts])[order]
        seconds["stats"] = time.perf_counter() - t0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    res.seconds = seconds
    t0 = time.perf_counter()
    stage._write(date, accounts, ids[order].tolist(), lengths, n_distinct, stats, centroids, pop, res)
    res.seconds["write"] = time.perf_counter() - t0
    return res


def population_rows(account_ids: np.ndarray, pos: np.ndarray, hashes: np.ndarray,
                    drop: np.ndarray | None = None) -> np.ndarray:
    """Positions of the population sample among the candidates: the one-pass order (account,
    then arrival ``pos``), one row per prompt hash (its first), without the rows ``drop`` marks.
    The same rows whether the day ran in one pass, in buckets or in Spark partitions."""
    order = np.lexsort((pos, account_ids))
    if drop is not None:
        order = order[~drop[order]]
    _, first = np.unique(hashes[order], return_index=True)
    return order[np.sort(first)]


def _embed(stage: CoverageStage, sample: pd.DataFrame) -> tuple[np.ndarray, list[str], np.ndarray, int]:
    """(row -> unique prompt code, unique hashes, their vectors, how many were embedded now)."""
    codes, uniq = pd.factorize(sample["prompt_hash"], sort=False)
    _, first_row = np.unique(codes, return_index=True)
    texts = sample["prompt_text"].to_numpy()[first_row].tolist() if len(uniq) else []
    hashes = [str(h) for h in uniq]
    vectors, embedded = stage.embed_unique(hashes, texts)
    return codes, hashes, vectors, embedded


def _bucket_stats(stage: CoverageStage, sample: pd.DataFrame, vectors: np.ndarray, pop: Any
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, np.ndarray], np.ndarray]:
    """(account ids, sampled rows, distinct prompts, statistics, centroids) of one bucket.

    ``vectors``: pass 1's, one per distinct prompt hash in first-appearance order (the order
    ``pd.factorize`` gives again on the same sample)."""
    codes, _ = pd.factorize(sample["prompt_hash"], sort=False)
    groups = sample.groupby("account_id", sort=False)
    lengths = groups.size()
    stats, centroids = stage._stats(vectors, codes, lengths.to_numpy(), pop)
    return (lengths.index.to_numpy(dtype=object), lengths.to_numpy(),
            groups["n_distinct"].first().to_numpy(), stats, centroids)
