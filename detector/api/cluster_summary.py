"""What the cluster page computes once per version of a cluster's files and the verdict index,
whatever the role and the page (cached): members with their verdicts, edges in page order,
counts by type, group-level evidence, the shared keys unmasked, the SVG graph.

Edges stay columns (Arrow to Python lists); each distinct evidence text is parsed once, and
only the edges of the page shown become dicts, so a 15,000-edge cluster costs a few list
passes rather than 15,000 dicts.
"""

from __future__ import annotations

import json
import threading
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

import pyarrow.compute as pc
from markupsafe import Markup

from detector.api.cluster_graph import graph_svg
from detector.api.service import Service
from detector.clusters.store import ClusterTables, parse_evidence

TOP_KEYS = 20
#: edge types whose evidence lists shared keys (``{"shared": [{"key": ...}]}``)
KEY_EDGE_TYPES = ("ip", "prefix", "payment", "fingerprint")
DECISION_ORDER = ("block", "review", "allow")
CACHE_SIZE = 8
EDGE_COLUMNS = ("src", "dst", "edge_type", "window", "weight", "evidence")
_lock = threading.Lock()
_cache: dict[tuple, Prepared] = {}


@dataclass
class Prepared:
    """One cluster ready for any role and page. ``cols`` hold the edges strongest first (ties
    by src, dst, type, window); ``parsed`` maps each distinct evidence text to its value."""

    members: list[dict[str, Any]]
    by_verdict: list[tuple[str, int]]
    edge_counts: list[tuple[str, int]]
    cols: dict[str, list]
    parsed: dict[str, Any]
    group: dict[str, dict[str, Any]]
    key_slots: list[dict[str, Any]]
    graph: Markup

    @property
    def n_edges(self) -> int:
        return len(self.cols["src"])

    def edge(self, i: int) -> dict[str, Any]:
        """Edge ``i`` (page order) as a dict with its evidence parsed."""
        e = {c: self.cols[c][i] for c in EDGE_COLUMNS}
        e["evidence"] = self.parsed.get(e["evidence"], {}) if e["evidence"] else {}
        return e


def _with_verdicts(svc: Service, t: ClusterTables) -> tuple[list[dict], Counter]:
    """Members (copies) with decision, score, risk and verdict date, block first, then by
    score; and the count per decision (``no verdict`` for none)."""
    index = svc.verdicts.index
    members = [dict(m) for m in t.members]
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
    return members, by_verdict


def _columns(t: ClusterTables) -> dict[str, list]:
    """The edge columns, strongest first (stable ties by src, dst, type, window)."""
    edges = t.edges
    keys = [("weight", "descending")] + [(c, "ascending") for c in
                                         ("src", "dst", "edge_type", "window")
                                         if c in edges.column_names]
    if "weight" not in edges.column_names:
        keys = keys[1:]
    if edges.num_rows and keys:
        edges = edges.take(pc.sort_indices(edges, sort_keys=keys))
    return {c: edges.column(c).to_pylist() if c in edges.column_names
            else [None] * edges.num_rows for c in EDGE_COLUMNS}


def group_fields(types: list[str], texts: list[str | None],
                 parsed: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per edge type: evidence fields holding one and the same value on every edge of that
    type (at least two edges), i.e. group-level evidence repeated on each edge. Compares each
    distinct evidence text once."""
    count: Counter[str] = Counter()
    distinct: dict[str, set] = defaultdict(set)
    for etype, text in zip(types, texts, strict=True):
        count[etype or ""] += 1
        distinct[etype or ""].add(text)
    out: dict[str, dict[str, Any]] = {}
    missing = object()
    for etype, found in distinct.items():
        evs = [parsed.get(x, {}) if x else {} for x in sorted(found, key=str)]
        if count[etype] < 2 or not all(isinstance(ev, dict) for ev in evs):
            continue
        first = evs[0]
        # decoded JSON values compare by value (dicts, lists, numbers, strings)
        same = {k: v for k, v in first.items()
                if k != "shared" and all(ev.get(k, missing) == v for ev in evs[1:])}
        if same:
            out[etype] = same
    return out


def key_slots(cols: dict[str, list], parsed: dict[str, Any]) -> list[dict[str, Any]]:
    """Each distinct shared key of the key-bearing edge types once, unmasked: type, raw key,
    how many edges and members it links; per type the top :data:`TOP_KEYS` by members, then
    one slot summing the rest (``raw`` None, ``rest`` the number of keys)."""
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    for src, dst, etype, text in zip(cols["src"], cols["dst"], cols["edge_type"],
                                     cols["evidence"], strict=True):
        if etype not in KEY_EDGE_TYPES or not text:
            continue
        ev = parsed.get(text)
        shared = ev.get("shared") if isinstance(ev, dict) else None
        for item in shared or ():
            if not isinstance(item, dict) or item.get("key") is None:
                continue
            key = item["key"]
            raw = key if isinstance(key, str) else json.dumps(key, sort_keys=True, default=str)
            slot = seen.get((etype, raw))
            if slot is None:
                slot = seen[(etype, raw)] = {"edge_type": etype, "raw": key, "sort": raw,
                                             "edges": 0, "members": set()}
            slot["edges"] += 1
            slot["members"].update((src, dst))
    per_type: dict[str, list[dict]] = defaultdict(list)
    for slot in seen.values():
        per_type[slot["edge_type"]].append(slot)
    out = []
    for etype in KEY_EDGE_TYPES:
        slots = sorted(per_type.get(etype, []),
                       key=lambda s: (-len(s["members"]), -s["edges"], s["sort"]))
        out += [{"edge_type": etype, "raw": s["raw"], "edges": s["edges"],
                 "members": len(s["members"])} for s in slots[:TOP_KEYS]]
        if len(slots) > TOP_KEYS:
            out.append({"edge_type": etype, "raw": None, "rest": len(slots) - TOP_KEYS,
                        "edges": sum(s["edges"] for s in slots[TOP_KEYS:]), "members": None})
    return out


def prepared(svc: Service, t: ClusterTables) -> Prepared:
    """The cluster ready for rendering, cached per version of its files and verdict index."""
    index = svc.verdicts.index
    key = (t.cluster_id, t.signature, index.signature, index.loaded_at)
    with _lock:
        hit = _cache.get(key)
    if hit is not None:
        return hit
    members, by_verdict = _with_verdicts(svc, t)
    cols = _columns(t)
    parsed = {text: parse_evidence(text) for text in set(cols["evidence"]) if text}
    edge_counts = Counter(x or "" for x in cols["edge_type"])
    decided = {m["account_id"]: m["decision"] or "no verdict" for m in members}
    out = Prepared(
        members=members,
        by_verdict=[(d, by_verdict[d]) for d in (*DECISION_ORDER, "no verdict")
                    if by_verdict.get(d)],
        edge_counts=sorted(edge_counts.items(), key=lambda kv: (-kv[1], kv[0])),
        cols=cols, parsed=parsed,
        group=group_fields(cols["edge_type"], cols["evidence"], parsed),
        key_slots=key_slots(cols, parsed),
        graph=graph_svg(members, cols, dict(edge_counts), decided, by_verdict))
    with _lock:
        _cache[key] = out
        while len(_cache) > CACHE_SIZE:
            _cache.pop(next(iter(_cache)))
    return out
