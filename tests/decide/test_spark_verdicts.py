"""The verdict files written by the executors (``scoring.score`` with ``engine = "spark"``,
``local[1]``: ``on_spark.write_verdicts``, ``verdicts.write_spark``) hold the same table as
the DuckDB engine's files: same rows, columns, types and values, on the scenario of ``test_spark_policy`` (escalating clusters, pooled evidence, relay
caps, rule and shadow hits, a returning actor, two rules not evaluable on unclustered rows;
the not-evaluable texts built on the executors). A write that fails on the executors or at the
rename leaves every day's previous file as it was, and no hidden folder behind.

Runs when pyspark and a Java runtime are available; skipped otherwise, except under CI
(``CI=true``), where a missing runtime is a failure.
"""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from detector import verdicts
from detector.decide import returning, scoring
from detector.rules import load_ruleset
from detector.rules.ruleset import RuleSet
from detector.verdicts import write_spark
from tests.decide.test_spark_policy import DAYS, make_homes
from tests.spark_support import spark_marks

pytestmark = spark_marks()

#: Columns that differ between two runs by construction.
RUN = ["run_id", "created_at"]


@pytest.fixture(scope="module")
def homes(tmp_path_factory):
    return make_homes(tmp_path_factory, "spark_verdicts")


def _files(settings) -> dict[str, pa.Table]:
    return {d: pq.read_table(verdicts.verdict_path(settings, d)) for d in DAYS}


def _ruleset() -> RuleSet:
    """The default rules and two that are not evaluable where the account-day has no cluster
    (``clu_size`` NULL) and never hit: the not-evaluable text then differs between rows (the
    default rules alone miss the same columns on every row). ``Z_...`` sorts first by code
    point (a locale's order would put it last), ``hist_...`` among the default names."""
    rules = load_ruleset()
    base = rules.get("timing_machine_paced")
    extra = [replace(base, id=f"test-{name}", name=name, condition=cond, source_condition=cond,
                     columns=cols)
             for name, cond, cols in (
                 ("Z_cluster_too_large", "clu_size > 1000", ("clu_size",)),
                 ("hist_cluster_vs_window", "clu_size > w7_vol_requests * 1000",
                  ("clu_size", "w7_vol_requests")))]
    return RuleSet(rules=[*rules.rules, *extra], rules_dir=rules.rules_dir)


def _score(settings, model, monkeypatch) -> tuple[dict[str, int], dict[str, pa.Table]]:
    monkeypatch.setattr(scoring, "load_active_model", lambda s: (model, {"version": "t1"}))
    monkeypatch.setattr(scoring, "load_ruleset", _ruleset)
    written = scoring.score(settings, DAYS)
    return written, _files(settings)


def _same(got: pa.Table, want: pa.Table, day: str) -> None:
    assert got.schema.remove_metadata() == verdicts.VERDICT_SCHEMA, day
    for c in RUN:  # one value per run
        assert len(got[c].unique()) == 1, (day, c)
    a, b = got.drop_columns(RUN), want.drop_columns(RUN)
    if not a.equals(b):
        diff = [c for c in a.column_names if not a[c].equals(b[c])]
        pytest.fail(f"{day}: columns differ: {diff}\n"
                    f"{a.select(diff).to_pandas().compare(b.select(diff).to_pandas())}")


