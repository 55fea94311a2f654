"""Deterministic, time-stratified sampling of at most K distinct prompts per account-day."""

from __future__ import annotations

import numpy as np

from detector.embeddings.sampling import active_accounts, sample_prompts
from detector.lake.db import connect

from .conftest import write_requests

DAY = "2026-03-01"


def test_small_account_keeps_every_distinct_prompt_in_arrival_order(settings) -> None:
    rows = [("a", "first"), ("a", "second"), ("a", "FIRST"), ("a", "   "), ("a", "third"), ("b", "x")]
    write_requests(settings.home, DAY, rows)
    got = sample_prompts(connect(settings), DAY, k=8).to_pandas()
    a = got[got.account_id == "a"]
    assert a.prompt_text.tolist() == ["first", "second", "third"]  # 'FIRST' = same hash; blank dropped
    assert (a.n_distinct == 3).all()
    assert got[got.account_id == "b"].prompt_text.tolist() == ["x"]


def test_large_account_gets_k_prompts_one_per_time_stratum(settings) -> None:
    n, k = 100, 8
    write_requests(settings.home, DAY, [("big", f"prompt number {i}") for i in range(n)])
    got = sample_prompts(connect(settings), DAY, k=k).to_pandas()
    assert len(got) == k
    positions = sorted(int(t.split()[-1]) for t in got.prompt_text)   # arrival index = number
    strata = [p * k // n for p in positions]
    assert strata == list(range(k))                                    # exactly one per stratum


def test_sampling_is_deterministic_and_seeded(settings) -> None:
    rows = [("big", f"prompt number {i}") for i in range(200)] + [("c", f"c{i}") for i in range(50)]
    write_requests(settings.home, DAY, rows)
    con = connect(settings)
    first = sample_prompts(con, DAY, k=16, seed=0).to_pandas()
    again = sample_prompts(connect(settings), DAY, k=16, seed=0).to_pandas()
    other = sample_prompts(con, DAY, k=16, seed=1).to_pandas()
    assert first.equals(again)
    assert set(first.prompt_hash) != set(other.prompt_hash)
    assert (first.groupby("account_id").size() == 16).all()


def test_another_account_does_not_change_an_accounts_sample(settings, tmp_path) -> None:
    from detector.settings import load_settings

    base = [("big", f"prompt number {i}") for i in range(120)]
    write_requests(settings.home, DAY, base)
    alone = sample_prompts(connect(settings), DAY, k=10).to_pandas()
    other = load_settings(tmp_path / "other")
    mixed = base[:60] + [("z", f"noise {i}") for i in range(30)] + base[60:]
    write_requests(other.home, DAY, mixed)
    together = sample_prompts(connect(other), DAY, k=10).to_pandas()
    assert np.array_equal(alone.prompt_hash.to_numpy(), together[together.account_id == "big"].prompt_hash.to_numpy())


def test_only_the_requested_day_and_long_prompts_are_cut(settings) -> None:
    write_requests(settings.home, DAY, [("a", "x" * 5000)])
    write_requests(settings.home, "2026-03-02", [("a", "next day"), ("b", "b only")])
    got = sample_prompts(connect(settings), DAY, k=4, max_chars=100).to_pandas()
    assert got.prompt_text.str.len().tolist() == [100]
    assert active_accounts(connect(settings), "2026-03-02") == ["a", "b"]
