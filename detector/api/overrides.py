"""Human overrides of model verdicts (allow-list entries, analyst decisions), cached in memory
and refreshed when the case store changes, plus the rule that combines them with a verdict.

Precedence for one account, newest human action first:
- an active allow-list entry (account or its organisation) -> ``allow``, reason ``allowlisted``;
- ``confirm-block`` -> ``block`` (sticky until a later decision or allow-list entry);
- ``clear`` -> ``allow`` for verdicts dated on or before the decision's date; a later
  review/block verdict is new evidence and stands (reason ``previously_cleared`` added);
- ``escalate`` -> at least ``review``; ``needs-more-data`` changes nothing.
Between an allow-list entry and a decision, the one created last wins.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from detector.api.reloader import Reloader
from detector.cases import CaseStore
from detector.cases.store import now_iso


@dataclass
class Overrides:
    """Snapshot of the human state the gateway needs. Timestamps are ISO UTC strings."""

    decisions: dict[str, dict[str, Any]] = field(default_factory=dict)
    allow_accounts: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    allow_orgs: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    version: int = -1
    org_of: dict[str, str] = field(default_factory=dict)  # accounts of allow-listed orgs

    @classmethod
    def load(cls, store: CaseStore,
             org_members: Callable[[set[str]], dict[str, str]] | None = None) -> Overrides:
        """Read latest decisions and unrevoked, unexpired allow-list entries; with
        ``org_members``, also which accounts belong to the allow-listed organisations."""
        version = store.version()
        accounts: dict[str, tuple[str, str | None]] = {}
        orgs: dict[str, tuple[str, str | None]] = {}
        for e in reversed(store.allowlist(active_only=True)):  # oldest first: newest wins
            target = accounts if e["account_id"] is not None else orgs
            target[e["account_id"] or e["org_id"]] = (e["created_at"], e["until"])
        org_of = org_members(set(orgs)) if orgs and org_members is not None else {}
        return cls(store.latest_decisions(), accounts, orgs, version, org_of)

    def allow_entry(self, account_id: str, org_id: str | None) -> str | None:
        """created_at of the entry exempting this account now, else None."""
        for table, key in ((self.allow_accounts, account_id), (self.allow_orgs, org_id)):
            if key is None:
                continue
            entry = table.get(key)
            if entry is not None and (entry[1] is None or entry[1] > now_iso()):
                return entry[0]
        return None


def apply_overrides(account_id: str, verdict: dict[str, Any] | None, ov: Overrides,
                    ttl: int) -> dict[str, Any]:
    """The gateway answer: the model verdict (or none) adjusted by human overrides."""
    base = verdict or {"account_id": account_id, "decision": "allow", "score": None,
                       "reasons": [], "cluster_id": None, "org_id": None, "date": None,
                       "model_version": None, "risk": None}
    out = {**base, "reasons": list(base["reasons"]), "model_decision": base["decision"],
           "source": "model" if verdict else "none", "known": verdict is not None, "ttl": ttl}
    out.pop("org_id", None)
    allowed_at = ov.allow_entry(account_id, base.get("org_id") or ov.org_of.get(account_id))
    dec = ov.decisions.get(account_id)
    if allowed_at is not None and (dec is None or allowed_at >= dec["created_at"]):
        out.update(decision="allow", reasons=["allowlisted"], source="allowlist")
        return out
    if dec is None:
        return out
    kind = dec["decision"]
    if kind == "confirm-block":
        out.update(decision="block", reasons=["analyst:confirm-block"], source="analyst")
    elif kind == "clear":
        if out["date"] is None or out["date"] <= (dec["date"] or "") or out["decision"] == "allow":
            out.update(decision="allow", reasons=["analyst:clear"], source="analyst")
        else:
            out["reasons"].append("previously_cleared")
    elif kind == "escalate" and out["decision"] == "allow":
        out.update(decision="review", reasons=[*out["reasons"], "analyst:escalate"],
                   source="analyst")
    return out


class OverridesHolder(Reloader):
    """Current :class:`Overrides`; reloaded when the store's change counter moves (checked at
    most every ``check_every_s`` seconds by a daemon thread, or at once via :meth:`refresh`)."""

    thread_name = "overrides"

    def __init__(self, store: CaseStore, check_every_s: float = 2.0,
                 org_members: Callable[[set[str]], dict[str, str]] | None = None) -> None:
        super().__init__(check_every_s)
        self.store = store
        self.org_members = org_members
        self.current = Overrides()
        self.last_check = 0.0

    def refresh(self, force: bool = False) -> bool:
        """Reload when the store changed; True when a new snapshot was swapped in."""
        with self._lock:
            self.last_check = time.time()
            if not force and self.store.version() == self.current.version:
                return False
            self.current = Overrides.load(self.store, self.org_members)
        self._notify()
        return True

    def _tick(self) -> None:
        with contextlib.suppress(Exception):  # database busy: try again next tick
            self.refresh()
