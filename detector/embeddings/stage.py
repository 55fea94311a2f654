"""The coverage stage: sample -> embed (cached, deduplicated) -> population model -> statistics -> write.

Cost is bounded by accounts, not requests: at most K prompts per account-day are embedded, a
prompt hash is embedded once per run whatever the number of accounts sending it, and once ever
thanks to the persistent cache. Writes, per date D:

* ``features/coverage/date=D/part-0.parquet``: one row per account active on D (keys
  ``account_id``, ``date``; ``cov_*`` columns, see :mod:`detector.embeddings.catalog`).
* ``embeddings/centroids/date=D/part-0.parquet``: account_id, date, centroid (list<float32>,
  unit length), n_sampled, backend, model_version; only accounts with at least one prompt.
* ``embeddings/manifest/date=D.json``: backend, model version, population version, counts, seconds.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from datetime import date as date_cls
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import torch

from detector.embeddings.backends import EmbeddingBackend, make_backend
from detector.embeddings.cache import EmbeddingCache
from detector.embeddings.catalog import OUTPUT_STATS
from detector.embeddings.config import EmbeddingConfig, resolve_device
from detector.embeddings.paths import centroids_path, embeddings_root
from detector.embeddings.population import Population, fit_population, load_active, save_population
from detector.embeddings.stats import Reference, coverage_stats
from detector.errors import InputError
from detector.lake.io import write_parquet_atomic, write_text_atomic
from detector.settings import Settings

log = logging.getLogger(__name__)
EMBED_CHUNK = 16_384


@dataclass
class DayResult:
    """What one day's run did (for the CLI, the manifest and benchmarks)."""

    date: str
    accounts: int = 0
    sampled_rows: int = 0
    unique_prompts: int = 0
    embedded: int = 0
    population_version: str | None = None
    population_fitted: bool = False
    seconds: dict[str, float] = field(default_factory=dict)


def _validate_date(value: str) -> str:
    try:
        return date_cls.fromisoformat(str(value)).isoformat()
    except ValueError:
        raise InputError(f"embeddings: date {value!r} is not YYYY-MM-DD") from None


