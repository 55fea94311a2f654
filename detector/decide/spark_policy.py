"""The decision policy and risk on a Spark cluster (``engine = "spark"``): verdict rows of the
Spark view of the day's feature rows (``detector.features.spark_assemble``), decided where the
rows are.

One ``mapInArrow`` over the view's rows scores them with the broadcast model (each feature
cast to double, absent ones null, as ``model.estimator.to_matrix`` reads a frame) and applies the
same :func:`detector.decide.policy.apply_policy` and :func:`detector.decide.risk.frame_risk`
to each partition. The rows are repartitioned so that the policy's inputs that look across
rows are complete in one partition: the rows of an account in a cluster (a non-null
``cluster_id``) by (cluster_id, date), the cluster-day the escalation (``_escalate_clusters``)
and the pooled evidence (``_day_evidence``) group by; the others by account. Everything else
apply_policy reads is the row's own (model score, volumes, hour entropy, conversation share,
end users, the row's rule hits, its org id against the allow-lists). The rule hits (come to
the driver from ``ruleset.evaluate_spark``) go back to the cluster as a scratch Parquet file
read by URI (``lake.spark.sent_view``, in a hidden folder of the verdict folder, removed when
the caller releases the rows) and join their account-day's row there, and, when an org is
allow-listed, the accounts' org ids are computed on the executors and joined there too
(``spark_requests.org_ids_frame``); the policy config and the allow-lists are pickled with the
function.

The result (:func:`verdict_frame`) is one compact row per account-day: the policy's verdict
columns, the anomaly score and risk, and the few feature values the driver's later steps read
(:data:`DRIVER_COLUMNS`: the relay-stream candidates and the returning-actor test). The daily
job keeps it on the cluster (``on_spark.write_verdicts``: the executors write the verdict
files); :func:`decide_view` collects every row, ordered by (date, account_id) as the DuckDB path
orders them (``scoring.score_frame``, for shadow scoring).
"""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from detector.decide import distributed, near_fleets, spark_requests
from detector.decide.policy import PolicyConfig, apply_policy
from detector.decide.risk import OUTPUT_TOKENS, frame_risk
from detector.settings import Settings

#: Columns of every row the policy and risk read on the executors (the org id added).
POLICY_COLUMNS = ("account_id", "date", "cluster_id", "vol_requests", "w7_vol_requests",
                  "tim_hour_entropy", "div_multiturn_share", "inf_distinct_end_users",
                  "inf_shared_prefix_share", "vol_distinct_models", "vol_top_model_share",
                  "div_distinct_prompt_ratio", OUTPUT_TOKENS)
#: Feature values of every row that come back with its verdict: the relay-stream candidates
#: (``relay_streams.candidates``), the relay-days read per end user and per request profile
#: (``relay_end_users.candidates``, ``relay_profiles.candidates``) and the returning-actor test
#: (``returning._new_accounts``), and the near fleets' member profile (``near_fleets.PROFILE``).
DRIVER_COLUMNS = ("inf_distinct_end_users", "hist_days_since_first_seen", "inf_account_age_days",
                  *near_fleets.PROFILE)
#: The policy's output columns, in ``apply_policy``'s order, with their Spark types.
VERDICT = (("account_id", "string"), ("date", "date"), ("cluster_id", "string"),
           ("model_score", "double"), ("rule_hits", "array<string>"),
           ("shadow_hits", "array<string>"), ("model_rank", "long"), ("cluster_rank", "long"),
           ("score", "double"), ("decision", "string"), ("allowlisted", "boolean"),
           ("sources", "array<string>"))
EXTRA = (("anomaly_score", "double"), ("risk", "double"))
_HITS, _KEY, _DAY, _FEATURE = "_hits", "_key", "_day", "_f"
_HIT_FIELDS = ("rule_name", "action", "score", "shadow")


class _Decide:
    """``mapInArrow`` function: a partition's rows (policy columns, the model's features as
    ``_f<j>``, the account-day's rule hits) -> their verdict rows."""

    def __init__(self, digest: str, broadcast: Any, features: list[str], cfg: PolicyConfig,
                 allow_accounts: set[str], allow_orgs: set[str], passed: list[str]):
        self.digest, self.broadcast, self.features, self.cfg = digest, broadcast, features, cfg
        self.allow_accounts, self.allow_orgs, self.passed = allow_accounts, allow_orgs, passed

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        got = list(batches)
        if not got:
            return
        frame = pa.Table.from_batches(got).to_pandas()
        model = distributed.worker_model(self.digest, self.broadcast)
        matrix = pd.DataFrame({f: frame[f"{_FEATURE}{j}"].to_numpy(np.float64)
                               for j, f in enumerate(self.features)})
        proba = np.asarray(model.predict_proba(matrix)[:, 1], np.float64)
        anomaly = np.asarray(model.anomaly_score(matrix), np.float64)
        out = apply_policy(frame, proba, hit_rows(frame), self.cfg, self.allow_accounts,
                           self.allow_orgs)
        cols = {name: _arrow(out[name], kind) for name, kind in VERDICT}
        cols["anomaly_score"] = pa.array(anomaly)
        cols["risk"] = pa.array(np.asarray(frame_risk(frame, out["score"].to_numpy()), np.float64))
        for name in self.passed:
            cols[name] = pa.array(pd.to_numeric(frame[name], errors="coerce").to_numpy(np.float64),
                                  from_pandas=True)
        yield from pa.table(cols).to_batches()


