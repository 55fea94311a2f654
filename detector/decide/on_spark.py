"""What the driver reads of the day's feature rows when the decide stage runs on Spark.

With ``engine = "spark"`` the feature rows (one per account-day, some 250 columns) are assembled,
ruled, scored, decided and ranked on the executors over a Spark view
(``detector.features.spark_assemble``; the policy and risk: ``detector.decide.spark_policy``).
The daily job (:func:`write_verdicts`) keeps the compact verdict rows there (persisted) and the
executors write the verdict files (``detector.verdicts.write_spark``). What the driver reads:

- the rows its later steps work on (:func:`_driver_rows`, filtered on the executors): flagged
  rows, rows with rule hits, relay-stream candidates, relay-days (read per end user) and
  returning-actor candidates (new accounts not blocked), with the few values those steps read
  (:func:`driver_frame`: keys, ``cluster_id``, ``inf_distinct_end_users``,
  ``hist_days_since_first_seen``, ``inf_account_age_days``);
- rows with rule hits (shadow hits on allowed rows included), :func:`hit_rule_values`: the
  columns those rules read (``explain.rule_values``: the values that made them fire), from the
  stored files (DuckDB's ``account_features`` view, semi-joined with their keys);
- flagged rows, :func:`explained_rows`: every column (the explanations' values, the model's
  occlusion on the executors, ``explain.explain_rows``).

What it sends back (rows keyed by account and day, one scratch Parquet file read by URI:
``spark_policy.sent_frame``; joined on the executors): decision, reasons and explanation of the
flagged and hit rows. The not-evaluable rules' texts
never come to the driver: built on the executors from the Spark view
(``rules.spark_evaluate.not_evaluable_texts``) and joined there. ``scoring.score_frame``
(shadow scoring) still collects every row (``decide_view``) and the not-evaluable rows.
"""

from __future__ import annotations

from contextlib import ExitStack

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from detector.decide import distributed, near_fleets, spark_percentiles, spark_policy
from detector.decide.explain import explain_rows, rule_values
from detector.decide.spark_policy import DRIVER_COLUMNS
from detector.settings import Settings


def view_days(con: duckdb.DuckDBPyConnection, view: str) -> list[str]:
    """The days (YYYY-MM-DD) of ``view``'s rows (one value per day comes back)."""
    got = con.sql(f'SELECT DISTINCT CAST(date AS DATE) AS d FROM "{view}" '
                  "WHERE date IS NOT NULL ORDER BY d").fetchall()
    return [d.isoformat() for (d,) in got]


def driver_frame(verdicts: pd.DataFrame, coverage: str | None) -> pd.DataFrame:
    """The feature values of every row the driver's later steps read, from the verdict rows
    ``spark_policy.decide_view`` returned: keys, ``cluster_id`` and :data:`DRIVER_COLUMNS`.
    ``coverage``: the name of a ``cov_`` column of the view, if it has any, present here
    with no values: ``relay_streams.judge`` reads only whether the day had coverage features."""
    cols = ["account_id", "date", "cluster_id", *(c for c in DRIVER_COLUMNS if c in verdicts)]
    frame = verdicts[cols].copy()
    if coverage is not None:
        frame[coverage] = np.nan
    return frame


def hit_rule_values(con: duckdb.DuckDBPyConnection, view: str, frame: pd.DataFrame,
                    hits: list[list[str]], columns: dict[str, tuple]) -> list[dict[str, dict]]:
    """``explain.rule_values(frame, hits, columns)`` with the rules' columns read from ``view``
    for the rows with hits only (``frame``: keys, one row per verdict; ``hits``: each row's hit
    rule names)."""
    rows = np.flatnonzero([len(h) > 0 for h in hits])
    out: list[dict[str, dict]] = [{} for _ in hits]
    if len(rows) == 0:
        return out
    wanted = sorted({c for i in rows for name in hits[i] for c in columns.get(name, ())})
    sub = full_rows(con, view, frame, rows, wanted)
    for i, values in zip(rows, rule_values(sub, [hits[i] for i in rows], columns), strict=True):
        out[int(i)] = values
    return out


