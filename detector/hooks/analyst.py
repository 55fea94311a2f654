"""Structured reasons for analyst decision events.

The case store assembles an analyst decision's payload (it sits below ``decide`` and cannot
render reasons): the verdict's ``reasons`` codes and ``verdict_date``. :func:`enqueue
<detector.hooks.outbox.enqueue>` adds ``reasons_structured`` here, in the hooks (an output
layer), with the same renderer and schema (``reason/1``) as the batch events: the verdict's
``explanation_json`` gives the model features their values, percentiles and medians, the rule
set in force the rules' titles.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from detector.decide.reasons import default_rule_words, structured_reasons
from detector.verdicts import verdict_for


def home_of(conn: sqlite3.Connection) -> Path | None:
    """The home folder of the case database ``conn`` is open on (``<home>/state/cases.sqlite``),
    or None for an in-memory database."""
    for _, name, file in conn.execute("PRAGMA database_list").fetchall():
        if name == "main" and file:
            return Path(file).parent.parent
    return None


def analyst_reasons(conn: sqlite3.Connection, payload: dict[str, Any],
                    explanation: str | None = None) -> list[dict[str, Any]]:
    """``reasons_structured`` of an analyst event: its ``reasons`` rendered with the
    explanation of the verdict it is about (``verdict_date``): ``explanation`` when the caller
    has read that verdict, else read here; without a readable verdict the rule and policy
    reasons still read as words and features as their labels."""
    reasons = [str(r) for r in payload.get("reasons") or [] if r]
    if not reasons:
        return []
    home, day = home_of(conn), payload.get("verdict_date")
    if explanation is None and home is not None and day:
        try:
            row = verdict_for(home, str(payload["account_id"]), str(day)) or {}
        except Exception:  # evidence is a courtesy: never block the decision on it
            row = {}
        if row.get("verdict_date") == day:
            explanation = row.get("explanation_json")
    return structured_reasons(reasons, explanation, rules=default_rule_words())
