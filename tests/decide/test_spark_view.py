"""The ``account_features`` view assembled on Spark and the rules evaluated in Spark SQL over it
give DuckDB's rows, hits and not-evaluable account-days, on stored feature files with edge
values (nulls, NaN, zeros, -0.0, infinities, types that differ between days, a table absent on
a requested day); every function the condition subset allows returns DuckDB's values; and the
classifier's scores and the day's percentile ranks and medians computed over that view are the
driver's, to the bit.

Runs when pyspark and a Java runtime are available; skipped otherwise, except under CI
(``CI=true``), where a missing runtime is a failure. Uses the process's Spark session
(``local[threads]``, the one the feature parity tests use).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import sqlglot

from detector.features import store
from detector.features.assemble import account_features
from detector.lake.db import open_duckdb
from detector.rules import load_ruleset
from detector.rules.condition import compile_condition
from detector.settings import load_settings
from tests.spark_support import spark_marks

pytestmark = spark_marks()

DAYS = ["2026-11-23", "2026-11-24", "2026-11-25"]
EDGE = [None, 0.0, -0.0, np.nan, np.inf, -np.inf, 1.0, -2.5, 0.5, 1e6]
TABLE_OF = {"cov_": "coverage", "clu_": "cluster"}


def _rows(rules, rng: np.random.Generator, columns: list[str]) -> pd.DataFrame:
    """Every rule's test rows (matching and not) and random rows of edge values, per column."""
    rows = [dict(t) for r in rules for t in (*r.tests_match, *r.tests_no_match)]
    for _ in range(60):
        rows.append({c: EDGE[rng.integers(len(EDGE))] for c in columns
                     if rng.random() < 0.6})
    frame = pd.DataFrame(rows).reindex(columns=columns)
    return frame.apply(pd.to_numeric, errors="coerce").astype("float64")


def _write(settings, frame: pd.DataFrame, rng: np.random.Generator) -> None:
    frame = frame.assign(account_id=[f"a{i:03d}" for i in range(len(frame))])
    day_of = np.array(DAYS)[rng.integers(0, len(DAYS), len(frame))]
    by_table: dict[str, list[str]] = {}
    for c in frame.columns.drop("account_id"):
        by_table.setdefault(TABLE_OF.get(c[:4], "daily"), []).append(c)
    by_table["weekly"] = ["w7_extra"]
    frame["w7_extra"] = rng.normal(0, 1, len(frame))
    for table, cols in by_table.items():
        for i, day in enumerate(DAYS):
            if table == "cluster" and day == DAYS[1]:
                continue  # no cluster file that day: its columns null there
            part = frame[day_of == day]
            data = {"account_id": pa.array(part["account_id"]),
                    "date": pa.array([dt.date.fromisoformat(day)] * len(part), pa.date32())}
            for c in cols:
                values = part[c]
                if table == "coverage" and c == "cov_n_sampled" and i == 0:
                    values = values.replace([np.inf, -np.inf], 0).fillna(0).round().astype("int64")
                data[c] = pa.array(values, from_pandas=True)
            store.write_table(settings, table, day, pa.table(data))


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    """(settings, DuckDB connection with the view, Spark session with the view, rules)."""
    from detector.features.spark_assemble import spark_account_features
    from detector.lake.spark import spark_session

    rules = load_ruleset().rules
    columns = sorted({c for r in rules for c in r.columns})
    rng = np.random.default_rng(5)
    settings = load_settings(tmp_path_factory.mktemp("rules_spark") / "home", engine="spark")
    settings.ensure_dirs()
    _write(settings, _rows(rules, rng, columns), rng)
    con = open_duckdb()
    wanted = DAYS[:2]
    assert account_features(con, settings, wanted) == "account_features"
    assert spark_account_features(settings, wanted) == "account_features"
    spark = spark_session(settings)
    spark.catalog.cacheTable("account_features")  # read once for every test here
    yield settings, con, spark, rules
    spark.catalog.uncacheTable("account_features")
    con.close()