def full_rows(con: duckdb.DuckDBPyConnection, view: str, frame: pd.DataFrame,
              rows: np.ndarray, columns: list[str] | None = None) -> pd.DataFrame:
    """Every column of ``view`` (or its ``columns`` that it has, after the keys) for
    ``frame``'s rows at ``rows`` (ascending), in that order."""
    keys = frame[["account_id", "date"]].iloc[rows].reset_index(drop=True)
    present = [r[0] for r in con.execute(f'DESCRIBE SELECT * FROM "{view}"').fetchall()]
    picked = ("v.*" if columns is None else ", ".join(
        f'v."{c}"' for c in dict.fromkeys(["account_id", "date", *columns]) if c in present))
    con.register("_dg_flagged", keys)
    try:
        got = con.sql(f'SELECT {picked} FROM "{view}" AS v JOIN _dg_flagged AS k '
                      "ON v.account_id = k.account_id AND v.date = k.date "
                      "ORDER BY v.date, v.account_id").df()
    finally:
        con.unregister("_dg_flagged")
    same = len(got) == len(keys) and (got["account_id"].to_numpy() == keys["account_id"]
                                      .to_numpy()).all()
    if not same:
        raise RuntimeError(f"view {view!r}: {len(got)} full rows read for {len(keys)} flagged "
                           "account-days, or not the same ones (duplicate account-days?)")
    return got


def explained_rows(settings: Settings, con: duckdb.DuckDBPyConnection, view: str,
                   spark_view: str, model, frame: pd.DataFrame, rows: np.ndarray
                   ) -> dict[int, list[dict]]:
    """:func:`detector.decide.explain.explain_rows` of ``frame``'s rows at ``rows`` (positions
    of ``frame``): the occlusions on the executors over the flagged rows, the day's percentile
    ranks over the Spark view, the values from the flagged rows' full columns."""
    rows = np.asarray(rows, np.int64)
    if len(rows) == 0:
        return {}
    sub = full_rows(con, view, frame, rows)
    local = np.arange(len(rows))
    pct, med = spark_percentiles.view_day_ranks(settings, spark_view, frame,
                                                list(model.feature_names_in_), rows)
    ranks = ({f: v[rows] for f, v in pct.items()}, {f: v[rows] for f, v in med.items()})
    got = explain_rows(model, sub, local, ranks=ranks,
                       contributions=distributed.explain(settings, model, sub, local))
    return {int(rows[i]): items for i, items in got.items()}


# --- the verdict files written by the executors (``scoring.score`` with engine = "spark") ----
_SET, _DAY = "_set", "_day"
#: What the driver sends back for a row it changed or added to (keyed by account and day).
CHANGED = (("_decision", "string"), ("_reasons", "string"), ("_explanation", "string"))
#: The not-evaluable rules' text of an account-day (joined on the executors).
_UNKNOWN = "_not_evaluable"