class CoverageStage:
    """One backend, one cache, one population model; ``run_day`` per date."""

    def __init__(self, settings: Settings, config: EmbeddingConfig | None = None,
                 backend: EmbeddingBackend | None = None, allow_distill: bool = True) -> None:
        self.settings = settings
        self.config = config or EmbeddingConfig.from_settings(settings)
        self.device = resolve_device(self.config.device)
        if settings.threads:
            torch.set_num_threads(int(settings.threads))
        self.backend = backend or make_backend(self.config, settings.home, allow_distill=allow_distill)
        root = embeddings_root(settings)
        self.cache = EmbeddingCache(root / "cache", self.backend.name, self.backend.model_version,
                                    self.backend.dim)
        self.population_root = root / "population"
        self.population: Population | None = None

    # --- embedding ---------------------------------------------------------------------------
    def embed_unique(self, hashes: list[str], texts: list[str]) -> tuple[np.ndarray, int]:
        """Vectors for unique prompt hashes: from the cache, the rest embedded and cached."""
        found, vectors = self.cache.lookup(hashes)
        missing = np.flatnonzero(~found)
        with _progress(len(missing), f"embedding ({self.backend.name})") as advance:
            for lo in range(0, len(missing), EMBED_CHUNK):
                idx = missing[lo:lo + EMBED_CHUNK]
                new = self.backend.encode([texts[i] for i in idx])
                vectors[idx] = new
                self.cache.add([hashes[i] for i in idx], new)
                advance(len(idx))
        return vectors, len(missing)

    # --- population model --------------------------------------------------------------------
    def _blocked_accounts(self, con: Any, date: str) -> set[str]:
        import duckdb

        try:
            rows = con.execute("SELECT DISTINCT account_id FROM verdicts WHERE decision = 'block' "
                               "AND CAST(date AS DATE) < CAST(? AS DATE)", [date]).fetchall()
        except duckdb.Error:
            return set()
        return {r[0] for r in rows}

    def population_sample(self, sample: pd.DataFrame, blocked: set[str]) -> np.ndarray:
        """Row indices of the population sample: <= reference_per_account rows spread evenly over
        each account's (time-ordered) sample, accounts not blocked, one row per prompt hash."""
        rows = self.population_candidates(sample, blocked)
        _, first = np.unique(sample["prompt_hash"].to_numpy()[rows].astype(str), return_index=True)
        return np.sort(rows[first])

    def population_candidates(self, sample: pd.DataFrame, blocked: set[str]) -> np.ndarray:
        """:meth:`population_sample` before one row per prompt hash is kept (ascending rows)."""
        return candidate_rows(sample, blocked, self.config.reference_per_account)

    def ensure_population(self, vectors: np.ndarray, hashes: list[str], date: str,
                          refit: bool, excluded: int, total: int | None = None
                          ) -> tuple[Population | None, bool]:
        """The active population model, fitted now when missing, stale, provisional or asked for.

        ``total``: the population sample's size when ``vectors``/``hashes`` are only the rows
        ``population.fit_rows`` chose among them (the Spark engine)."""
        active = self.population or load_active(self.population_root, self.backend.name,
                                                self.backend.model_version, self.config)
        n = len(hashes) if total is None else total
        outgrown = (active is not None and active.meta.get("provisional")
                    and n > active.meta.get("n_fit", 0))
        if active is not None and not refit and not outgrown:
            self.population = active
            return active, False
        if n < 8:
            return active, False
        pop = fit_population(vectors, hashes, self.config, self.backend.name, self.backend.model_version,
                             self.device, meta={"fit_dates": [date], "excluded_blocked_accounts": excluded},
                             total=total)
        save_population(pop, self.population_root)
        self.population = pop
        return pop, True

    # --- one day -----------------------------------------------------------------------------
    def run_day(self, con: Any, date: str, refit: bool = False) -> DayResult:
        """Sample the day from the lake (DuckDB connection ``con``), then :meth:`run_sample`."""
        from detector.embeddings.sampling import active_accounts, sample_prompts

        t0 = time.perf_counter()
        blocked = self._blocked_accounts(con, date)
        if self.settings.engine == "spark":  # the per-account work on the executors
            from detector.embeddings.distributed import run_day_spark

            return run_day_spark(self, date, blocked, refit)
        accounts = active_accounts(con, date)
        n_buckets = -(-len(accounts) // self.config.accounts_per_batch)
        if n_buckets > 1:  # bounded memory: the sample in account-hash buckets, two passes
            from detector.embeddings.batched import run_day_batched

            return run_day_batched(self, con, date, accounts, blocked, refit, n_buckets)
        sample = sample_prompts(con, date, self.config.sample_k, self.config.seed,
                                self.config.max_chars).to_pandas()
        sampled = time.perf_counter() - t0
        res = self.run_sample(sample, date, accounts, blocked, refit)
        res.seconds = {"sample": sampled, **res.seconds}
        return res

    def run_sample(self, sample: pd.DataFrame, date: str, accounts: list[str],
                   blocked: set[str] | None = None, refit: bool = False) -> DayResult:
        """Everything after sampling: embed, population model, statistics, write.

        ``sample`` has the columns of :func:`sampling.sample_prompts` (accounts contiguous, arrival
        order inside an account); ``accounts`` lists every account active on ``date``.
        """
        res = DayResult(date=date, accounts=len(accounts), sampled_rows=len(sample))
        blocked = blocked or set()
        t0 = time.perf_counter()
        codes, uniq = pd.factorize(sample["prompt_hash"], sort=False)
        _, first_row = np.unique(codes, return_index=True)
        texts = sample["prompt_text"].to_numpy()[first_row].tolist() if len(uniq) else []
        hashes = [str(h) for h in uniq]
        vectors, res.embedded = self.embed_unique(hashes, texts)
        res.unique_prompts = len(hashes)
        res.seconds["embed"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        pop_rows = self.population_sample(sample, blocked) if len(sample) else np.zeros(0, np.int64)
        pop, res.population_fitted = self.ensure_population(
            vectors[codes[pop_rows]], [hashes[c] for c in codes[pop_rows]], date, refit,
            excluded=len(blocked))
        res.population_version = pop.version if pop else None
        res.seconds["population"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        lengths = sample.groupby("account_id", sort=False).size()
        stats, centroids = self._stats(vectors, codes, lengths.to_numpy(), pop)
        res.seconds["stats"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        n_distinct = sample.groupby("account_id", sort=False)["n_distinct"].first()
        self._write(date, accounts, list(lengths.index), lengths.to_numpy(), n_distinct.to_numpy(),
                    stats, centroids, pop, res)
        res.seconds["write"] = time.perf_counter() - t0
        return res

    def _stats(self, vectors: np.ndarray, codes: np.ndarray, lengths: np.ndarray,
               pop: Population | None) -> tuple[dict[str, np.ndarray], np.ndarray]:
        return account_stats(vectors, codes, lengths, pop, self.device, self.config.similar_threshold)

    def _write(self, date: str, accounts: list[str], sampled_accounts: list[str], lengths: np.ndarray,
               n_distinct: np.ndarray, stats: dict[str, np.ndarray], centroids: np.ndarray,
               pop: Population | None, res: DayResult) -> None:
        """Write the day's coverage features, centroids (tables built by :func:`coverage_table`
        and :func:`centroid_table`) and, last, its manifest."""
        write_parquet_atomic(coverage_path(self.settings, date),
                             coverage_table(date, accounts, sampled_accounts, lengths, n_distinct, stats))
        write_parquet_atomic(centroids_path(self.settings, date),
                             centroid_table(date, sampled_accounts, lengths, centroids,
                                            self.backend.name, self.backend.model_version))
        self._write_manifest(date, pop, res)

    def _write_manifest(self, date: str, pop: Population | None, res: DayResult) -> None:
        manifest = {"date": date, "backend": self.backend.name, "model_version": self.backend.model_version,
                    "dim": self.backend.dim, "device": self.device, "sample_k": self.config.sample_k,
                    "population_version": pop.version if pop else None,
                    "population_fitted_now": res.population_fitted, "accounts": res.accounts,
                    "sampled_rows": res.sampled_rows, "unique_prompts": res.unique_prompts,
                    "embedded_now": res.embedded,
                    "seconds": {k: round(v, 3) for k, v in res.seconds.items()},
                    "written_at": datetime.now(UTC).isoformat(timespec="seconds")}
        write_text_atomic(embeddings_root(self.settings) / "manifest" / f"date={date}.json",
                          json.dumps(manifest, indent=2))


def coverage_path(settings: Settings, date: str) -> Path:
    """The day's coverage features file."""
    return settings.features_dir / "coverage" / f"date={date}" / "part-0.parquet"


def coverage_table(date: str, accounts: list[str], sampled_accounts: list[str], lengths: np.ndarray,
                   n_distinct: np.ndarray, stats: dict[str, np.ndarray]) -> pa.Table:
    """The coverage features file's rows: one per account of ``accounts`` (in that order), the
    ``sampled_accounts`` (``lengths`` rows each) with their statistics, the others zero/null."""
    frame = coverage_frame(sampled_accounts, lengths, n_distinct, stats)
    full = pd.DataFrame({"account_id": accounts}).merge(frame, on="account_id", how="left")
    full["cov_n_distinct"] = full["cov_n_distinct"].fillna(0).astype(np.int64)
    full["cov_n_sampled"] = full["cov_n_sampled"].fillna(0).astype(np.int32)
    full["cov_mmd_exceeds"] = full["cov_mmd_exceeds"].astype("boolean")
    day = date_cls.fromisoformat(date)
    full.insert(1, "date", day)
    table = pa.Table.from_pandas(full, preserve_index=False)
    return table.set_column(1, "date", pa.array([day] * len(full), type=pa.date32()))


def centroid_table(date: str, sampled_accounts: list[str], lengths: np.ndarray, centroids: np.ndarray,
                   backend: str, model_version: str) -> pa.Table:
    """The centroids file's rows: one per sampled account, in the given order."""
    day = date_cls.fromisoformat(date)
    n = len(sampled_accounts)
    flat = pa.array(np.ascontiguousarray(centroids, dtype=np.float32).reshape(-1))
    offsets = pa.array(np.arange(0, centroids.size + 1, max(centroids.shape[1], 1), dtype=np.int32)[: n + 1])
    return pa.table({
        "account_id": pa.array(sampled_accounts, type=pa.string()),
        "date": pa.array([day] * n, type=pa.date32()),
        "centroid": pa.ListArray.from_arrays(offsets, flat) if n else pa.array([], pa.list_(pa.float32())),
        "n_sampled": pa.array(lengths.astype(np.int32)),
        "backend": pa.array([backend] * n, type=pa.string()),
        "model_version": pa.array([model_version] * n, type=pa.string()),
    })


def candidate_rows(sample: pd.DataFrame, blocked: set[str], per: int) -> np.ndarray:
    """Rows of ``sample`` (accounts contiguous, arrival order inside an account) that are
    population-sample candidates: <= ``per`` rows spread evenly over each account's sample,
    accounts in ``blocked`` left out (ascending rows)."""
    n = sample.groupby("account_id", sort=False).size().to_numpy()
    starts = np.concatenate([[0], np.cumsum(n)[:-1]]).astype(np.int64)
    take = np.minimum(n, per)
    owner = np.repeat(np.arange(len(n)), take)
    j = np.arange(int(take.sum())) - np.repeat(np.cumsum(take) - take, take)
    pos = np.where(n[owner] <= per, j, np.floor((j + 0.5) * n[owner] / per).astype(np.int64))
    rows = starts[owner] + pos
    if blocked:
        rows = rows[~np.isin(sample["account_id"].to_numpy()[rows].astype(str), sorted(blocked))]
    return rows


def account_stats(vectors: np.ndarray, codes: np.ndarray, lengths: np.ndarray,
                  pop: Population | None, device: str, similar_threshold: float
                  ) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Coverage statistics and centroids of consecutive accounts (``lengths`` rows each; row i's
    vector is ``vectors[codes[i]]``) against the population model ``pop`` (topic and MMD
    statistics NaN without one). Each account's values depend on its own rows only."""
    dev_vectors = torch.from_numpy(np.ascontiguousarray(vectors, dtype=np.float32)).to(device)
    ref = pop.to_reference(device) if pop else _placeholder_reference(dev_vectors)
    stats, centroids = coverage_stats(dev_vectors, codes.astype(np.int64), lengths, ref,
                                      similar_threshold,
                                      budget=(1 << 27) if device.startswith("cuda") else (1 << 24))
    if pop is None:  # no population model yet: topic and MMD statistics are undefined
        for name in ("topics_hit", "codebook_coverage", "topic_entropy", "js_divergence", "mmd",
                     "mmd_threshold"):
            stats[name][:] = np.nan
    return stats, centroids


def coverage_frame(sampled_accounts: list[str], lengths: np.ndarray, n_distinct: np.ndarray,
                   stats: dict[str, np.ndarray]) -> pd.DataFrame:
    """The ``cov_*`` columns of the sampled accounts (one row each, in the given order)."""
    frame = pd.DataFrame({"account_id": sampled_accounts,
                          "cov_n_distinct": n_distinct.astype(np.int64),
                          "cov_n_sampled": lengths.astype(np.int32)})
    for name in OUTPUT_STATS:
        frame[f"cov_{name}"] = _output_stat(name, stats)
    return frame


def _output_stat(name: str, stats: dict[str, np.ndarray]) -> np.ndarray:
    if name == "mmd_ratio":
        thr = stats["mmd_threshold"]
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(thr > 0, stats["mmd"] / thr, np.nan)
    if name == "mmd_exceeds":
        known = ~np.isnan(stats["mmd"]) & ~np.isnan(stats["mmd_threshold"])
        return np.where(known, stats["mmd"] > stats["mmd_threshold"], None).astype(object)
    return stats[name].astype(np.float64)


def _placeholder_reference(vectors: torch.Tensor) -> Reference:
    d = vectors.shape[1]
    centre = torch.zeros(1, d, device=vectors.device)
    return Reference(centres=centre, topic_mix=torch.ones(1, device=vectors.device),
                     reference=torch.zeros(2, d, device=vectors.device), gamma=1.0, krr_mean=1.0,
                     null_sizes=np.zeros(0, np.int64), null_thresholds=np.zeros(0))


class _progress:
    """A rich progress bar on stderr when it is a terminal; silent otherwise."""

    def __init__(self, total: int, label: str) -> None:
        self.total, self.label, self._bar = total, label, None

    def __enter__(self):  # noqa: ANN204
        if self.total and sys.stderr.isatty():
            from rich.progress import Progress

            self._bar = Progress(transient=True)
            self._bar.start()
            task = self._bar.add_task(self.label, total=self.total)
            return lambda k: self._bar.advance(task, k)
        return lambda k: None

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()


def compute(settings: Settings, dates: list[str], *, config: EmbeddingConfig | None = None,
            refit: bool = False, backend: EmbeddingBackend | None = None) -> None:
    """Coverage features and centroids for ``dates`` (the entry point ``detector run`` calls)."""
    run_days(settings, dates, config=config, refit=refit, backend=backend)


def run_days(settings: Settings, dates: list[str], *, config: EmbeddingConfig | None = None,
             refit: bool = False, backend: EmbeddingBackend | None = None) -> list[DayResult]:
    """Like :func:`compute` but returns what each day did."""
    cfg = config or EmbeddingConfig.from_settings(settings)
    days = sorted({_validate_date(d) for d in dates})
    if cfg.backend == "off" or not days:
        return []
    from detector.verdicts import connect  # the lake plus view verdicts (_blocked_accounts)

    stage = CoverageStage(settings, cfg, backend)
    con = connect(settings)
    try:
        results = []
        for i, day in enumerate(days):
            results.append(stage.run_day(con, day, refit=refit and i == 0))
            log.info("coverage %s: %d accounts, %d prompts embedded", day, results[-1].accounts,
                     results[-1].embedded)
        return results
    finally:
        con.close()


def load_centroids(settings: Settings, date: str) -> tuple[list[str], np.ndarray]:
    """(account ids, centroids (n, d) float32 unit rows) stored for ``date``; empty when none."""
    import pyarrow.parquet as pq

    from detector.embeddings.cache import vectors_from_arrow

    path = centroids_path(settings, _validate_date(date))
    if not path.exists():
        return [], np.zeros((0, 0), dtype=np.float32)
    table = pq.read_table(path, columns=["account_id", "centroid"])
    col = table.column("centroid")
    dim = len(col[0].as_py()) if table.num_rows else 0
    return table.column("account_id").to_pylist(), vectors_from_arrow(col, dim)
