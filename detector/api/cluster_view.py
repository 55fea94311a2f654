"""A cluster as one case, for the cluster page: summary first, edges paged.

The page never renders every edge: a 500-member cluster can hold tens of thousands. What it
shows is bounded whatever the cluster's size (the role-independent part is computed once per
version of the cluster's files in :mod:`detector.api.cluster_summary`):

- members by verdict (from the in-memory verdict index) and evidence counts by edge type;
- a small SVG graph of members and evidence types (:mod:`detector.api.cluster_graph`; over
  :data:`~detector.api.cluster_graph.MAX_DRAWN_MEMBERS` members, verdict groups instead);
- the shared keys summarised once (each distinct key of an ``ip``/``prefix``/``payment``/
  ``fingerprint`` edge, masked for the role by :func:`detector.api.redact.mask_evidence`, with
  how many edges and members it links), the top ``TOP_KEYS`` per type;
- group-level evidence once: evidence fields whose value is the same on every edge of a type
  (a campaign's ``group_surprise_nats`` ...) are shown in the summary and left off the edges;
- members' sample prompts side by side (:data:`SAMPLE_MEMBERS` members, the highest scores
  first, :data:`SAMPLES_PER_MEMBER` prompts each, PII-masked; none for viewers);
- one page of edges (:data:`EDGES_PER_PAGE`, strongest first), each one's evidence masked
  for the role and written as text (never a Python repr).
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from typing import Any

import duckdb
import pyarrow as pa

from detector.api.auth import PROMPT_ROLES
from detector.api.cluster_graph import MAX_DRAWN_MEMBERS
from detector.api.cluster_summary import prepared
from detector.api.redact import mask_evidence, mask_pii
from detector.api.service import Service
from detector.clusters.store import ClusterTables, cluster_tables

log = logging.getLogger(__name__)

EDGES_PER_PAGE = 50
SAMPLE_MEMBERS = 8
SAMPLES_PER_MEMBER = 3
SAMPLE_CHARS = 400


def _text(value: Any, depth: int = 0) -> str:
    """Evidence as text a person reads: ``k: v; k: v``, lists comma-separated, floats to 4
    significant digits; no brackets, quotes or Python reprs."""
    if depth > 4:
        return "…"
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_text(v, depth + 1)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        shown = [_text(v, depth + 1) for v in value[:10]]
        more = f" (+{len(value) - 10} more)" if len(value) > 10 else ""
        return ", ".join(f"({s})" if ";" in s else s for s in shown) + more
    if isinstance(value, bool) or value is None:
        return {True: "yes", False: "no", None: "–"}[value]
    if isinstance(value, float):
        return "–" if math.isnan(value) else f"{value:.4g}"
    return str(value)


def _key_text(item: dict[str, Any]) -> str:
    return _text(item.get("key"))


def _shared_keys(slots: list[dict[str, Any]], role: str) -> list[dict[str, Any]]:
    """The key slots with each key masked for ``role``."""
    out = []
    for s in slots:
        if s["raw"] is None:
            key = f"… {s['rest']} more keys"
        else:
            masked = mask_evidence({"shared": [{"key": s["raw"]}]}, s["edge_type"], role)
            key = _key_text(masked["shared"][0])
        out.append({"edge_type": s["edge_type"], "key": key, "edges": s["edges"],
                    "members": s["members"]})
    return out


def _samples(svc: Service, accounts: list[str], day: str | None,
             sees_prompts: bool) -> list[dict[str, Any]]:
    """A few masked prompt samples of each of ``accounts`` on ``day`` (one lake query)."""
    if not accounts or not day or not sees_prompts:
        return []
    con = svc.lake()
    try:
        cols = {r[0] for r in con.execute("DESCRIBE requests").fetchall()}
        if "prompt_text" not in cols:
            return []
        marks = ", ".join("?" for _ in accounts)
        rows = con.execute(
            f"SELECT account_id, prompt_text FROM requests WHERE date = CAST(? AS DATE) "
            f"AND account_id IN ({marks}) AND prompt_text IS NOT NULL "
            "QUALIFY row_number() OVER (PARTITION BY account_id ORDER BY hash(request_id)) <= ? "
            "ORDER BY account_id, hash(request_id)",
            [day, *accounts, SAMPLES_PER_MEMBER]).fetchall()
    except duckdb.Error:  # no lake yet, or a foreign file: the samples are optional
        log.exception("cluster prompt samples could not be read")
        return []
    by_account: dict[str, list[str]] = defaultdict(list)
    for account_id, text in rows:
        by_account[account_id].append(mask_pii(text, SAMPLE_CHARS))
    return [{"account_id": a, "prompts": by_account[a]} for a in accounts if by_account.get(a)]


def cluster_tables_or_none(svc: Service, cluster_id: str) -> ClusterTables | None:
    """The cluster's stored rows (None when unknown or unreadable: logged)."""
    try:
        return cluster_tables(svc.settings, cluster_id)
    except (OSError, KeyError, ValueError, pa.ArrowException):
        log.exception("cluster %s could not be read", cluster_id)
        return None


def cluster_case(svc: Service, cluster_id: str, role: str, page: int = 1,
                 per_page: int = EDGES_PER_PAGE) -> dict[str, Any] | None:
    """The cluster page's data; None when the cluster is unknown. ``page`` is 1-based and
    clamped to the last page."""
    t = cluster_tables_or_none(svc, cluster_id)
    if t is None:
        return None
    prep = prepared(svc, t)
    members, group = prep.members, prep.group
    pages = max(1, math.ceil(prep.n_edges / per_page))
    page = min(max(1, page), pages)
    shown = []
    for i in range((page - 1) * per_page, min(page * per_page, prep.n_edges)):
        e = prep.edge(i)
        ev = e.get("evidence") or {}
        drop = group.get(e.get("edge_type") or "", {})
        if isinstance(ev, dict):
            ev = {k: v for k, v in ev.items() if k not in drop}
        masked = mask_evidence(ev, e.get("edge_type"), role)
        shown.append({"src": e.get("src"), "dst": e.get("dst"), "edge_type": e.get("edge_type"),
                      "window": e.get("window"), "weight": e.get("weight"),
                      "evidence": [(str(k), _text(v)) for k, v in masked.items()]
                      if isinstance(masked, dict) else [("evidence", _text(masked))]})
    group_text = {k: [(str(f), _text(v)) for f, v in mask_evidence(fields, k, role).items()]
                  for k, fields in group.items()}
    features = {k: v for k, v in t.row.items() if not isinstance(v, dict | list)}
    flagged = [m["account_id"] for m in members if m["decision"] in ("review", "block")]
    sample_accounts = (flagged or [m["account_id"] for m in members])[:SAMPLE_MEMBERS]
    return {
        "cluster_id": t.cluster_id, "kind": t.row.get("kind"), "date": t.day,
        "days": list(t.days), "features": features, "members": members,
        "n_members": len(members), "by_verdict": prep.by_verdict,
        "edge_counts": prep.edge_counts, "n_edges": prep.n_edges,
        "shared_keys": _shared_keys(prep.key_slots, role), "group_evidence": group_text,
        "graph": prep.graph, "graph_summarised": len(members) > MAX_DRAWN_MEMBERS, "edges": shown, "page": page, "pages": pages,
        "per_page": per_page,
        "samples": _samples(svc, sample_accounts, t.day, role in PROMPT_ROLES),
        "prompts_visible": role in PROMPT_ROLES,
    }
