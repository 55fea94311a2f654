"""Optional context from other stages (rule titles, cluster details).

Both are nice-to-have: when the stage is missing or fails, the report says so in a note and
goes on with what the verdicts hold.
"""

from __future__ import annotations

import datetime as dt
import importlib
from typing import Any

from detector.settings import Settings


def _get(obj: Any, name: str, default: Any = None) -> Any:
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


def rule_catalogue(notes: list[str]) -> dict[str, dict[str, str]]:
    """Rule id -> {title, status} from ``detector.rules.load_ruleset()``; {} when unavailable."""
    try:
        rules_mod = importlib.import_module("detector.rules")
        ruleset = rules_mod.load_ruleset()
    except Exception as exc:  # optional stage: absent or failing is not fatal for a report
        notes.append(f"rule titles unavailable ({type(exc).__name__}: {exc})")
        return {}
    out: dict[str, dict[str, str]] = {}
    rules = _get(ruleset, "rules", ()) or ()
    if isinstance(rules, dict):
        rules = rules.values()
    for rule in rules:
        rid = _get(rule, "id")
        if rid is not None:
            out[str(rid)] = {"title": str(_get(rule, "title", "") or ""),
                             "status": str(_get(rule, "status", "") or "")}
    return out


_DETAIL_FIELDS = ("summary", "evidence", "description", "label", "kind")


def cluster_details(settings: Settings, day: dt.date, notes: list[str]) -> dict[str, str]:
    """Cluster id -> one line of detail from ``detector.clusters.list_clusters``; {} if absent."""
    try:
        clusters_mod = importlib.import_module("detector.clusters")
        listing = clusters_mod.list_clusters(settings, day.isoformat())
    except Exception as exc:  # optional stage
        notes.append(f"cluster details unavailable ({type(exc).__name__}: {exc})")
        return {}
    if hasattr(listing, "to_dict"):  # a DataFrame
        listing = listing.to_dict("records")
    out: dict[str, str] = {}
    for item in listing or ():
        cid = _get(item, "cluster_id")
        if cid is None:
            continue
        out[str(cid)] = _detail(item)
    return out


def _detail(item: Any) -> str:
    """A summary-like field when the clusters stage gives one, else size and first-seen day."""
    for name in _DETAIL_FIELDS:
        value = _get(item, name)
        if value not in (None, ""):
            return str(value)[:200]
    parts = []
    if _get(item, "size") is not None:
        parts.append(f"size {_get(item, 'size')}")
    if _get(item, "first_seen"):
        parts.append(f"first seen {str(_get(item, 'first_seen'))[:10]}")
    return ", ".join(parts)
