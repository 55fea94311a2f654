"""One account's evidence, assembled for the API and the account page, filtered by role
(viewers get no prompt text; analysts and admins get PII-masked samples)."""

from __future__ import annotations

import logging
from typing import Any

from detector.api import evidence
from detector.api.auth import Principal
from detector.api.cluster_view import cluster_tables_or_none
from detector.api.redact import mask_pii
from detector.api.service import Service
from detector.decide.reasons import structured_reasons

log = logging.getLogger(__name__)

ACTIVITY_DAYS = 7
PROMPT_SAMPLES = 20


def cluster_summary(svc: Service, cluster_id: str | None) -> dict[str, Any] | None:
    """A short view of a cluster (id, size, date, member and edge counts) or None; reads the
    cluster's stored rows only (no evidence parsed)."""
    if not cluster_id:
        return None
    t = cluster_tables_or_none(svc, cluster_id)
    if t is None:
        return {"cluster_id": cluster_id, "size": None, "available": False}
    return t.row | {"date": t.day, "days": list(t.days), "available": True,
                    "n_members": len(t.members), "n_edges": t.edges.num_rows}


def _safe(fn: Any, *args: Any, default: Any) -> Any:
    """Run one evidence query; a broken or foreign table costs that piece, not the page."""
    try:
        return fn(*args)
    except Exception:  # DuckDB errors on odd files must not take the page down
        log.exception("evidence query %s failed", getattr(fn, "__name__", fn))
        return default


def account_evidence(svc: Service, account_id: str, who: Principal) -> dict[str, Any] | None:
    """Everything about ``account_id``; None when nothing at all is known about it."""
    con = svc.lake()
    history = _safe(evidence.verdict_history, con, account_id, default=[])
    case = svc.store.case(account_id)
    decisions = svc.store.decisions(account_id, limit=50)
    if not history and case is None and not decisions:
        return None
    latest = history[-1] if history else None
    day = latest["date"] if latest else None
    days = [h["date"] for h in history][-ACTIVITY_DAYS:]
    features = _safe(evidence.feature_percentiles, con, account_id, day, default=[]) if day else []
    samples = _safe(evidence.prompt_samples, con, account_id, day, PROMPT_SAMPLES,
                    default=[]) if day else []
    org = _safe(evidence.account_org, con, account_id, day, default=None) if day else None
    for s in samples:
        text = s.pop("prompt_text")
        s["prompt"] = mask_pii(text) if who.sees_prompts else None
    population = {f["name"]: f for f in features}  # the page's own percentile and median
    reasons = structured_reasons(latest["reasons"], latest.get("explanation"),
                                 shadow_hits=latest.get("shadow_hits") or (),
                                 population=population) if latest else []
    allow = [e for e in svc.store.allowlist()
             if e["account_id"] == account_id or (org is not None and e["org_id"] == org)]
    return {
        "account_id": account_id,
        "org_id": org,
        "verdict": svc.verdict(account_id),
        "latest": latest,
        "reasons": reasons,  # detection reasons of the latest verdict (schema reason/1)
        "timeline": [{k: h[k] for k in ("date", "score", "decision", "model_score",
                                         "anomaly_score", "cluster_id")} for h in history],
        "features": features,
        "activity": _safe(evidence.activity, con, account_id, days, default=[]),
        "cluster": cluster_summary(svc, latest["cluster_id"] if latest else None),
        "prompts": {"visible": who.sees_prompts, "masked": who.sees_prompts,
                    "samples": samples if who.sees_prompts else
                    [{k: v for k, v in s.items() if k != "prompt"} for s in samples]},
        "case": case,
        "decisions": decisions,
        "allowlist": allow,
    }
