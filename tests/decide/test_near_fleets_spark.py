"""On Spark the driver fetches the near fleets' members with the other rows its later steps
read (``on_spark._driver_rows``), allowed ones included: ``near_fleets.spark_members`` must
select the rows ``near_fleets.members`` selects, nulls, bounds and absent columns included.

Runs when pyspark and a Java runtime are available; skipped otherwise, except under CI
(``CI=true``), where a missing runtime is a failure. Uses the process's Spark session.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from detector.decide import near_fleets
from detector.lake.spark import spark_session
from detector.settings import load_settings
from tests.spark_support import spark_marks

pytestmark = spark_marks()


def _frame(n: int = 400, seed: int = 5) -> pd.DataFrame:
    """Profile values around each bar (the bar itself included), a tenth of them null."""
    rng = np.random.default_rng(seed)
    bars = {"vol_requests": near_fleets.MIN_REQUESTS,
            "hv_cot_lexicon_share": near_fleets.MIN_ELICITATION,
            "hv_high_effort_share": near_fleets.MIN_ELICITATION,
            "hv_max_tokens_high_share": near_fleets.MIN_LONG,
            "div_multiturn_share": near_fleets.MAX_MULTITURN,
            "div_distinct_prompt_ratio": near_fleets.MIN_DISTINCT,
            "hv_output_input_ratio": near_fleets.MIN_OUTPUT_INPUT}
    frame = pd.DataFrame({"account_id": [f"a{i}" for i in range(n)]})
    for name, bar in bars.items():
        low = name == "div_multiturn_share"  # the one bar a member stays under
        pick = rng.choice([bar, bar * (0.5 if low else 1.5), bar * (1.5 if low else 0.5)],
                          n, p=[0.2, 0.7, 0.1])
        pick[rng.random(n) < 0.1] = np.nan
        frame[name] = pick
    return frame


def _selected(view) -> list[str]:
    got = view.where(near_fleets.spark_members(set(view.columns)))
    return sorted(r["account_id"] for r in got.select("account_id").collect())


def test_spark_members_are_the_drivers(tmp_path):
    from pyspark.sql import functions as F

    spark = spark_session(load_settings(tmp_path / "home", engine="spark"))
    frame = _frame()
    want = frame["account_id"][near_fleets.members(frame)].tolist()
    assert 10 < len(want) < len(frame) / 2
    rows = spark.createDataFrame(frame)
    assert _selected(rows) == sorted(want)
    # stored feature files hold NaN where Spark's own absent values are null: both read as
    # missing (the turns and the effort as none, so such rows can still be members)
    hole = frame["account_id"].str.endswith("7").to_numpy()
    some = ["div_multiturn_share", "hv_high_effort_share"]
    holed = frame.assign(**{c: frame[c].where(~hole) for c in some})
    nan = rows.select(*(F.when(F.col("account_id").endswith("7"), F.lit(float("nan")))
                        .otherwise(F.col(c)).alias(c) if c in some else F.col(c)
                        for c in rows.columns))
    assert nan.where(F.isnan("div_multiturn_share")).count() == hole.sum()
    want = near_fleets.members(holed)
    assert (want & hole).any()
    assert _selected(nan) == sorted(holed["account_id"][want])
    # a view without the reasoning effort or the turns reads them as none (as the driver does)
    part = frame.drop(columns=["hv_high_effort_share", "div_multiturn_share"])
    want = part["account_id"][near_fleets.members(part)].tolist()
    assert _selected(spark.createDataFrame(part)) == sorted(want)