def write_verdicts(settings: Settings, con: duckdb.DuckDBPyConnection, view: str,
                   dates: list[str], model, ruleset, cfg, allow: tuple[set[str], set[str]],
                   stamp: dict) -> tuple[dict[str, int], pd.DataFrame]:
    """Decide every account-day of ``view``'s days on the executors and write ``dates``'
    verdict files from there (``detector.verdicts.write_spark``): the verdict rows stay on the
    cluster (persisted); the driver reads only the rows its later steps work on
    (:func:`_driver_rows`) and sends back what it changed or added for them (relay-stream
    blocks, returning-actor links, explanations, rule values), which the executors join to
    their rows, as they join the not-evaluable rules' texts they build (nothing of those
    comes to the driver). ``stamp``: the run's constant columns (model_version,
    ruleset_hash, feature_run_id, run_id, created_at). Returns (rows written per date, the
    driver's rows with their final decisions: every flagged row and a placeholder for a day
    without one, for ``returning.write_index``)."""
    from pyspark.sql import functions as F

    from detector.decide import amend, returning
    from detector.features.spark_assemble import spark_account_features
    from detector.lake.spark import spark_session
    from detector.rules.spark_evaluate import not_evaluable_texts
    from detector.verdicts import write_spark

    spark = spark_session(settings)
    days = view_days(con, view)
    spark_view = spark_account_features(settings, days)
    spark.catalog.cacheTable(spark_view)  # joined once for rules, verdicts and ranks
    hits = ruleset.evaluate_spark(spark, spark_view)
    rows, broadcast = spark_policy.verdict_frame(settings, spark_view, model, hits, cfg, *allow)
    rows = rows.persist()  # read twice: the driver's rows, then the files
    unknown = None
    held = ExitStack()  # the changed rows' scratch file (spark_policy.sent_frame)
    try:
        out = _driver_rows(rows, days, returning.Params.from_settings(settings).new_days,
                           cfg.model_block_max_end_users)
        coverage = next((c for c in spark.table(f"`{spark_view}`").columns
                         if c.startswith("cov_")), None)
        frame = driver_frame(out, coverage)
        out, evidence = amend.run(settings, con, frame, out, model, cfg)
        changed = _changes(settings, con, view, spark_view, model, ruleset, frame, out,
                           evidence)
        sent = spark_policy.sent_frame(spark, settings, held, "dg_dec_changed", pa.table(
            {"account_id": pa.array(changed["account_id"].tolist(), pa.string()),
             _DAY: pa.array(changed[_DAY].tolist(), pa.string()),
             **{c: pa.array(changed[c].astype(object).where(changed[c].notna(), None).tolist(),
                            pa.string()) for c, _ in CHANGED}}),
            ", ".join(f"{c} {t}" for c, t in (("account_id", "string"), (_DAY, "string"),
                                              *CHANGED)))
        final = (rows.withColumn(_DAY, F.col("date").cast("string"))
                 .join(F.broadcast(sent), ["account_id", _DAY], "left"))
        unknown = not_evaluable_texts(spark, ruleset.rules, spark_view, _DAY, _UNKNOWN)
        final = (final.withColumn(_UNKNOWN, F.lit(None).cast("string")) if unknown is None
                 else final.join(unknown, ["account_id", _DAY], "left"))
        written = write_spark.write_days(settings, final, dates, VerdictColumns(stamp))
    finally:
        if unknown is not None:
            unknown.unpersist()
        rows.unpersist()
        held.close()
        broadcast.unpersist()
        spark.catalog.uncacheTable(spark_view)
    return written, out


def _driver_rows(rows, days: list[str], new_days: int,
                 relay_end_users: int | None = None) -> pd.DataFrame:
    """The verdict rows the driver's later steps read, ordered by (date, account_id): the
    flagged rows (the explanations; every block: the returning-actor index), rows with rule
    hits (their rule values), the relay-stream candidates (``model_block_capped``), the
    relay-days read per end user and per request profile (at least ``relay_end_users``
    distinct end users: ``relay_end_users.candidates``, ``relay_profiles.candidates``), the
    near fleets' members (``near_fleets.spark_members``, allowed ones included) and
    the returning-actor candidates (new accounts not blocked nor allow-listed:
    ``returning._new_accounts``'s test, on the executors); a superset of what those steps
    select, so they select the same rows as over every row. A day without such a row gets one
    placeholder (no account, allowed, no values) so that the index and the links see every
    scored day."""
    from pyspark.sql import functions as F

    new = F.lit(False)
    if "hist_days_since_first_seen" in rows.columns:
        new = new | F.coalesce(F.col("hist_days_since_first_seen") < new_days, F.lit(False))
    if "inf_account_age_days" in rows.columns:
        new = new | F.coalesce(F.col("inf_account_age_days") <= new_days, F.lit(False))
    read = near_fleets.spark_members(set(rows.columns))  # allowed members too
    if relay_end_users is not None and "inf_distinct_end_users" in rows.columns:
        read = read | F.coalesce(F.col("inf_distinct_end_users") >= relay_end_users,
                                 F.lit(False))
    wanted = ((F.col("decision") != "allow") | (F.size("rule_hits") > 0)
              | (F.size("shadow_hits") > 0)
              | F.array_contains("sources", "model_block_capped")
              | read
              | (new & (F.col("decision") != "block") & ~F.coalesce("allowlisted", F.lit(False))))
    out = spark_policy.collect(rows.where(wanted))
    seen = set(out["date"].astype(str))
    missing = [d for d in days if d not in seen]
    if not missing:
        return out
    blank = pd.DataFrame({"date": [pd.Timestamp(d).date() for d in missing]})
    blank["decision"], blank["allowlisted"] = "allow", False
    for name in ("rule_hits", "shadow_hits", "sources"):
        blank[name] = [[] for _ in missing]
    return pd.concat([out, blank], ignore_index=True).reindex(columns=out.columns)


