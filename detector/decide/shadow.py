"""Shadow scoring: a candidate model or rule set beside the active one, before activation.

Both are run through the same entry point as ``detector run`` (``scoring.score_frame``) over the
same stored features of the last days; nothing is written to ``verdicts/``. The diff lists the
account-days whose decision changes (newly flagged, cleared, escalated to block, de-escalated
to review) and counts them by signal family: the family of each reason of the verdict that
explains the change (the candidate's for a new or stronger flag, the active one's for a removed
or weaker one). Behind ``detector model diff`` and ``detector rules diff``.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pandas as pd

from detector.decide.policy import RANK
from detector.settings import Settings

#: Feature prefix -> signal family (``docs/features.md``); rules are named ``<family>_...``.
FEATURE_FAMILIES = {"vol": "volume", "tim": "timing", "div": "diversity", "hv": "harvest",
                    "cov": "coverage", "inf": "infra", "rel": "release", "clu": "cluster"}
RULE_FAMILIES = frozenset({"volume", "timing", "diversity", "harvest", "coverage", "infra",
                           "release", "cluster"})
#: Source markers of the policy -> family.
SOURCE_FAMILIES = {"model": "model", "model_block_capped": "model",
                   "model_block_thin_evidence": "model", "cluster_escalation": "cluster",
                   "corroborated_block": "corroboration",
                   "campaign": "cluster", "allowlisted": "allowlist",
                   "returning_actor": "returning", "relay_stream_harvest": "model",
                   "relay_end_user_harvest": "model", "relay_profile_harvest": "model",
                   "model_block_rerun": "model", "near_fleet": "cluster"}
CHANGES = ("newly_flagged", "cleared", "escalated", "deescalated")
KEEP = ("account_id", "date", "decision", "score", "risk", "reasons")


def signal_family(reason: str) -> str:
    """The signal family of one ``reasons`` entry (a rule name, a feature, a source marker)."""
    if reason in SOURCE_FAMILIES:
        return SOURCE_FAMILIES[reason]
    name = reason.removeprefix("w7_")
    head = name.split("_", 1)[0]
    if head in FEATURE_FAMILIES:
        return FEATURE_FAMILIES[head]
    if head in RULE_FAMILIES:
        return head
    return "other"


def families(reasons: str | None) -> list[str]:
    """Distinct families of a ``;``-separated reasons text, in first-seen order."""
    out: list[str] = []
    for r in _text(reasons).split(";"):
        if r and (f := signal_family(r)) not in out:
            out.append(f)
    return out or ["model"]


def _text(v: Any) -> str:
    return v if isinstance(v, str) else ""


def shadow_days(settings: Settings, days: int | None = 7,
                dates: list[str] | None = None) -> list[str]:
    """``dates`` when given, else the last ``days`` evaluated days (they have stored features)."""
    from detector.errors import InputError
    from detector.verdicts import evaluated_dates, root

    known = evaluated_dates(settings)
    if dates:
        missing = sorted(set(dates) - set(known))
        if missing:
            raise InputError(f"--date {', '.join(missing)}: not an evaluated day (evaluated: "
                             f"{', '.join(known) or 'none'}; run `detector run` first)")
        return sorted(set(dates))
    if not known:
        raise InputError(f"no verdicts under {root(settings)}: run `detector run` first")
    return known[-days:] if days else known


def score_side_by_side(settings: Settings, dates: list[str], candidate_model: tuple | None = None,
                       candidate_rules=None, active_rules=None
                       ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(active, candidate) verdict rows for ``dates``, scored from the same stored features.

    The candidate side uses ``candidate_model`` (model, card) and/or ``candidate_rules``; what
    is not given is the active one (``active_rules``: default the rules in force)."""
    from detector.decide.scoring import score_frame
    from detector.features.assemble import account_features
    from detector.lake.db import connect

    con = connect(settings)
    try:
        view = account_features(con, settings, dates)
        active = score_frame(settings, con, view, ruleset=active_rules)
        candidate = score_frame(settings, con, view, model_card=candidate_model,
                                ruleset=(candidate_rules if candidate_rules is not None
                                         else active_rules))
    finally:
        con.close()
    return active, candidate


def _change(before: str, after: str) -> str | None:
    b, a = RANK[before], RANK[after]
    if b == a:
        return None
    if b == 0:
        return "newly_flagged"
    if a == 0:
        return "cleared"
    return "escalated" if a > b else "deescalated"