def _arrow(values: pd.Series, kind: str) -> pa.Array:
    if kind == "array<string>":
        return pa.array([list(v) for v in values], pa.list_(pa.string()))
    if kind == "string":
        return pa.array(values.astype(object).where(values.notna(), None).tolist(), pa.string())
    return pa.array(values.tolist() if kind == "date" else values.to_numpy())


def hit_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """The rule hits the rows of ``frame`` carry (column ``_hits``: a list of (rule_name,
    action, score, shadow) per row, null when none) as ``apply_policy`` reads them: one row per
    (account_id, date, rule)."""
    rows = [{"account_id": a, "date": d, **hit}
            for a, d, hits in zip(frame["account_id"], frame["date"], frame[_HITS], strict=True)
            if hits is not None for hit in hits]
    if not rows:
        return pd.DataFrame(columns=["account_id", "date", *_HIT_FIELDS])
    return pd.DataFrame(rows)


_HITS_SCHEMA = (f"account_id string, {_DAY} string, rule_name string, action string, "
                "score double, shadow boolean")


def _hits_frame(session: Any, settings: Settings, hits: pd.DataFrame, held: ExitStack) -> Any:
    """``hits`` (``ruleset.evaluate_spark``'s rows) as a Spark DataFrame, one row per account-day:
    (account_id, _day, _hits); the rows are sent by :func:`sent_frame` (view ``dg_dec_hits``)."""
    from pyspark.sql import functions as F

    table = pa.table({
        "account_id": pa.array(hits["account_id"].astype(str).tolist(), pa.string()),
        _DAY: pa.array(distributed.day_strings(hits["date"]).tolist(), pa.string()),
        "rule_name": pa.array(hits["rule_name"].astype(str).tolist(), pa.string()),
        "action": pa.array(hits["action"].astype(object).where(hits["action"].notna(), None)
                           .tolist(), pa.string()),
        "score": pa.array(pd.to_numeric(hits["score"], errors="coerce").to_numpy(np.float64),
                          from_pandas=True),
        "shadow": pa.array(hits["shadow"].astype(bool).to_numpy()),
    })
    df = sent_frame(session, settings, held, "dg_dec_hits", table, _HITS_SCHEMA)
    return df.groupBy("account_id", _DAY).agg(
        F.collect_list(F.struct(*_HIT_FIELDS)).alias(_HITS))


def sent_frame(session: Any, settings: Settings, held: ExitStack, view: str, table: pa.Table,
               schema: str) -> Any:
    """``table``'s rows as a Spark DataFrame of Spark DDL ``schema``: one scratch Parquet file
    read by URI (``lake.spark.sent_view`` as ``view``) in a hidden ``.spark-*`` folder of the
    verdict folder, which verdict readers skip, kept until ``held`` closes; no rows: an empty
    frame."""
    from detector.lake.spark import sent_view
    from detector.verdicts.paths import root

    if table.num_rows == 0:
        return session.createDataFrame([], schema)
    held.enter_context(sent_view(session, settings, root(settings), view, table, schema))
    return session.table(view)


class Held:
    """What :func:`verdict_frame`'s rows need while they are read: the model's broadcast and
    the rule hits' scratch file; :meth:`unpersist` releases both (the scratch folder removed)."""

    def __init__(self, broadcast: Any, held: ExitStack):
        self.broadcast, self.held = broadcast, held

    def unpersist(self) -> None:
        try:
            self.broadcast.unpersist()
        finally:
            self.held.close()


def decide_view(settings: Settings, view: str, model: Any, hits: pd.DataFrame,
                cfg: PolicyConfig, allow_accounts: set[str] = frozenset(),
                allow_orgs: set[str] = frozenset(), partitions: int | None = None
                ) -> pd.DataFrame:
    """Verdict rows of every row of the Spark temp view ``view``, decided on the executors
    (:func:`verdict_frame`), collected and ordered by (date, account_id): the policy's columns,
    ``anomaly_score``, ``risk`` and the view's :data:`DRIVER_COLUMNS` (as doubles)."""
    rows, broadcast = verdict_frame(settings, view, model, hits, cfg, allow_accounts,
                                    allow_orgs, partitions)
    try:
        return collect(rows)
    finally:
        broadcast.unpersist()


