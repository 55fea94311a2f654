"""Context from other stages (rule titles, cluster details).

Both are nice-to-have: when the rule files are invalid or unreadable, or a cluster table cannot
be read, the report says so in a note and goes on with what the verdicts hold. Any other error
is a bug and surfaces.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from detector.errors import ConfigError
from detector.settings import Settings

#: what an optional stage may raise without the report failing: invalid rule files
#: (RuleSetError is a ConfigError), unreadable files, unreadable Parquet (ArrowInvalid is a
#: ValueError)
EXPECTED = (ConfigError, OSError, ValueError)


def _get(obj: Any, name: str, default: Any = None) -> Any:
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


def rule_catalogue(notes: list[str]) -> dict[str, dict[str, str]]:
    """Rule name and rule id -> {title, status} from ``detector.rules.load_ruleset()``.

    Verdicts carry rule *names* (the file stem) in ``rule_hits``/``shadow_hits`` and
    ``reasons``; the UUID ``id`` is indexed too, for older files. {} when the rules cannot be
    loaded (a note says why).
    """
    import detector.rules as rules_mod

    try:
        ruleset = rules_mod.load_ruleset()
    except EXPECTED as exc:
        notes.append(f"rule titles unavailable ({type(exc).__name__}: {exc})")
        return {}
    out: dict[str, dict[str, str]] = {}
    rules = _get(ruleset, "rules", ()) or ()
    if isinstance(rules, dict):
        rules = rules.values()
    for rule in rules:
        info = {"title": str(_get(rule, "title", "") or ""),
                "status": str(_get(rule, "status", "") or "")}
        for key in (_get(rule, "id"), _get(rule, "name")):
            if key is not None:
                out[str(key)] = info
    return out


_DETAIL_FIELDS = ("summary", "evidence", "description", "label", "kind")


def cluster_details(settings: Settings, day: dt.date, notes: list[str]) -> dict[str, str]:
    """Cluster id -> one line of detail from ``detector.clusters.list_clusters``; {} if absent."""
    import detector.clusters as clusters_mod

    try:
        listing = clusters_mod.list_clusters(settings, day.isoformat())
    except EXPECTED as exc:
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
    """One line in words: what kind of group, how many accounts, since when.

    Campaigns say how unlikely their split is by chance as "1 in 10^N" instead of the
    clustering stage's surprise in nats; other clusters use a summary-like field when the
    clusters stage gives one (its own campaign summary names nats, so it is not used).
    """
    first = str(_get(item, "first_seen") or "")[:10]
    since = f", first seen {first}" if first else ""
    if _get(item, "kind") == "campaign":
        nats = _get(item, "group_surprise_nats")
        odds = ""
        if isinstance(nats, int | float) and math.isfinite(nats) and nats > 0:
            odds = (" - a split this clean happens by chance less than once in "
                    f"10^{max(1, int(nats / math.log(10)))}")
        return (f"campaign: {_get(item, 'size')} flagged accounts split one topic sweep "
                f"between them{odds}{since}")
    if _get(item, "kind") == "linked" and _get(item, "size") is not None:
        return (f"linked: {_get(item, 'size')} accounts tied by shared payment, addresses, "
                f"clients, prompts or timing{since}")
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
