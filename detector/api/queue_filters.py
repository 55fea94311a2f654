"""The review queue's filters beyond decision/score/date (rule, signal family, case state,
claims) and its group-by-cluster view.

Every filter is a boolean mask over the in-memory verdict index's columns (Arrow compute on
the ``reasons`` and ``cluster_id`` arrays, numpy on the rest), evaluated before any row is
turned into a dict, so a filter costs the same whether it keeps ten rows or a million; only
the page's rows are materialised. Case states and claims come from the (small) sets of
decided and claimed accounts.

Signal family of an item: the family code of its top reason (the first entry of
``reasons``: acting rules come first, then the top model features). Feature reasons carry
their family as a prefix (``hv_``, ``w7_hv_``); rules are named ``<family word>_...``
(``harvest_...`` is ``hv``); policy markers map to ``model`` or ``clu``. Codes and labels are
the column registry's (``detector.columns.FAMILIES``).
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from detector.api.overrides import Overrides
from detector.api.verdict_index import DECISION_CODES, VerdictIndex
from detector.cases.schema import STATUS_AFTER
from detector.columns import FAMILIES, FEATURE_FAMILIES
from detector.decide.shadow import FEATURE_FAMILIES as RULE_FAMILY_WORDS

#: family code -> what the queue's filter calls it (the column registry's feature families,
#: then the model acting alone and reasons of no family)
FAMILY_LABELS = {**{c: FAMILIES[c] for c in FEATURE_FAMILIES}, "model": "model score",
                 "other": "other"}
#: rules are named ``<word>_...`` (harvest_..., volume_...): word -> family code
_CODE_OF_NAME = {word: code for code, word in RULE_FAMILY_WORDS.items()}
_POLICY = {"model": "model", "model_block_capped": "model", "model_block_thin_evidence": "model",
           "cluster_escalation": "clu", "campaign": "clu", "campaign_sweep": "clu"}
CASE_STATES = tuple(STATUS_AFTER.values())
CLAIMED = ("mine", "unclaimed", "others")


def family_of(reason: str) -> str:
    """Family code of one reason (``hv``, ``vol``, ..., ``model``, ``clu``, ``other``)."""
    if reason in _POLICY:
        return _POLICY[reason]
    head = reason.removeprefix("w7_").split("_", 1)[0]
    if head in FEATURE_FAMILIES:
        return head
    return _CODE_OF_NAME.get(head, "other")


def _bool(arr: pa.Array) -> np.ndarray:
    return arr.fill_null(False).to_numpy(zero_copy_only=False).astype(bool)


def rule_mask(index: VerdictIndex, rule: str) -> np.ndarray:
    """Rows whose reasons name ``rule`` (a whole ``;``-separated entry)."""
    pattern = f"(^|;){re.escape(rule)}(;|$)"
    return _bool(pc.match_substring_regex(index.reasons, pattern))


def family_mask(index: VerdictIndex, family: str) -> np.ndarray:
    """Rows whose top reason belongs to ``family``: the distinct first reasons (a few
    hundred) are mapped, not the rows."""
    first = pc.replace_substring_regex(index.reasons.fill_null(""), ";.*$", "")
    enc = first.dictionary_encode()
    hit = np.array([family_of(r) == family if r else family == "other"
                    for r in enc.dictionary.to_pylist()] or [False], dtype=bool)
    return hit[enc.indices.to_numpy(zero_copy_only=False)]


def case_mask(index: VerdictIndex, ov: Overrides, state: str) -> np.ndarray:
    """Rows whose latest decision (on or after the verdict's day) left the case in ``state``."""
    out = np.zeros(len(index), dtype=bool)
    for account_id, dec in ov.decisions.items():
        i = index.rows.get(account_id)
        if (i is not None and STATUS_AFTER.get(dec["decision"]) == state
                and (dec.get("date") or "") >= index.dates[int(index.date_code[i])]):
            out[i] = True
    return out


def claim_mask(index: VerdictIndex, claims: dict[str, dict[str, Any]], claimed: str,
               analyst: str | None) -> np.ndarray:
    """``mine``: claimed by ``analyst``; ``others``: claimed by someone else; ``unclaimed``."""
    held = np.zeros(len(index), dtype=bool)
    for account_id, c in claims.items():
        i = index.rows.get(account_id)
        if i is None:
            continue
        if claimed == "unclaimed" or (c["analyst"] == analyst) == (claimed == "mine"):
            held[i] = True
    return ~held if claimed == "unclaimed" else held


def age_days(index: VerdictIndex, i: int) -> tuple[str | None, int | None]:
    """(first flagged day, days from it to the newest verdict day) of row ``i``."""
    if index.first_flagged is None or not index.dates:
        return None, None
    first = index.first_flagged[i].as_py()
    if first is None:
        return None, None
    days = (date.fromisoformat(max(index.dates)[:10]) - date.fromisoformat(first[:10])).days
    return first, max(days, 0)


def cluster_groups(index: VerdictIndex, mask: np.ndarray, sort_limit: tuple[int, int]
                   ) -> dict[str, Any]:
    """One row per cluster among the masked rows that has a review or block member: member
    counts by decision, the highest member risk; most flagged members first, then risk."""
    offset, limit = sort_limit
    rows = np.flatnonzero(mask & _bool(pc.is_valid(index.cluster_id)))
    t = pa.table({"cluster_id": index.cluster_id.take(pa.array(rows, pa.int64())),
                  **{d: pa.array((index.decision[rows] == c).astype(np.int64))
                     for c, d in enumerate(DECISION_CODES)},
                  "risk": pa.array(index.risk[rows], pa.float64(), from_pandas=True)})
    g = t.group_by("cluster_id").aggregate(
        [(d, "sum") for d in DECISION_CODES] + [("risk", "max"), ("cluster_id", "count")])
    flagged = pc.add(g["review_sum"], g["block_sum"])
    g = g.append_column("flagged", flagged).filter(pc.greater(flagged, 0))
    g = g.sort_by([("flagged", "descending"), ("risk_max", "descending"),
                   ("cluster_id", "ascending")])
    page = g.slice(offset, limit).to_pylist()
    items = [{"cluster_id": r["cluster_id"], "members": r["cluster_id_count"],
              "review": r["review_sum"], "block": r["block_sum"], "allow": r["allow_sum"],
              "max_risk": r["risk_max"]} for r in page]
    return {"total": g.num_rows, "offset": offset, "limit": limit, "items": items}
