"""Context from other stages (rule titles, cluster details).

Both are nice-to-have: when the rule folder is missing, a rule file is invalid or unreadable,
or a cluster table of the day cannot be read, the report says which in a note and goes on with
what the verdicts hold. Any other error is a bug: it surfaces, with a note saying which part of
the report was being built.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from pyarrow import ArrowException

from detector.errors import ConfigError, InputError
from detector.settings import Settings


def _get(obj: Any, name: str, default: Any = None) -> Any:
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


def _what(exc: Exception, default: str) -> str:
    """``path: reason`` of an OSError that names its file, else ``default: message``."""
    filename = getattr(exc, "filename", None)
    reason = getattr(exc, "strerror", None) or str(exc)
    return f"{filename}: {reason}" if filename else f"{default}: {reason}"


def rule_catalogue(notes: list[str]) -> dict[str, dict[str, str]]:
    """Rule name and rule id -> {title, status} from ``detector.rules.load_ruleset()``.

    Verdicts carry rule *names* (the file stem) in ``rule_hits``/``shadow_hits`` and
    ``reasons``; the UUID ``id`` is indexed too, for older files. {} when the rules folder is
    missing, a rule file is invalid or unreadable (a note says which); other errors raise.
    """
    import detector.rules as rules_mod

    try:
        ruleset = rules_mod.load_ruleset()
    except InputError as exc:  # the rules folder is missing
        notes.append(f"rule titles unavailable: {exc}")
        return {}
    except ConfigError as exc:  # RuleSetError: invalid rule files, each problem with its file
        notes.append(f"rule titles unavailable: invalid rule files ({exc})")
        return {}
    except OSError as exc:  # the folder or a rule file cannot be read
        notes.append(f"rule titles unavailable: cannot read {_what(exc, 'the rules folder')}")
        return {}
    except Exception as exc:
        exc.add_note("while loading the rule titles for the daily report "
                     "(detector.report.extras.rule_catalogue)")
        raise
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
    """Cluster id -> one line of detail from ``detector.clusters.list_clusters``.

    {} when the day has no cluster tables, or when one cannot be read (OSError, a corrupt
    Parquet file: a note names the folder); other errors raise."""
    import detector.clusters as clusters_mod
    from detector.clusters.store import day_dir

    try:
        listing = clusters_mod.list_clusters(settings, day.isoformat())
    except (OSError, ArrowException) as exc:  # a cluster table of the day cannot be read
        where = day_dir(settings, day.isoformat())
        notes.append(f"cluster details unavailable: cannot read the cluster tables in {where} "
                     f"({_what(exc, type(exc).__name__)})")
        return {}
    except Exception as exc:
        exc.add_note(f"while reading the cluster details of {day} for the daily report "
                     "(detector.report.extras.cluster_details)")
        raise
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