def test_executor_written_files_are_the_drivers(homes, monkeypatch):
    """Besides, the rows the driver changed reach the written rows' plan as a file scan of a
    scratch Parquet file in a hidden folder of the verdict folder (``spark_policy.sent_frame``),
    beside the rule hits' one, no local relation in the plan; the folders are gone after the
    write (one Spark run checks both: each costs a minute)."""
    duck, spark, model = homes
    want_rows, want = _score(duck, model, monkeypatch)
    index = {p.parent.name: pq.read_table(p) for p in
             sorted(returning.index_dir(duck).glob("date=*/keys.parquet"))}
    seen = []
    original = write_spark.write_days

    def spy(settings, frame, days, build):
        qe = frame._jdf.queryExecution()
        seen.append((qe.optimizedPlan().toString(), qe.executedPlan().toString(),
                     list(frame.inputFiles()), list(verdicts.root(spark).glob(".spark-*"))))
        return original(settings, frame, days, build)

    monkeypatch.setattr(write_spark, "write_days", spy)
    got_rows, got = _score(spark, model, monkeypatch)
    ((optimized, plan, files, scratch),) = seen
    # the hits are under the persisted verdict rows (their scan: test_hits_sent_spark.py)
    sent = {f.rsplit("/", 1)[1] for f in files if "/.spark-" in f}
    assert sent == {"dg_dec_changed.parquet"} and len(scratch) == 2
    assert "LocalRelation" not in optimized and "LocalTableScan" not in plan, plan
    assert got_rows == want_rows and sum(got_rows.values()) > 0
    # DuckDB's files exactly (the rows the Spark path collects, score_frame, are DuckDB's too:
    # tests/decide/test_spark_policy.py)
    for d in DAYS:
        _same(got[d], want[d], d)
    # the returning-actor index, written from the driver's rows only, is DuckDB's
    assert {p.parent.name: pq.read_table(p) for p in
            sorted(returning.index_dir(spark).glob("date=*/keys.parquet"))} == index
    assert not list(verdicts.root(spark).glob(".*")), "hidden folder left behind"
    # what the driver changed or added reached the files: explanations, links, not-evaluable
    rows = pd.concat([t.to_pandas() for t in got.values()], ignore_index=True)
    flagged = rows[rows["decision"] != "allow"]
    assert len(flagged) and flagged["explanation_json"].str.contains('"feature"').any()
    assert rows["explanation_json"].str.contains("rule_values").any()
    texts = rows["not_evaluable"]
    clustered = rows["account_id"].str.startswith("m") & (rows["date"].astype(str) == DAYS[0])
    assert texts.notna().all() and texts[~clustered].str.startswith("Z_cluster_too_large;").all()
    assert texts.nunique() == 2 and not texts[clustered].str.contains("Z_|hist_").any()
    assert texts[~clustered].str.contains(";hist_cluster_vs_window;").all()
    assert '"returning"' in rows.loc[rows["account_id"] == "n00", "explanation_json"].item()


def _committed(settings) -> dict[str, bytes]:
    return {d: verdicts.verdict_path(settings, d).read_bytes() for d in DAYS}


class _Stored:
    """``write_days``' ``build`` in these tests: a day's rows -> that day's table in ``tables``
    (the verdict files DuckDB wrote), so the write itself is what is under test."""

    def __init__(self, tables: dict[str, pa.Table]):
        self.tables = tables

    def __call__(self, rows: pa.Table) -> pa.Table:
        return self.tables[rows["date"][0].as_py().isoformat()]