def diff_verdicts(active: pd.DataFrame, candidate: pd.DataFrame, limit: int = 500
                  ) -> dict[str, Any]:
    """Decision changes from ``active`` to ``candidate`` (verdict rows of the same account-days).

    ``{account_days, accounts, decisions: {active, candidate}, changes: {kind: n},
    changed_accounts: {kind: n}, by_family: {kind: {family: n}}, rows: {kind: [...]}}``; each
    kind's rows are sorted by the deciding side's risk (then score), at most ``limit`` each.
    """
    a = active[[c for c in KEEP if c in active.columns]].copy()
    c = candidate[[k for k in KEEP if k in candidate.columns]].copy()
    for f in (a, c):
        f["date"] = pd.to_datetime(f["date"]).dt.strftime("%Y-%m-%d")
    m = a.merge(c, on=["account_id", "date"], how="outer", suffixes=("_active", "_candidate"))
    for side in ("active", "candidate"):
        m[f"decision_{side}"] = m[f"decision_{side}"].fillna("allow")
    m["change"] = [_change(x, y) for x, y in zip(m["decision_active"], m["decision_candidate"],
                                                 strict=True)]
    changed = m[m["change"].notna()].copy()
    side = changed["change"].isin(["newly_flagged", "escalated"]).map(
        {True: "candidate", False: "active"})
    changed["families"] = [families(r[f"reasons_{s}"]) for (_, r), s in
                           zip(changed.iterrows(), side, strict=True)]
    changed["_risk"] = [r.get(f"risk_{s}") for (_, r), s in zip(changed.iterrows(), side,
                                                                strict=True)]
    changed["_score"] = [r.get(f"score_{s}") for (_, r), s in zip(changed.iterrows(), side,
                                                                  strict=True)]
    out: dict[str, Any] = {
        "account_days": int(len(m)), "accounts": int(m["account_id"].nunique()),
        "decisions": {s: {d: int((m[f"decision_{s}"] == d).sum()) for d in RANK}
                      for s in ("active", "candidate")},
        "changes": {}, "changed_accounts": {}, "by_family": {}, "rows": {},
    }
    for kind in CHANGES:
        rows = changed[changed["change"] == kind].sort_values(
            ["_risk", "_score", "account_id"], ascending=[False, False, True], na_position="last")
        out["changes"][kind] = int(len(rows))
        out["changed_accounts"][kind] = int(rows["account_id"].nunique())
        counts = Counter(f for fams in rows["families"] for f in fams)
        out["by_family"][kind] = dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
        out["rows"][kind] = [_row(r) for _, r in rows.head(limit).iterrows()]
    return out


def _num(v: Any) -> float | None:
    return None if v is None or pd.isna(v) else round(float(v), 4)


def _row(r: pd.Series) -> dict[str, Any]:
    return {"account_id": r["account_id"], "date": r["date"],
            "active": {"decision": r["decision_active"], "score": _num(r.get("score_active")),
                       "risk": _num(r.get("risk_active")),
                       "reasons": _text(r.get("reasons_active"))},
            "candidate": {"decision": r["decision_candidate"],
                          "score": _num(r.get("score_candidate")),
                          "risk": _num(r.get("risk_candidate")),
                          "reasons": _text(r.get("reasons_candidate"))},
            "families": list(r["families"])}


def summary_lines(diff: dict[str, Any]) -> list[str]:
    """A few lines for a person: what changes, by family."""
    lines = [f"{diff['account_days']} account-days ({diff['accounts']} accounts) over "
             f"{', '.join(diff['dates'])}" if diff.get("dates") else
             f"{diff['account_days']} account-days ({diff['accounts']} accounts)"]
    for s in ("active", "candidate"):
        d = diff["decisions"][s]
        lines.append(f"  {s:<9} allow {d['allow']}  review {d['review']}  block {d['block']}")
    for kind in CHANGES:
        n = diff["changes"][kind]
        fam = ", ".join(f"{k} {v}" for k, v in diff["by_family"][kind].items()) or "-"
        lines.append(f"  {kind.replace('_', ' '):<14} {n:>5} account-days "
                     f"({diff['changed_accounts'][kind]} accounts); by family: {fam}")
    return lines


def run_diff(settings: Settings, dates: list[str], label: dict[str, Any], out=None,
             candidate_model: tuple | None = None, candidate_rules=None, active_rules=None,
             ) -> tuple[dict[str, Any], Any]:
    """Score ``dates`` both ways, diff, write the JSON file; returns (diff, path).

    ``label``: what is compared (kind, active and candidate versions or rule-set hashes), stored
    at the top of the file. Default file: ``<home>/reports/shadow/<kind>-<candidate>-<last day>.json``.
    """
    import json
    from pathlib import Path

    from detector.lake.io import write_text_atomic

    active, candidate = score_side_by_side(settings, dates, candidate_model, candidate_rules,
                                           active_rules)
    diff = {**label, "dates": dates, **diff_verdicts(active, candidate)}
    if out is None:
        tag = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in str(label["candidate"]))
        out = settings.reports_dir / "shadow" / f"{label['kind']}-{tag[:40]}-{dates[-1]}.json"
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out, json.dumps(diff, indent=2, default=str) + "\n")
    return diff, out
