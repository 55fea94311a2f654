"""Score account-days and write their verdicts (``detector.verdicts.write_verdict_day``)."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pyarrow as pa

from detector.decide import amend, returning, spark_policy
from detector.decide import on_spark as on_spark_
from detector.decide.explain import explain_rows, explanation_json, reasons_text, rule_values
from detector.decide.policy import PolicyConfig, apply_policy
from detector.decide.risk import frame_risk
from detector.features.assemble import account_features
from detector.features.spark_assemble import spark_account_features
from detector.lake.db import connect
from detector.lake.spark import spark_session
from detector.model.registry import load_active_model
from detector.rules import load_ruleset
from detector.settings import Settings
from detector.verdicts import VERDICT_SCHEMA, write_verdict_day


def _allowlist(settings: Settings) -> tuple[set[str], set[str]]:
    """Active allow-list entries from the case store (empty when there is no case store yet)."""
    if not settings.cases_db.exists():
        return set(), set()
    from detector.cases import CaseStore

    return CaseStore(settings).allowlist_active()


def _feature_run_id(settings: Settings, dates: list[str]) -> str:
    h = hashlib.sha256()
    for d in sorted(dates):
        for p in sorted(settings.features_dir.glob(f"*/date={d}/*.parquet")):
            st = p.stat()
            h.update(f"{p.relative_to(settings.home)}:{st.st_size}:{st.st_mtime_ns};".encode())
    return h.hexdigest()[:16]


def org_ids(con, frame: pd.DataFrame) -> pd.Series:
    """The organisation of each row's account: the smallest org id of its requests over every
    lake day (an account's requests normally carry one), null when none has one; a ``GROUP BY``
    over ``con``'s ``requests`` view (the DuckDB engine; with ``engine = "spark"`` the policy
    joins ``spark_requests.org_ids_frame`` on the executors instead)."""
    orgs = con.sql("SELECT account_id, min(org_id) AS org_id FROM requests "
                   "GROUP BY account_id").df()
    return frame[["account_id"]].merge(orgs, on="account_id", how="left")["org_id"]


#: The model alone never blocks below this calibrated probability, whatever the FPR-chosen
#: threshold says: a block cuts off a paying customer, so it needs the model to be confident as
#: well as the benign population to be rarely that high. Rules and analysts can still block.
MODEL_BLOCK_FLOOR = 0.8

#: The model alone sends an account-day to review only when it is more likely than not a
#: distiller. Thresholds chosen for a benign FPR on simulated validation data land on isotonic
#: steps (0.04 for the default model) that say nothing about traffic unlike the simulator's; on
#: independently generated traffic that threshold reviewed 8% of benign accounts
#: (bench/foreign/README.md). Rules keep their own thresholds.
MODEL_REVIEW_FLOOR = 0.5

#: A model-only block needs this many requests behind the score (the day's, the 7-day window's or
#: the cluster's that day: ``policy._model_rank``); below it the model can only review.
MODEL_BLOCK_MIN_REQUESTS = 50

#: Under that floor, a model-only block still stands on at least this many requests when the
#: score is at least ``STRICT_BLOCK_MIN_SCORE`` and the day spans more than one burst
#: (``policy._thin_bar``; the conversation guard below applies too). Low-and-slow rings keep each
#: account at 8-45 one-shot questions a day; on the development seeds of both generators no
#: benign account-day under 50 requests passed this bar and the conversation guard
#: (docs/model.md). Evasion cost: under 10 requests an account a day keeps a ring member
#: reviewed, not blocked, by the model alone.
THIN_BLOCK_MIN_REQUESTS = 10
#: ... and when under this share of the day's requests came from networks that at least two
#: other accounts use that day (``inf_shared_prefix_share``): an account that lives behind a
#: campus, office or carrier NAT shares its address with the institution's other users, and ten
#: to fifty requests cannot tell its ordinary day from a ring member's, while a review reaches
#: the institution. Residential ring members use their own addresses; one of two that happens
#: to be shared leaves the share near a half. On 43 homes of both generators (development and
#: spent final seeds), 144 of the 147 thin-tier blocks came from days at a half or less; of the
#: benign campus account-days of 10-49 requests, 89 % sat at 0.6 or more (docs/model.md).
#: Evasion cost: a ring member sending three in five requests through a shared network is
#: reviewed, not blocked, by the model alone on thin days.
THIN_BLOCK_MAX_SHARED_NETWORK = 0.6
#: ... and when the score is at least this (above ``STRICT_BLOCK_MIN_SCORE``): ten to fifty
#: requests put a person's ordinary day on a high isotonic step now and then (a chat user's ten
#: questions with a fixed max_tokens of 4096 and long answers scored 0.963 on a final set), and
#: the model's top step is where thin-evidence harvesting sits (27 of the 28 thin-tier blocks
#: on eight development homes of both generators scored 0.99 or more, the other 0.978, no benign
#: account-day of 10-49 requests reached 0.9). The bar is 0.999: on 24 development and
#: diagnosis homes of both generators every one of the 56 thin-tier blocks scored 1.000, while a
#: person's ten chat questions (short prompts, long answers, two home networks) scored 0.997 on
#: final seed 10003 at 3x and were blocked at 0.99. Evasion cost: a ring member the model
#: scores under 0.999 on a thin day is reviewed, not blocked, by the model alone.
THIN_BLOCK_MIN_SCORE = 0.999
#: ... and when under this share of the day's requests continue a conversation
#: (``div_multiturn_share``; every model block needs under ``MODEL_BLOCK_MAX_MULTITURN``, a
#: half): a person's ten to fifty questions are often a few conversations, and a campus user's
#: 14 requests, 43 % of them follow-ups, scored 1.000 on a final set. Harvesting wants
#: prompt-answer pairs: the 28 thin-tier blocks of the development homes had at most a third
#: of follow-ups (median 0.19). Evasion cost: a ring member spending two in five thin-day
#: requests on follow-ups is reviewed, not blocked, by the model alone.
THIN_BLOCK_MAX_MULTITURN = 0.4
#: The score a model-only block on narrow evidence needs: a day under the floor backed by its
#: week (above), and at least for one working session and the thin tier (below). It sits above
#: the isotonic step that holds both bulk harvesters and benchmark runs (0.917 for the default
#: model).
STRICT_BLOCK_MIN_SCORE = 0.95

#: A model-only block resting on the account's own day (outside a cluster) whose traffic is
#: spread under this many bits of hour-of-day entropy (six equally busy hours, a working day)
#: needs ``SESSION_BLOCK_MIN_SCORE``: a benchmark run of a few hours looks like an office-hours
#: harvesting job to the model (eval runs of 51, 132 and 900 requests spread over 1.0-2.3 bits
#: scored 0.83-0.92 on development and final homes). Evasion cost: a harvester packing each day
#: into a few hours is blocked by the model only at 0.97 (rules, clusters and its week act).
SESSION_BLOCK_MAX_HOUR_ENTROPY = float(np.log2(6))
#: ... at this score (above ``STRICT_BLOCK_MIN_SCORE``): the default model's step at 0.963 holds
#: heavy benign sessions too (a research group's 4,056 requests with ``top_logprobs`` 20 on two
#: models in three hours, and a benchmark runner's session, on spent final seeds). On the 13
#: development homes of both generators 10 of the 47 one-session model-only blocks sat there,
#: all distillers' days, and all but one of those accounts were blocked on another day
#: (docs/model.md).
#: Evasion cost: a harvester whose sessions the model scores under 0.97 is reviewed, not
#: blocked, by the model alone on those days.
SESSION_BLOCK_MIN_SCORE = 0.97

#: A model-only block is capped at review when at least this share of the day's requests
#: continue a conversation (``div_multiturn_share``): a training example is one prompt and one
#: answer, and people, heavy chat users included, converse. Evasion cost: an operator spending
#: half its requests on follow-ups is reviewed, not blocked, by the model alone (rules, clusters
#: and relay streams still act).
MODEL_BLOCK_MAX_MULTITURN = 0.5

#: A model-only block resting on the account's own day (outside a cluster) needs the day spread
#: over more than one burst: hour-of-day entropy of at least 1 bit (two equally busy hours).
#: A benchmark run sends a few hundred long pass@k generations in an hour; harvesting jobs run on
#: clocks with several windows or all day. Evasion cost: a harvester packing each day into one
#: hour is reviewed, not blocked, by the model (rules and clusters still act).
MODEL_BLOCK_MIN_HOUR_ENTROPY = 1.0
#: On such a day (its own evidence, outside a cluster, in one burst) the model alone reviews
#: only at the block threshold: benchmark runs of 80 to 3,000 requests, batch jobs and campus
#: NAT users' sittings scored 0.57-0.74 there on development homes of both generators, while
#: the distillers the model alone reviewed spread their days over 1.9 bits or more. Evasion
#: cost: a harvester packing each day into one hour under the block threshold is left to the
#: rules, its cluster and its 7-day window (scored again each day).
BURST_REVIEW_NEEDS_BLOCK_SCORE = True
#: So does a day that compares models on the account's own evidence: two models or more, none
#: with more than this share of the requests (PolicyConfig ``comparison_max_top_model_share``),
#: and at most ``COMPARISON_MAX_PROMPT_RATIO`` of the prompts distinct. An evaluation harness
#: sends one question set to each model it compares (two models: a top share and a distinct
#: ratio of 0.5; the bounds leave room for its background traffic); a harvester asks its
#: teacher, and each question once. Benchmark runs on the independent generator's development
#: seeds scored 0.56-0.74 there (top share 0.50-0.54, distinct ratio 0.21-0.46); no
#: distiller's day of either generator's development homes met the condition. Evasion cost: a
#: harvester sending every question to two models, and at most six in ten of them new, is left
#: to the rules, its cluster and the block score.
COMPARISON_MAX_TOP_MODEL_SHARE = 0.75
COMPARISON_MAX_PROMPT_RATIO = 0.6

#: A cluster-day whose every member is flagged on its own evidence (model, rules) is blocked
#: whole when at least this share of its members is blocked on its own (PolicyConfig
#: ``cluster_flagged_block_share``; with fewer flagged members the block needs
#: ``cluster_block_share``, 80 %). Linked accounts (a payment instrument, or two evidence
#: families) that all look like harvesting, several already cut off, are one operation; a
#: benign cluster reaches it only through false blocks of its own members.
CLUSTER_FLAGGED_BLOCK_SHARE = 0.4
#: A cluster-day of at least this many members, every one flagged by an acting rule on its
#: own day, is blocked whole (PolicyConfig ``cluster_rule_flagged_block_min_size``). Each rule
#: reviews alone because one account's harvesting traits have hard negatives (a research group's
#: logprobs, an eval harness's long answers); five or more linked accounts (a payment
#: instrument, or two evidence families) showing them at once are a fleet. On the development
#: and spent final homes of both generators (74 benign cluster-days, 48 of five or more) no
#: benign cluster had more than a fifth of its members flagged by a rule. Evasion cost: a fleet
#: keeping one member in five under every rule is left to the other escalations.
CLUSTER_RULE_FLAGGED_BLOCK_MIN_SIZE = 5

#: An account-day that this many signal families flag on their own (each acting rule's family,
#: and the model's own review after its guards) is blocked (PolicyConfig
#: ``corroborated_block_min_families``), behind the evidence floor and the conversation and
#: relay guards of a model block. Each family reviews alone, because each has its hard
#: negatives; three independent lines of evidence on one day are a harvesting job's. On the
#: development homes of both generators (3,188 benign account-days) no benign day had more
#: than two rules' families, and none had two with the model at review; on two final sets a
#: tutoring app and a study helper did, two of the families reading one trait (below).
#: Evasion cost: a harvester keeping each day under two lines of evidence (the model's review
#: one of them) is reviewed.
CORROBORATED_BLOCK_MIN_FAMILIES = 3
#: ... counting the families of each group here as one line of evidence (PolicyConfig
#: ``corroborated_same_evidence``): the diversity and volume rules read the same trait, many
#: distinct single-turn prompts with answers a dozen times longer under a harvesting request
#: profile, behind the same guards, so an app whose users ask diverse questions and want long
#: answers meets both at once. On final seed 9503 (three days at 0.5x) a tutoring app without
#: end-user ids, scored 0.001 by the model, was blocked on a diversity rule, a volume rule and
#: the reasoning-trace rule, which its students' "step by step" questions meet. On 43 homes of
#: both generators (development and spent final seeds), 8 of the 72 account-days that three
#: families flag rest on that pair and are reviewed, all of them bulk harvesters of the
#: independent generator at 0.5x-1x. Evasion cost: none added; a harvester the pair flags is
#: reviewed, and blocked when a third line (harvest, timing, infrastructure, coverage, the
#: model) flags its day too.
CORROBORATED_SAME_EVIDENCE: tuple[tuple[str, ...], ...] = (("diversity", "volume"),)

#: A model-only block is capped at review when the account passes this many distinct end-user
#: ids in a day (a relay or platform; see ``inf_distinct_end_users``). Evasion cost: a harvester
#: inventing end-user ids avoids model-only blocks, not reviews, rules or cluster escalation.
MODEL_BLOCK_MAX_END_USERS = 20


def policy_config(settings: Settings, card: dict) -> PolicyConfig:
    """Thresholds: explicit settings win; else the card's FPR-chosen ones, floored."""
    thr = card.get("thresholds", {})
    review = (settings.review_threshold if settings.review_threshold is not None
              else max(float(thr.get("review", 0.5)), MODEL_REVIEW_FLOOR))
    block = (settings.block_threshold if settings.block_threshold is not None
             else max(float(thr.get("block", 0.9)), MODEL_BLOCK_FLOOR))
    return PolicyConfig(review_threshold=min(review, block), block_threshold=block,
                        cluster_flagged_block_share=CLUSTER_FLAGGED_BLOCK_SHARE,
                        cluster_rule_flagged_block_min_size=CLUSTER_RULE_FLAGGED_BLOCK_MIN_SIZE,
                        comparison_max_top_model_share=COMPARISON_MAX_TOP_MODEL_SHARE,
                        comparison_max_prompt_ratio=COMPARISON_MAX_PROMPT_RATIO,
                        model_block_min_requests=MODEL_BLOCK_MIN_REQUESTS,
                        model_block_min_hour_entropy=MODEL_BLOCK_MIN_HOUR_ENTROPY,
                        model_block_max_end_users=MODEL_BLOCK_MAX_END_USERS,
                        model_block_max_multiturn=MODEL_BLOCK_MAX_MULTITURN,
                        thin_block_min_requests=THIN_BLOCK_MIN_REQUESTS,
                        thin_block_max_shared_network=THIN_BLOCK_MAX_SHARED_NETWORK,
                        thin_block_max_multiturn=THIN_BLOCK_MAX_MULTITURN,
                        session_block_max_hour_entropy=SESSION_BLOCK_MAX_HOUR_ENTROPY,
                        session_block_min_score=max(SESSION_BLOCK_MIN_SCORE,
                                                    STRICT_BLOCK_MIN_SCORE, block),
                        strict_block_min_score=max(STRICT_BLOCK_MIN_SCORE, block),
                        thin_block_min_score=max(THIN_BLOCK_MIN_SCORE, STRICT_BLOCK_MIN_SCORE,
                                                 block),
                        burst_review_min_score=block if BURST_REVIEW_NEEDS_BLOCK_SCORE else None,
                        corroborated_block_min_families=CORROBORATED_BLOCK_MIN_FAMILIES,
                        corroborated_same_evidence=CORROBORATED_SAME_EVIDENCE)