def _sorted(frame: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    return frame.sort_values(by, kind="stable").reset_index(drop=True)


def test_spark_view_has_duckdbs_rows_and_columns(both):
    _, con, spark, _ = both
    want = _sorted(con.sql("SELECT * FROM account_features").df(), ["account_id"])
    got = _sorted(spark.table("account_features").toPandas(), ["account_id"])
    assert set(got.columns) == set(want.columns) and len(got) == len(want) > 0
    assert got["date"].astype(str).tolist() == want["date"].astype(str).str[:10].tolist()
    for c in want.columns.drop(["account_id", "date"]):
        a, b = want[c].to_numpy("float64"), got[c].to_numpy("float64")
        assert np.array_equal(a, b, equal_nan=True), c
        assert np.array_equal(np.signbit(a), np.signbit(b)), f"{c}: -0.0 kept"
    assert want["clu_size"].isna().any()  # the day without a cluster file


def test_rules_on_spark_hit_what_duckdb_hits(both):
    from detector.rules import spark_evaluate
    from detector.rules.evaluate import evaluate_rules, not_evaluable

    _, con, spark, rules = both
    want, got = evaluate_rules(con, rules), spark_evaluate.evaluate_rules(spark, rules)
    assert len(want.hits) > 10 and want.hits["shadow"].nunique() == 2
    pd.testing.assert_frame_equal(got.hits, want.hits)
    assert (got.skipped, got.warnings) == (want.skipped, want.warnings)
    by = ["account_id", "date", "rule_name"]
    want_unknown = _sorted(not_evaluable(con, rules), by)
    got_unknown = _sorted(spark_evaluate.not_evaluable(spark, rules), by)
    assert len(want_unknown) > 0
    pd.testing.assert_frame_equal(got_unknown, want_unknown)


EXPRESSIONS = [
    "hv_output_input_ratio / vol_requests", "vol_requests / 0", "-vol_requests / 0",
    "0 / vol_requests", "vol_requests / (hv_logprobs_share - hv_logprobs_share)",
    "ln(vol_requests)", "log10(vol_requests)", "sqrt(vol_requests)", "abs(vol_requests)",
    "ln(vol_requests / hv_logprobs_share) + log10(abs(tim_burstiness) / vol_requests)",
    "greatest(vol_requests, hv_logprobs_share, NULL)", "least(vol_requests, 0.5)",
    "coalesce(vol_requests, hv_logprobs_share, 7)", "vol_requests * 2.5 - hv_logprobs_share",
    "vol_requests >= 0.95", "vol_requests BETWEEN -1 AND 1", "vol_requests IN (0, 1, 1e6)",
    "vol_requests IS NULL", "(vol_requests > 0) IS TRUE", "NOT vol_requests < 1",
    "vol_requests = hv_logprobs_share", "vol_requests / 0 > 1e308",
]


def test_every_allowed_function_gives_duckdbs_value(both):
    from detector.rules.spark_evaluate import spark_condition

    _, con, spark, _ = both
    known = {"vol_requests", "hv_logprobs_share", "tim_burstiness", "hv_output_input_ratio"}
    duck, on_spark = [], []
    for i, text in enumerate(EXPRESSIONS):
        # the condition as the rule loader stores it: validated, re-emitted for DuckDB
        sql = compile_condition(f"({text}) = ({text})", known).sql
        inner = sqlglot.parse_one(sql, read="duckdb").this.sql(dialect="duckdb")
        duck.append(f"CAST(({inner}) AS DOUBLE) AS v{i}")
        on_spark.append(f"CAST(({spark_condition(inner)}) AS DOUBLE) AS v{i}")
    query = "SELECT account_id, {} FROM account_features ORDER BY account_id"
    want = con.sql(query.format(", ".join(duck))).to_arrow_table()
    got = spark.sql(query.format(", ".join(on_spark))).toArrow()
    for i, text in enumerate(EXPRESSIONS):
        a, b = want.column(f"v{i}"), got.column(f"v{i}")
        assert b.is_null().to_pylist() == a.is_null().to_pylist(), text  # NULL is no NaN
        a, b = a.fill_null(0.0).to_numpy(), b.fill_null(0.0).to_numpy()
        if "ln(" in text or "log10(" in text:
            # Java's Math.log and log10 may be one ulp off the C library's (log10(92) is
            # 1.9637878273455551 on Spark, ...553 on DuckDB): equal within one ulp, and
            # infinities and NaN exactly
            assert np.array_equal(np.isfinite(a), np.isfinite(b)), text
            finite = np.isfinite(a)
            assert np.array_equal(a[~finite], b[~finite], equal_nan=True), text
            np.testing.assert_array_max_ulp(a[finite], b[finite], maxulp=1)
        else:
            assert np.array_equal(a, b, equal_nan=True), text
        real = ~np.isnan(a)  # a NaN's sign bit means nothing
        assert np.array_equal(np.signbit(a[real]), np.signbit(b[real])), text


def test_scores_and_ranks_over_the_view_are_the_drivers(both):
    from detector.decide import on_spark, spark_policy
    from detector.decide.explain import day_medians, explain_rows, percentile_ranks
    from detector.decide.scoring import policy_config
    from detector.decide.spark_percentiles import view_day_ranks
    from detector.decide.spark_policy import decide_view
    from detector.model.estimator import DistillationClassifier
    from detector.rules.evaluate import empty_hits

    settings, con, _, rules = both
    frame = con.sql("SELECT * FROM account_features ORDER BY date, account_id").df()
    features = sorted({c for r in rules for c in r.columns})[:12]
    y = np.arange(len(frame)) % 2
    fit = frame[features].replace([np.inf, -np.inf], np.nan).fillna(0.0)
    model = DistillationClassifier(max_iter=10, cv=2).fit(fit, y)
    got = decide_view(settings, "account_features", model, empty_hits(),
                      policy_config(settings, {}))
    assert got["account_id"].tolist() == frame["account_id"].tolist()
    assert np.array_equal(got["model_score"], model.predict_proba(frame)[:, 1])
    assert np.array_equal(got["anomaly_score"], model.anomaly_score(frame))
    rows = np.arange(0, len(frame), 3)
    pct, med = view_day_ranks(settings, "account_features", frame, [*features, "absent"], rows)
    want_pct, want_med = percentile_ranks(frame, features), day_medians(frame, features)
    assert set(pct) == set(features)
    for f in features:
        assert np.array_equal(pct[f][rows], want_pct[f][rows], equal_nan=True), f
        assert np.array_equal(med[f][rows], want_med[f][rows], equal_nan=True), f
        assert np.isnan(np.delete(pct[f], rows)).all()
    # the driver holds the compact verdict rows; the flagged rows' explanations are the same
    driver = on_spark.driver_frame(got, "cov_n_sampled")
    assert {"account_id", "date", "cluster_id", "cov_n_sampled"} <= set(driver.columns)
    assert len(driver.columns) <= 4 + len(spark_policy.DRIVER_COLUMNS)  # keys, cluster, coverage
    explained = on_spark.explained_rows(settings, con, "account_features", "account_features",
                                        model, driver, rows)
    assert explained == explain_rows(model, frame, rows) and len(explained) == len(rows)
