"""A day run in account-hash buckets writes what the one-pass stage writes."""

from __future__ import annotations

import numpy as np
import pytest

from detector.embeddings import compute
from detector.embeddings.config import EmbeddingConfig
from detector.errors import ConfigError
from detector.settings import load_settings

from .conftest import read_outputs, write_requests
from .test_stage import CFG, DAY, traffic


def test_buckets_give_the_one_pass_coverage_centroids_and_population(tmp_path) -> None:
    homes = {}
    for name, per_batch in (("one", 10_000), ("buckets", 7)):
        settings = load_settings(tmp_path / name, embedding_backend="hashing")
        write_requests(settings.home, DAY, traffic())
        compute(settings, [DAY], config=CFG.with_(accounts_per_batch=per_batch))
        homes[name] = read_outputs(settings, DAY)
    (cov1, cen1, man1), (cov2, cen2, man2) = homes["one"], homes["buckets"]
    assert len(cov2) == 32 and list(cov2.account_id) == sorted(cov2.account_id)
    assert list(cov1.columns) == list(cov2.columns) and list(cov1.account_id) == list(cov2.account_id)
    for col in cov1.columns[2:]:
        a, b = cov1[col].to_numpy(), cov2[col].to_numpy()
        if a.dtype.kind == "f":
            assert np.allclose(a, b, rtol=0, atol=1e-6, equal_nan=True), col
        else:
            assert a.tolist() == b.tolist(), col
    assert list(cen1.account_id) == list(cen2.account_id)
    assert np.allclose(np.stack(cen1.centroid), np.stack(cen2.centroid), atol=1e-6)
    assert man1["population_version"] == man2["population_version"]
    for key in ("accounts", "sampled_rows", "unique_prompts", "embedded_now"):
        assert man1[key] == man2[key], key
    # the bucket files are temporary
    assert not any(p.name.startswith(".batched") for p in (tmp_path / "buckets" / "embeddings").iterdir())


def test_accounts_per_batch_must_be_positive() -> None:
    with pytest.raises(ConfigError, match="embedding_accounts_per_batch"):
        EmbeddingConfig(accounts_per_batch=0).validated()