def score_frame(settings: Settings, con, view: str, model_card: tuple | None = None,
                ruleset=None) -> pd.DataFrame:
    """Verdict rows for every account-day in ``view`` (no writing).

    ``model_card`` (model, card) and ``ruleset`` default to the active model and the rules in
    force; shadow scoring (``detector.decide.shadow``) passes a candidate instead."""
    model, card = model_card if model_card is not None else load_active_model(settings)
    ruleset = ruleset if ruleset is not None else load_ruleset()
    on_spark = settings.engine == "spark"
    accounts, orgs = _allowlist(settings)
    cfg = policy_config(settings, card)
    if on_spark:  # rows assembled, ruled, scored and decided on the executors; the driver
        spark = spark_session(settings)  # gets the compact verdict rows (spark_policy.py)
        spark_view = spark_account_features(settings, on_spark_.view_days(con, view))
        spark.catalog.cacheTable(spark_view)  # joined once for rules, verdicts and ranks
        hits = ruleset.evaluate_spark(spark, spark_view)
        got = spark_policy.decide_view(settings, spark_view, model, hits, cfg, accounts, orgs)
        coverage = next((c for c in spark.table(f"`{spark_view}`").columns
                         if c.startswith("cov_")), None)
        frame = on_spark_.driver_frame(got, coverage)
        anomaly, risk = got["anomaly_score"].to_numpy(), got["risk"].to_numpy()
        out = got[[name for name, _ in spark_policy.VERDICT]].copy()
    else:
        frame = con.sql(f"SELECT * FROM {view} ORDER BY date, account_id").df()
        hits = ruleset.evaluate(con, view)
        frame["org_id"] = org_ids(con, frame).to_numpy()
        proba = model.predict_proba(frame)[:, 1] if len(frame) else np.zeros(0)
        anomaly = model.anomaly_score(frame) if len(frame) else np.zeros(0)
        out = apply_policy(frame, proba, hits, cfg, accounts, orgs)
    # Reruns, relay streams, end users and profiles, near fleets, returning actors (amend.py).
    out, evidence = amend.run(settings, con, frame, out, model, cfg)
    # Explanations cost one batched prediction per feature: compute them where a person or a
    # gateway will read them (flagged account-days), not for the allowed majority.
    to_explain = np.flatnonzero((out["decision"] != "allow").to_numpy())
    explained = (on_spark_.explained_rows(settings, con, view, spark_view, model, frame, to_explain)
                 if on_spark else explain_rows(model, frame, to_explain))
    feats = [explained.get(i, []) for i in range(len(out))]
    out["reasons"] = [reasons_text(s, f) for s, f in zip(out["sources"], feats, strict=True)]
    hit_names = [[*a, *s] for a, s in zip(out["rule_hits"], out["shadow_hits"], strict=True)]
    rule_columns = {r.name: r.columns for r in ruleset.rules}
    hit_values = (on_spark_.hit_rule_values(con, view, frame, hit_names, rule_columns) if on_spark
                  else rule_values(frame, hit_names, rule_columns))
    out["explanation_json"] = [explanation_json(s, f, a, r) for s, f, a, r
                               in zip(out["sources"], feats, anomaly, hit_values, strict=True)]
    out["explanation_json"] = amend.annotate(out["explanation_json"], evidence)
    out["anomaly_score"] = anomaly
    out["risk"] = (risk if on_spark  # computed with the policy, on the executors
                   else frame_risk(frame, out["score"].to_numpy()))  # orders saturated scores
    out["not_evaluable"] = not_evaluable_text(out, ruleset.not_evaluable_spark(spark, spark_view)
                                              if on_spark else ruleset.not_evaluable(con, view))
    out["model_version"] = card.get("version", "unknown")
    out["ruleset_hash"] = ruleset.hash
    if on_spark:  # on an error the process ends; the next view of that name replaces it
        spark.catalog.uncacheTable(spark_view)
    return out


