"""Coverage statistics of accounts cut out of a day after the coverage stage ran: the ``cov_*``
columns of, for example, a relay's sub-streams (:mod:`detector.decide.relay_streams`), computed
the way the stage computes them for real accounts.

The same sample query (``sampling.sample_prompts``: up to ``embedding_sample_k`` distinct prompts
per account, time strata), the same backend and embedding cache, and the population model the
stage left active, so an account's requests give the row the stage wrote for it. Nothing is
written but the cache rows of prompts not yet embedded. The cost is bounded by the number of
pseudo-accounts x the sample size, not by their requests.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from detector.embeddings.config import EmbeddingConfig
from detector.embeddings.population import load_active
from detector.embeddings.sampling import sample_prompts
from detector.embeddings.stage import CoverageStage, account_stats, coverage_frame
from detector.lake.db import open_duckdb
from detector.settings import Settings


def coverage_rows(settings: Settings, requests: pa.Table, date: str,
                  stage: CoverageStage | None = None) -> pd.DataFrame:
    """One row of ``cov_*`` columns per account of ``requests`` (lake columns; the ``date`` column
    or else the UTC day of ``ts`` selects ``date``) with at least one prompt; no rows when the
    embedding backend is ``off``. Topic and MMD statistics are NaN while no population model is
    active, as in the stage."""
    config = stage.config if stage else EmbeddingConfig.from_settings(settings)
    if config.backend == "off" or requests.num_rows == 0:
        return pd.DataFrame({"account_id": pd.Series([], dtype=object)})
    stage = stage or CoverageStage(settings, config)
    con = open_duckdb()
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.register("requests", requests)
        sample = sample_prompts(con, date, stage.config.sample_k, stage.config.seed,
                                stage.config.max_chars).to_pandas()
    finally:
        con.close()
    if sample.empty:
        return pd.DataFrame({"account_id": pd.Series([], dtype=object)})
    codes, uniq = pd.factorize(sample["prompt_hash"], sort=False)
    _, first_row = np.unique(codes, return_index=True)
    texts = sample["prompt_text"].to_numpy()[first_row].tolist()
    vectors, _ = stage.embed_unique([str(h) for h in uniq], texts)
    pop = stage.population or load_active(stage.population_root, stage.backend.name,
                                          stage.backend.model_version, stage.config)
    lengths = sample.groupby("account_id", sort=False).size()
    stats, _ = account_stats(vectors, codes, lengths.to_numpy(), pop, stage.device,
                             stage.config.similar_threshold)
    n_distinct = sample.groupby("account_id", sort=False)["n_distinct"].first()
    return coverage_frame(list(lengths.index), lengths.to_numpy(), n_distinct.to_numpy(), stats)
