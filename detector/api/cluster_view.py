"""A cluster as one case, for the cluster page: summary first, edges paged.

The page never renders every edge: a 500-member cluster can hold tens of thousands. What it
shows is bounded whatever the cluster's size:

- members by verdict (from the in-memory verdict index) and evidence counts by edge type;
- the shared keys summarised once (each distinct key of an ``ip``/``prefix``/``payment``/
  ``fingerprint`` edge, masked for the role by :func:`detector.api.redact.mask_evidence`, with
  how many edges and members it links), the top :data:`TOP_KEYS` per type;
- group-level evidence once: evidence fields whose value is the same on every edge of a type
  (a campaign's ``group_surprise_nats`` ...) are shown in the summary and left off the edges;
- members' sample prompts side by side (:data:`SAMPLE_MEMBERS` members, the highest scores
  first, :data:`SAMPLES_PER_MEMBER` prompts each, PII-masked; none for viewers);
- one page of edges (:data:`EDGES_PER_PAGE`, strongest first), each one's evidence masked
  for the role and written as text (never a Python repr).
"""

from __future__ import annotations

import json
import logging
import math
from collections import Counter, defaultdict
from typing import Any

import duckdb

from detector.api.account_view import load_cluster
from detector.api.redact import mask_evidence, mask_pii
from detector.api.service import Service

log = logging.getLogger(__name__)

EDGES_PER_PAGE = 50
TOP_KEYS = 20
SAMPLE_MEMBERS = 8
SAMPLES_PER_MEMBER = 3
SAMPLE_CHARS = 400
#: edge types whose evidence lists shared keys (``{"shared": [{"key": ...}]}``)
KEY_EDGE_TYPES = ("ip", "prefix", "payment", "fingerprint")
DECISION_ORDER = ("block", "review", "allow")


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


def _group_fields(edges: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per edge type: evidence fields holding one and the same value on every edge of that
    type (at least two edges), i.e. group-level evidence repeated on each edge."""
    by_type: dict[str, list[dict]] = defaultdict(list)
    for e in edges:
        by_type[e.get("edge_type") or ""].append(e.get("evidence") or {})
    out: dict[str, dict[str, Any]] = {}
    for etype, evs in by_type.items():
        if len(evs) < 2 or not all(isinstance(ev, dict) for ev in evs):
            continue
        first = evs[0]
        same = {}
        missing = object()
        for k, v in first.items():
            if k == "shared":
                continue
            # decoded JSON values compare by value (dicts, lists, numbers, strings)
            if all(ev.get(k, missing) == v for ev in evs[1:]):
                same[k] = v
        if same:
            out[etype] = same
    return out


def _shared_keys(edges: list[dict[str, Any]], role: str) -> list[dict[str, Any]]:
    """Each distinct shared key of the key-bearing edge types once: type, masked key, how many
    edges and members it links. The top :data:`TOP_KEYS` per type by members."""
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    for e in edges:
        etype = e.get("edge_type") or ""
        if etype not in KEY_EDGE_TYPES:
            continue
        ev = e.get("evidence") or {}
        shared = ev.get("shared") if isinstance(ev, dict) else None
        for item in shared or ():
            if not isinstance(item, dict) or item.get("key") is None:
                continue
            raw = json.dumps(item["key"], sort_keys=True, default=str)
            slot = seen.setdefault((etype, raw), {"edge_type": etype, "raw": item["key"],
                                                  "edges": 0, "members": set()})
            slot["edges"] += 1
            slot["members"].update((e.get("src"), e.get("dst")))
    per_type: dict[str, list[dict]] = defaultdict(list)
    for slot in seen.values():
        per_type[slot["edge_type"]].append(slot)
    out = []
    for etype in KEY_EDGE_TYPES:
        slots = sorted(per_type.get(etype, []), key=lambda s: (-len(s["members"]), -s["edges"]))
        for s in slots[:TOP_KEYS]:
            masked = mask_evidence({"shared": [{"key": s["raw"]}]}, etype, role)["shared"][0]
            out.append({"edge_type": etype, "key": _key_text(masked), "edges": s["edges"],
                        "members": len(s["members"])})
        if len(slots) > TOP_KEYS:
            out.append({"edge_type": etype, "key": f"… {len(slots) - TOP_KEYS} more keys",
                        "edges": sum(s["edges"] for s in slots[TOP_KEYS:]), "members": None})
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


def cluster_case(svc: Service, cluster_id: str, role: str, page: int = 1,
                 per_page: int = EDGES_PER_PAGE) -> dict[str, Any] | None:
    """The cluster page's data; None when the cluster is unknown. ``page`` is 1-based and
    clamped to the last page."""
    data = load_cluster(svc, cluster_id)
    if data is None:
        return None
    members = data.get("members") or []
    edges = data.get("edges") or []
    index = svc.verdicts.index
    by_verdict: Counter[str] = Counter()
    for m in members:
        v = index.get(m.get("account_id", ""))
        m["decision"] = v["decision"] if v else None
        m["score"] = v["score"] if v else None
        m["risk"] = v.get("risk") if v else None
        m["verdict_date"] = v.get("date") if v else None
        by_verdict[m["decision"] or "no verdict"] += 1
    members.sort(key=lambda m: (DECISION_ORDER.index(m["decision"])
                                if m["decision"] in DECISION_ORDER else 3,
                                -(m["score"] if m["score"] is not None else -1),
                                m.get("account_id", "")))
    group = _group_fields(edges)
    pages = max(1, math.ceil(len(edges) / per_page))
    page = min(max(1, page), pages)
    ordered = sorted(edges, key=lambda e: -(e.get("weight") or 0.0))  # stable: src, dst kept
    shown = []
    for e in ordered[(page - 1) * per_page: page * per_page]:
        ev = e.get("evidence") or {}
        drop = group.get(e.get("edge_type") or "", {})
        if isinstance(ev, dict):
            ev = {k: v for k, v in ev.items() if k not in drop}
        masked = mask_evidence(ev, e.get("edge_type"), role)
        shown.append({"src": e.get("src"), "dst": e.get("dst"), "edge_type": e.get("edge_type"),
                      "window": e.get("window"), "weight": e.get("weight"),
                      "evidence": [(str(k), _text(v)) for k, v in masked.items()]
                      if isinstance(masked, dict) else [("evidence", _text(masked))]})
    group_text = {t: [(str(k), _text(v)) for k, v in mask_evidence(f, t, role).items()]
                  for t, f in group.items()}
    features = {k: v for k, v in data.items()
                if k not in ("members", "edges", "days") and not isinstance(v, dict | list)}
    flagged = [m["account_id"] for m in members if m["decision"] in ("review", "block")]
    sample_accounts = (flagged or [m["account_id"] for m in members])[:SAMPLE_MEMBERS]
    return {
        "cluster_id": data.get("cluster_id", cluster_id), "kind": data.get("kind"),
        "date": data.get("date"), "days": data.get("days") or [], "features": features,
        "members": members, "n_members": len(members),
        "by_verdict": [(d, by_verdict[d]) for d in (*DECISION_ORDER, "no verdict")
                       if by_verdict.get(d)],
        "edge_counts": sorted(Counter(e.get("edge_type") or "" for e in edges).items(),
                              key=lambda kv: (-kv[1], kv[0])),
        "n_edges": len(edges), "shared_keys": _shared_keys(edges, role),
        "group_evidence": group_text, "edges": shown, "page": page, "pages": pages,
        "per_page": per_page,
        "samples": _samples(svc, sample_accounts, data.get("date"),
                            role in ("analyst", "admin")),
    }
