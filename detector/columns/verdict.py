"""Row keys (``account_id``, ``date``) and the verdict columns (``VERDICT_SCHEMA`` of the
verdict store, ``detector.verdicts``; one verdict per account-day). ``cluster_id`` is a
cluster column (:mod:`detector.columns.cluster`)."""

from __future__ import annotations

from detector.columns.model import Column

KEYS: list[Column] = [
    Column("account_id", "key", "string", "id", None, "Account",
           "Billing account: the unit that gets flagged or blocked.", ""),
    Column("date", "key", "date32", "day", None, "Day",
           "UTC day of the account-day (YYYY-MM-DD).", ""),
]


def _v(name: str, dtype: str, unit: str, direction: str | None, label: str,
       meaning: str) -> Column:
    return Column(name, "verdict", dtype, unit, direction, label, meaning, "")


VERDICT: list[Column] = [
    _v("score", "float64", "probability 0-1", "higher", "Score",
       "The model's calibrated probability that the account-day is distilling, lifted by acting "
       "rules to their score."),
    _v("decision", "string", "decision", None, "Decision",
       "allow, review or block: what the policy decided for the account-day."),
    _v("reasons", "string", "reason tokens", None, "Reasons",
       "';'-joined reason tokens: acting rule names (and cluster_escalation / allowlisted), "
       "then the top model features."),
    _v("model_score", "float64", "probability 0-1", "higher", "Model score",
       "The classifier's calibrated probability alone, before rules lift it."),
    _v("anomaly_score", "float64", "score", "higher", "Anomaly score",
       "The isolation-forest anomaly score of the account-day against the training traffic."),
    _v("risk", "float64", "log10 tokens", "higher", "Risk",
       "log10(1 + score x output tokens): the order of magnitude of the output expected to be "
       "distilled that day (detector.decide.risk)."),
    _v("rule_hits", "list<string>", "rule names", None, "Acting rules hit",
       "Names of the acting (stable, test) rules whose condition held that day."),
    _v("shadow_hits", "list<string>", "rule names", None, "Shadow rules hit",
       "Names of the experimental rules whose condition held; they never decide."),
    _v("not_evaluable", "string", "rule names", None, "Rules not evaluable",
       "Acting rules whose inputs were missing that day, ';'-separated; never part of reasons."),
    _v("explanation_json", "string", "JSON", None, "Explanation",
       "JSON {sources, top_features, anomaly_score} plus rule_values (each hit rule's columns "
       "with the account-day's values)."),
    _v("model_version", "string", "version", None, "Model version",
       "Version of the model card that scored the day."),
    _v("ruleset_hash", "string", "hash", None, "Rule set",
       "Hash of the rule set that evaluated the day."),
    _v("feature_run_id", "string", "id", None, "Feature run",
       "Fingerprint of the feature files the verdict read."),
    _v("run_id", "string", "id", None, "Run", "Id of the decide run that wrote the verdict."),
    _v("created_at", "timestamp[us, tz=UTC]", "time", None, "Written at",
       "When the verdict was written (UTC)."),
]