def not_evaluable_text(out: pd.DataFrame, unknown: pd.DataFrame) -> list[str | None]:
    """Per verdict row, the acting rules that could not be evaluated (inputs missing), sorted
    and ";"-joined; None when every rule was evaluated. Kept apart from ``reasons``: a rule
    that could not look is not a rule that looked and found nothing."""
    if unknown.empty:
        return [None] * len(out)
    keys = unknown.assign(date=pd.to_datetime(unknown["date"]).dt.date)
    grouped = keys.groupby(["account_id", "date"])["rule_name"].apply(
        lambda s: ";".join(sorted(set(s))))
    lookup = grouped.to_dict()
    dates = pd.to_datetime(out["date"]).dt.date
    return [lookup.get((a, d)) for a, d in zip(out["account_id"], dates, strict=True)]


def score(settings: Settings, dates: list[str]) -> dict[str, int]:
    """Score ``dates`` and write one verdict file per date. Returns rows written per date."""
    con = connect(settings)
    view = account_features(con, settings, dates)
    if settings.engine == "spark":  # the executors write the files (on_spark.write_verdicts)
        model, card = load_active_model(settings)
        ruleset = load_ruleset()
        stamp = {"model_version": card.get("version", "unknown"), "ruleset_hash": ruleset.hash,
                 "feature_run_id": _feature_run_id(settings, dates),
                 "run_id": uuid.uuid4().hex[:12], "created_at": pd.Timestamp(datetime.now(UTC))}
        written, flagged = on_spark_.write_verdicts(settings, con, view, dates, model, ruleset,
                                                    policy_config(settings, card),
                                                    _allowlist(settings), stamp)
        returning.write_index(settings, con, flagged)  # its blocked accounts, every day
        return written
    out = score_frame(settings, con, view)
    out["feature_run_id"] = _feature_run_id(settings, dates)
    out["run_id"] = uuid.uuid4().hex[:12]
    out["created_at"] = pd.Timestamp(datetime.now(UTC))
    out["cluster_id"] = out["cluster_id"].astype(object).where(out["cluster_id"].notna(), None)
    written = {}
    for d in dates:
        day = out[out["date"].astype(str) == d]
        table = pa.Table.from_pandas(day[VERDICT_SCHEMA.names], schema=VERDICT_SCHEMA,
                                     preserve_index=False)
        write_verdict_day(settings, d, table)
        written[d] = len(day)
    returning.write_index(settings, con, out)  # blocked accounts' keys, for later days
    return written