def test_a_failed_write_leaves_the_previous_files(homes, monkeypatch):
    """``write_spark.write_days`` (the verdict write of ``scoring.score`` on Spark: the test
    above) failing at the driver's rename or on the executors leaves every day's previous file
    byte for byte, and no hidden folder; the same write, not failing, replaces them."""
    from detector.lake.spark import spark_session

    duck, spark, model = homes
    _score(duck, model, monkeypatch)  # the previous files (one home: the same verdict folder)
    before, tables = _committed(spark), _files(spark)
    session = spark_session(spark)
    frame = session.createDataFrame(
        pd.DataFrame({"account_id": ["a", "b"], "date": [pd.Timestamp(d).date() for d in DAYS]}))
    build = _Stored({d: t.slice(0, 3) for d, t in tables.items()})

    def refuse(part, target, what):
        raise OSError(f"disk full renaming {part}")

    with monkeypatch.context() as m:  # at the driver's rename
        m.setattr(write_spark, "move_into_place", refuse)
        with pytest.raises(OSError, match="disk full"):
            write_spark.write_days(spark, frame, DAYS, build)
    assert _committed(spark) == before
    assert not list(verdicts.root(spark).glob(".*"))
    # on the executors: the rows do not fit the schema the tasks were given
    bad = pa.schema([pa.field("account_id", pa.int64()) if f.name == "account_id" else f
                     for f in verdicts.VERDICT_SCHEMA])
    with monkeypatch.context() as m:
        m.setattr(write_spark, "VERDICT_SCHEMA", bad)
        with pytest.raises(Exception, match="account_id|int64|Invalid"):
            write_spark.write_days(spark, frame, DAYS, build)
    assert _committed(spark) == before
    assert not list(verdicts.root(spark).glob(".*"))
    # not failing, the same write replaces each day's file with what the task built
    assert write_spark.write_days(spark, frame, DAYS, build) == {d: 3 for d in DAYS}
    for d in DAYS:
        assert pq.read_table(verdicts.verdict_path(spark, d)).equals(build.tables[d])
    assert not list(verdicts.root(spark).glob(".*"))


def test_not_evaluable_texts_on_the_executors_are_duckdbs(homes, monkeypatch):
    """``spark_evaluate.not_evaluable_texts`` gives ``scoring.not_evaluable_text``'s text over
    DuckDB's not-evaluable rows per account-day: NULL inputs (also inside a division), a
    ``coalesce`` that decides, a column the view lacks (every row), a shadow rule (never
    listed), names out of code-point order; a rule whose Spark SQL fails is left out, as
    ``not_evaluable`` leaves out the rules that fail."""
    import duckdb

    from detector.lake.spark import spark_session
    from detector.rules import evaluate, spark_evaluate

    _, spark_settings, _ = homes
    base = load_ruleset().get("timing_machine_paced")
    specs = [("c_ratio", "x / y > 2", ("x", "y")), ("A_upper", "x > 1", ("x",)),
             ("b_decided", "coalesce(y, 0) > 1", ("y",)), ("d_absent", "z > 1", ("z",)),
             ("e_broken", "x > 1000", ("x",)), ("f_shadow", "y > 1", ("y",))]
    rules = [replace(base, id=f"t-{n}", name=n, condition=c, source_condition=c, columns=cols,
                     status="experimental" if n == "f_shadow" else base.status)
             for n, c, cols in specs]
    assert [r.shadow for r in rules] == [False] * 5 + [True]
    day = pd.Timestamp(DAYS[0]).date()
    frame = pd.DataFrame({"account_id": [f"a{i}" for i in range(6)], "date": [day] * 6,
                          "x": [1.0, None, 3.0, None, 5.0, 0.0],
                          "y": [0.0, 2.0, None, None, 1.0, 0.0]})
    con = duckdb.connect()
    con.register("ne_view", frame)
    unknown = evaluate.not_evaluable(con, [r for r in rules if r.name != "e_broken"], "ne_view")
    con.close()
    want = scoring.not_evaluable_text(frame, unknown)
    spark = spark_session(spark_settings)
    spark.createDataFrame(frame).createOrReplaceTempView("ne_view")
    real = spark_evaluate.spark_condition
    monkeypatch.setattr(spark_evaluate, "spark_condition",
                        lambda c: "no_such_column > 1" if c == "x > 1000" else real(c))
    texts = spark_evaluate.not_evaluable_texts(spark, rules, "ne_view")
    try:
        got = {(r["account_id"], r["_day"]): r["_not_evaluable"] for r in texts.collect()}
    finally:
        texts.unpersist()
    assert [got.get((a, str(day))) for a in frame["account_id"]] == want
    assert want[1] == "A_upper;c_ratio;d_absent" and want[5] == "d_absent"
    assert spark_evaluate.not_evaluable_texts(spark, rules[-1:], "ne_view") is None
