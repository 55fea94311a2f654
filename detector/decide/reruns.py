"""Reruns: a model-only block on a day that re-asks the account's own earlier prompts is held
at review.

An evaluation harness runs a benchmark suite, then runs it again a day or a week later (a new
model version, a new prompt format, a regression check): hundreds of open-ended prompts in
one sitting with long answers, samples (``n``) and ``top_logprobs``, which the classifier
cannot tell from a harvesting job's day and may score at 1.000. A harvester wants outputs it
does not have; re-asking its own earlier prompts is what a rerun does. So a block that rests
on the model alone is held at review when the day re-asks the account's own prompts:

- **candidates**: account-days blocked by the model alone (sources ``model``, with
  ``model_block_thin_evidence`` at most: no rule, corroboration or cluster behind the block)
  and not allow-listed;
- **rerun**: at least ``MIN_SHARE`` of the day's distinct prompts (``prompt_hash``) were sent
  by the same account on one of the ``WINDOW_DAYS`` days before, in the lake;
- such a day is **reviewed** instead of blocked, with the source ``model_block_rerun`` and
  ``explanation_json.rerun``: the day's distinct prompts, how many the account sent before,
  their share, and the earlier days they were sent on.

A block from a rule, from several families together or from the account's cluster stands:
those are evidence about harvesting, not the classifier's reading of one day.

Why a quarter: on 9 three-day development and diagnosis homes of both generators (0.5x-3x),
the distillers' model-only blocks on a day after their first re-asked under a quarter of their
distinct prompts from earlier days (35 of 36 under a tenth); the benchmark runner blocked on
final seed 251 (three days at 1x) re-asked 400 of its 900 (0.44). Distillers that re-ask more
(a hydra fleet recycling one prompt pool, up to 0.5 and more) were blocked by rules on those
days, which this stage leaves alone. Evasion cost: a harvester re-sending a quarter of its
earlier prompts every day turns a model-only block into a review, paying for a quarter of its
traffic in answers it mostly has; its rules, corroboration and cluster still block it.

Cost: the lake's ``account_id`` and ``prompt_hash`` of the candidates on their day and the
``WINDOW_DAYS`` before it; the candidates are a few model-only blocks a day.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from detector.decide.policy import with_decisions
from detector.decide.relay_streams import add_evidence
from detector.lake.db import open_duckdb, request_files, sql_file_list
from detector.settings import Settings

REASON = "model_block_rerun"

#: Days before the scored day whose prompts count as the account's earlier prompts.
WINDOW_DAYS = 7

#: The least share of the day's distinct prompts the account sent on an earlier day.
MIN_SHARE = 0.25

#: Sources of a block that rests on the model alone.
MODEL_ONLY = frozenset({"model", "model_block_thin_evidence"})


def candidates(out: pd.DataFrame) -> list[int]:
    """Positions of account-days blocked by the model alone and not allow-listed."""
    allowed = (out["allowlisted"].to_numpy(dtype=bool) if "allowlisted" in out.columns
               else [False] * len(out))
    return [i for i, (decision, sources, account, a) in enumerate(zip(
        out["decision"], out["sources"], out["account_id"], allowed, strict=True))
        if decision == "block" and account is not None and not a
        and "model" in sources and set(sources) <= MODEL_ONLY]


def _earlier_days(day: str) -> list[str]:
    d = dt.date.fromisoformat(day)
    return [(d - dt.timedelta(days=k)).isoformat() for k in range(WINDOW_DAYS, 0, -1)]


def recurrence(settings: Settings, day: str, accounts: list[str]) -> pd.DataFrame:
    """Per account of ``accounts`` active on ``day``: ``prompts`` (distinct prompt hashes that
    day), ``seen`` (how many of them the account sent on one of the ``WINDOW_DAYS`` days
    before) and ``days`` (those earlier days, sorted). Accounts without a prompt that day are
    absent."""
    cols = ["account_id", "prompts", "seen", "days"]
    today = request_files(settings, day)
    if not today or not accounts:
        return pd.DataFrame(columns=cols)
    earlier = [(d, request_files(settings, d)) for d in _earlier_days(day)]
    earlier = [(d, f) for d, f in earlier if f]
    before = " UNION ALL ".join(
        f"SELECT account_id, prompt_hash, '{d}' AS day FROM read_parquet([{sql_file_list(f)}], "
        "union_by_name = true)" for d, f in earlier) or (
        "SELECT NULL::VARCHAR AS account_id, NULL::VARCHAR AS prompt_hash, "
        "NULL::VARCHAR AS day WHERE false")
    con = open_duckdb()
    try:
        con.register("dg_accounts", pd.DataFrame({"dg_account": sorted(set(accounts))}))
        got = con.sql(
            f"""WITH t AS (SELECT DISTINCT account_id, prompt_hash
                           FROM read_parquet([{sql_file_list(today)}], union_by_name = true)
                           WHERE prompt_hash IS NOT NULL
                             AND account_id IN (SELECT dg_account FROM dg_accounts)),
                     b AS (SELECT DISTINCT account_id, prompt_hash, day FROM ({before})
                           WHERE prompt_hash IS NOT NULL
                             AND account_id IN (SELECT dg_account FROM dg_accounts)),
                     j AS (SELECT t.account_id, t.prompt_hash, b.day
                           FROM t LEFT JOIN b USING (account_id, prompt_hash))
                SELECT account_id, count(DISTINCT prompt_hash) AS prompts,
                       count(DISTINCT prompt_hash) FILTER (WHERE day IS NOT NULL) AS seen,
                       coalesce(list_sort(list(DISTINCT day) FILTER (WHERE day IS NOT NULL)),
                                []::VARCHAR[]) AS days
                FROM j GROUP BY account_id ORDER BY account_id""").to_arrow_table()
    finally:
        con.close()
    return pd.DataFrame(got.to_pylist(), columns=cols)


def judge(settings: Settings, out: pd.DataFrame) -> dict[int, dict]:
    """Position of a model-only block -> its rerun evidence, where the day re-asks at least
    ``MIN_SHARE`` of its distinct prompts from the account's earlier days."""
    by_day: dict[str, dict[str, int]] = {}
    for pos in candidates(out):
        day = str(pd.Timestamp(out["date"].iat[pos]).date())
        by_day.setdefault(day, {})[out["account_id"].iat[pos]] = pos
    found: dict[int, dict] = {}
    for day, accounts in sorted(by_day.items()):
        rec = recurrence(settings, day, sorted(accounts))
        for row in rec.itertuples(index=False):
            share = row.seen / row.prompts if row.prompts else 0.0
            if share >= MIN_SHARE:
                found[accounts[row.account_id]] = {
                    "prompts": int(row.prompts), "seen_before": int(row.seen),
                    "share": round(float(share), 4), "days": list(row.days)}
    return found


def apply(out: pd.DataFrame, found: dict[int, dict]) -> pd.DataFrame:
    """Hold the blocks in ``found`` at review and record the source."""
    rows = [pos for pos in sorted(found) if out["decision"].iat[pos] == "block"]
    if not rows:
        return out
    return with_decisions(out, rows, lambda _, sources: ("review", [*sources, REASON]))


def annotate(explanations: list[str], found: dict[int, dict]) -> list[str]:
    """Add the rerun evidence to each such account-day's explanation JSON."""
    return add_evidence(explanations, found, "rerun")