def _changes(settings: Settings, con: duckdb.DuckDBPyConnection, view: str, spark_view: str,
             model, ruleset, frame: pd.DataFrame, out: pd.DataFrame,
             evidence: list) -> pd.DataFrame:
    """(account_id, _day, _decision, _reasons, _explanation) of the rows of ``out`` (the
    driver's rows, final decisions) that differ from what the executors would give a row
    alone: the flagged rows (explanations, with ``evidence``: ``amend.run``'s) and the rows
    with rule hits (rule values)."""
    from detector.decide import amend
    from detector.decide.explain import explanation_json, reasons_text

    hit_names = [[*a, *s] for a, s in zip(out["rule_hits"], out["shadow_hits"], strict=True)]
    flagged = (out["decision"] != "allow").to_numpy() & out["account_id"].notna().to_numpy()
    explained = explained_rows(settings, con, view, spark_view, model, frame,
                               np.flatnonzero(flagged))
    hit_values = hit_rule_values(con, view, frame, hit_names,
                                 {r.name: r.columns for r in ruleset.rules})
    pick = np.flatnonzero(flagged | np.array([len(h) > 0 for h in hit_names], dtype=bool))
    feats = [explained.get(int(i), []) for i in pick]
    sources = [out["sources"].iat[i] for i in pick]
    texts = [explanation_json(s, f, out["anomaly_score"].iat[i], hit_values[i])
             for s, f, i in zip(sources, feats, pick, strict=True)]
    texts = amend.annotate(texts, evidence, [int(i) for i in pick])
    return pd.DataFrame({"account_id": out["account_id"].to_numpy()[pick],
                         _DAY: out["date"].astype(str).to_numpy()[pick],
                         "_decision": out["decision"].to_numpy()[pick],
                         "_reasons": [reasons_text(s, f) for s, f in zip(sources, feats,
                                                                         strict=True)],
                         "_explanation": texts})


class VerdictColumns:
    """A day's verdict rows (``spark_policy.verdict_frame``'s columns, joined with the driver's
    :data:`CHANGED`) -> its verdict table in ``VERDICT_SCHEMA``'s columns, ordered by account:
    a row the driver did not change gets the explanation of a row with no explained features
    and no rule values (``reasons_text``, ``explanation_json``), as on DuckDB; ``stamp``: the
    run's constant columns. Runs on the executors (``verdicts.write_spark``)."""

    def __init__(self, stamp: dict):
        self.stamp = dict(stamp)

    def __call__(self, rows: pa.Table) -> pa.Table:
        from detector.decide.explain import explanation_json, reasons_text
        from detector.verdicts import VERDICT_SCHEMA

        f = rows.to_pandas().sort_values("account_id", kind="stable").reset_index(drop=True)
        sources = [list(s) for s in f["sources"]]
        kept = f["_decision"].isna().to_numpy() & f["_reasons"].isna().to_numpy()
        f["decision"] = np.where(kept, f["decision"], f["_decision"])
        f["reasons"] = [reasons_text(s, []) if k else r
                        for s, k, r in zip(sources, kept, f["_reasons"], strict=True)]
        f["explanation_json"] = [explanation_json(s, [], a) if k else e for s, k, a, e
                                 in zip(sources, kept, f["anomaly_score"], f["_explanation"],
                                        strict=True)]
        f["not_evaluable"] = f["_not_evaluable"].astype(object).where(
            f["_not_evaluable"].notna(), None)
        for name in ("rule_hits", "shadow_hits"):
            f[name] = [list(v) for v in f[name]]
        for name, value in self.stamp.items():
            f[name] = value
        f["cluster_id"] = f["cluster_id"].astype(object).where(f["cluster_id"].notna(), None)
        return pa.Table.from_pandas(f[VERDICT_SCHEMA.names], schema=VERDICT_SCHEMA,
                                    preserve_index=False)