def collect(rows: Any) -> pd.DataFrame:
    """Rows of :func:`verdict_frame` (or some of them) on the driver, ordered by
    (date, account_id) as the DuckDB path orders them, list columns as lists."""
    from pyspark.sql import functions as F

    got = (rows.orderBy(F.col("date").asc_nulls_last(), F.col("account_id").asc_nulls_last())
           .toArrow().to_pandas())
    for name, kind in VERDICT:
        if kind == "array<string>":
            got[name] = [list(v) for v in got[name]]
    return got


def verdict_frame(settings: Settings, view: str, model: Any, hits: pd.DataFrame,
                  cfg: PolicyConfig, allow_accounts: set[str] = frozenset(),
                  allow_orgs: set[str] = frozenset(), partitions: int | None = None
                  ) -> tuple[Any, Any]:
    """(Spark DataFrame of the verdict rows of every row of the Spark temp view ``view``,
    decided on the executors (``apply_policy`` with ``hits``, ``cfg`` and the allow-lists;
    ``frame_risk``): the policy's columns, ``anomaly_score``, ``risk`` and the view's
    :data:`DRIVER_COLUMNS` (as doubles), unordered; a :class:`Held` (the model's broadcast and
    the rule hits' scratch file), which the caller unpersists once it has read the rows).
    ``partitions``: how many partitions the rows are spread over (default: the session's
    parallelism)."""
    from detector.lake.spark import spark_session

    session = spark_session(settings)
    held = ExitStack()
    try:
        rows, broadcast = _verdict_rows(session, settings, view, model, hits, cfg,
                                        allow_accounts, allow_orgs, partitions, held)
    except BaseException:
        held.close()
        raise
    return rows, Held(broadcast, held)


def _verdict_rows(session: Any, settings: Settings, view: str, model: Any, hits: pd.DataFrame,
                  cfg: PolicyConfig, allow_accounts: set[str], allow_orgs: set[str],
                  partitions: int | None, held: ExitStack) -> tuple[Any, Any]:
    """:func:`verdict_frame`'s rows and the model's broadcast; the hits' scratch file in ``held``."""
    from pyspark.sql import functions as F

    table = session.table(f"`{view}`")
    present = set(table.columns)
    features = list(model.feature_names_in_)
    passed = [c for c in DRIVER_COLUMNS if c in present]
    cols = [F.col("account_id").cast("string").alias("account_id"), F.col("date"),
            F.col("date").cast("string").alias(_DAY)]
    if "cluster_id" in present:
        cols.append(F.col("cluster_id").cast("string").alias("cluster_id"))
    cols += [F.col(f"`{c}`") for c in dict.fromkeys((*POLICY_COLUMNS[3:], *passed))
             if c in present]
    # the matrix the model builds (estimator.to_matrix): each feature as a double, absent: null
    cols += [(F.col(f"`{f}`") if f in present else F.lit(None)).cast("double")
             .alias(f"{_FEATURE}{j}") for j, f in enumerate(features)]
    rows = table.select(*cols).join(_hits_frame(session, settings, hits, held),
                                    ["account_id", _DAY], "left")
    if allow_orgs:
        accounts = table.select(F.col("account_id").cast("string").alias("account_id"))
        orgs = spark_requests.org_ids_frame(settings, accounts.distinct())
        rows = (rows.join(orgs, "account_id", "left") if orgs is not None
                else rows.withColumn("org_id", F.lit(None).cast("string")))
    # a cluster-day's rows in one partition (its escalation and pooled evidence), others by account
    key = (F.when(F.col("cluster_id").isNotNull(), F.concat_ws("|", F.lit("c"), "cluster_id", _DAY))
           if "cluster_id" in present else F.lit(None))
    rows = rows.withColumn(_KEY, F.coalesce(key, F.concat_ws("|", F.lit("a"), "account_id")))
    parts = partitions or max(1, int(session.sparkContext.defaultParallelism))
    schema = ", ".join(f"{n} {t}" for n, t in (*VERDICT, *EXTRA, *((c, "double") for c in passed)))
    blob = pickle.dumps(model)
    broadcast = session.sparkContext.broadcast(blob)
    fn = _Decide(hashlib.sha256(blob).hexdigest(), broadcast, features, cfg,
                 set(allow_accounts), set(allow_orgs), passed)
    return rows.repartition(parts, _KEY).mapInArrow(fn, schema), broadcast
