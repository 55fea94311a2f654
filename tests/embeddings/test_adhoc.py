"""Coverage statistics of accounts cut out of a day after the stage ran (relay streams)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from detector.embeddings import compute
from detector.embeddings.adhoc import coverage_rows
from detector.embeddings.stage import CoverageStage
from detector.settings import load_settings

from .conftest import write_requests
from .test_stage import CFG, DAY, coverage, traffic


def _day(settings):
    return pq.read_table(settings.home / "lake" / "requests" / f"date={DAY}" / "part-0.parquet")


def test_an_accounts_requests_give_the_row_the_stage_wrote(settings) -> None:
    write_requests(settings.home, DAY, traffic())
    compute(settings, [DAY], config=CFG)
    stored = coverage(settings, DAY).set_index("account_id")
    day = _day(settings)
    picked = day.filter(pc.is_in(day["account_id"], _strings(["sweeper", "user03"])))
    got = coverage_rows(settings, picked, DAY, CoverageStage(settings, CFG)).set_index("account_id")
    assert sorted(got.index) == ["sweeper", "user03"]
    for acct in got.index:
        for col in got.columns:
            a, b = got.loc[acct, col], stored.loc[acct, col]
            assert (pd.isna(a) and pd.isna(b)) or np.isclose(float(a), float(b), rtol=1e-6), (acct, col)
    # the sweeper's topic sweep shows as such, not as the focused user's profile
    assert got.loc["sweeper", "cov_codebook_coverage"] > got.loc["user03", "cov_codebook_coverage"]


def test_a_pseudo_account_is_judged_on_its_own_prompts(settings) -> None:
    write_requests(settings.home, DAY, traffic())
    compute(settings, [DAY], config=CFG)
    day = _day(settings)
    # a relay's sub-stream: a slice of the sweeper's requests renamed
    part = day.filter(pc.equal(day["account_id"], "sweeper")).slice(0, 24)
    part = part.set_column(part.schema.get_field_index("account_id"), "account_id",
                           _strings(["relay~stream"] * part.num_rows))
    got = coverage_rows(settings, part, DAY, CoverageStage(settings, CFG))
    assert list(got["account_id"]) == ["relay~stream"]
    assert got["cov_n_sampled"].iloc[0] == 24 and got["cov_n_distinct"].iloc[0] == 24


def test_off_backend_and_empty_input_give_no_rows(settings) -> None:
    write_requests(settings.home, DAY, traffic())
    day = _day(settings)
    assert coverage_rows(load_settings(settings.home, embedding_backend="off"), day, DAY).empty
    assert coverage_rows(settings, day.slice(0, 0), DAY, CoverageStage(settings, CFG)).empty


def _strings(values: list[str]) -> pa.Array:
    return pa.array(values, type=pa.string())
