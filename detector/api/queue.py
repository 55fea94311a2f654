"""The review queue: flagged accounts (latest verdict review/block) to work through.

Grain: one item per account (its latest verdict). An item is ``open`` until an analyst records
a decision dated on or after the verdict's date; then its ``case_status`` is the case status.
Filtering and sorting run on the index's numpy columns, so a 1M-account index answers in
milliseconds (the rule, family, case-state and claim filters and the group-by-cluster view:
``detector.api.queue_filters``). Default order: ``-risk`` (expected distilled output,
``detector.decide.risk``), then score, newest day, account id: hundreds of verdicts tie at
score 1.000, and among them the one taking the most away comes first. Verdicts without a risk
(older files) sort last.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from detector.api import queue_filters as qf
from detector.api.overrides import Overrides
from detector.api.verdict_index import DECISION_CODES, VerdictIndex
from detector.cases.schema import STATUS_AFTER

SORTS = ("-risk", "risk", "-score", "score", "-date", "date", "account_id")
STATUSES = ("open", "decided", "all")


@dataclass(frozen=True)
class QueueQuery:
    """Filters (all optional), sort key and page."""

    decisions: tuple[str, ...] = ("review", "block")
    min_score: float | None = None
    max_score: float | None = None
    date: str | None = None
    cluster_id: str | None = None
    account_prefix: str | None = None
    status: str = "open"
    sort: str = "-risk"
    limit: int = 50
    offset: int = 0
    rule: str | None = None          # a rule (or reason) named in ``reasons``
    family: str | None = None        # family code of the top reason (queue_filters.family_of)
    case_state: str | None = None    # blocked / cleared / escalated / needs-more-data
    claimed: str | None = None       # mine / unclaimed / others (needs ``analyst`` for mine)
    analyst: str | None = None       # who "mine" is


def _case_status(index: VerdictIndex, i: int, ov: Overrides) -> str | None:
    dec = ov.decisions.get(index.account_id[i].as_py())
    if dec is None:
        return None
    if (dec.get("date") or "") < index.dates[int(index.date_code[i])]:
        return None  # decided about an older verdict: this one is new evidence
    return STATUS_AFTER.get(dec["decision"])


def _mask(index: VerdictIndex, q: QueueQuery, ov: Overrides | None = None,
          claims: dict[str, dict[str, Any]] | None = None) -> np.ndarray:
    codes = [DECISION_CODES.index(d) for d in q.decisions if d in DECISION_CODES]
    mask = np.isin(index.decision, np.array(codes, dtype=np.int8))
    if q.min_score is not None:
        mask &= index.score >= q.min_score
    if q.max_score is not None:
        mask &= index.score <= q.max_score
    if q.date is not None:
        code = index.dates.index(q.date) if q.date in index.dates else -1
        mask &= index.date_code == code
    if q.cluster_id is not None:
        mask &= _bool(pc.equal(index.cluster_id, q.cluster_id))
    if q.account_prefix:
        mask &= _bool(pc.starts_with(index.account_id, q.account_prefix))
    if q.rule:
        mask &= qf.rule_mask(index, q.rule)
    if q.family:
        mask &= qf.family_mask(index, q.family)
    if q.case_state and ov is not None:
        mask &= qf.case_mask(index, ov, q.case_state)
    if q.claimed:
        mask &= qf.claim_mask(index, claims or {}, q.claimed, q.analyst)
    return mask


def _bool(arr: pa.Array) -> np.ndarray:
    return arr.fill_null(False).to_numpy(zero_copy_only=False).astype(bool)


def _decided(index: VerdictIndex, ov: Overrides) -> np.ndarray:
    """Rows whose verdict an analyst has already decided on (decision day >= verdict day)."""
    out = np.zeros(len(index), dtype=bool)
    for account_id, dec in ov.decisions.items():
        i = index.rows.get(account_id)
        if i is not None and (dec.get("date") or "") >= index.dates[int(index.date_code[i])]:
            out[i] = True
    return out


def _order(index: VerdictIndex, rows: np.ndarray, sort: str) -> np.ndarray:
    if sort == "account_id":
        return rows  # the index is stored sorted by account_id
    score = np.nan_to_num(index.score[rows], nan=-1.0)
    dates = np.array([index.dates[c] for c in range(len(index.dates))], dtype=object)
    date_rank = np.argsort(np.argsort(dates)) if len(dates) else np.zeros(0, int)
    drank = date_rank[index.date_code[rows]] if len(rows) else np.zeros(0, int)
    if sort in ("-risk", "risk"):
        risk = np.nan_to_num(index.risk[rows], nan=-1.0)
        keys = (rows, -drank, -score, -risk) if sort == "-risk" else (rows, drank, score, risk)
    elif sort in ("-score", "score"):
        keys = (rows, -drank if sort == "-score" else drank, score if sort == "score" else -score)
    else:
        keys = (rows, -score, drank if sort == "date" else -drank)
    return rows[np.lexsort(keys)]


def _filtered(index: VerdictIndex, ov: Overrides, q: QueueQuery,
              claims: dict[str, dict[str, Any]] | None) -> np.ndarray:
    mask = _mask(index, q, ov, claims)
    if q.status != "all":
        decided = _decided(index, ov)
        mask &= decided if q.status == "decided" else ~decided
    return mask


def review_queue(index: VerdictIndex, ov: Overrides, q: QueueQuery,
                 claims: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """``{total, offset, limit, items}`` for one page of the queue. ``claims``: the live
    claims (account_id -> row) shown on each item and used by the ``claimed`` filter."""
    rows = np.flatnonzero(_filtered(index, ov, q, claims))
    rows = _order(index, rows, q.sort)
    page = rows[q.offset:q.offset + q.limit]
    items = []
    for i in page:
        r = index.row(int(i))
        r.pop("org_id", None)
        r.pop("model_version", None)
        r["case_status"] = _case_status(index, int(i), ov)
        r["first_flagged"], r["age_days"] = qf.age_days(index, int(i))
        c = (claims or {}).get(r["account_id"])
        r["claim"] = None if c is None else {k: c[k] for k in ("analyst", "claimed_at",
                                                                "expires_at")}
        items.append(r)
    return {"total": int(len(rows)), "offset": q.offset, "limit": q.limit, "items": items}


def cluster_queue(index: VerdictIndex, ov: Overrides, q: QueueQuery,
                  claims: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """The group-by-cluster view: the query's filters over every decision (so each cluster's
    members are counted by decision), one row per cluster with a review or block member."""
    mask = _filtered(index, ov, replace(q, decisions=DECISION_CODES), claims)
    return qf.cluster_groups(index, mask, (q.offset, q.limit))
