"""Everything the running service holds: settings, case store, verdict index, overrides, keys,
metrics and a shared DuckDB connection over the lake for the evidence pages."""

from __future__ import annotations

import threading
import time
from typing import Any

import duckdb

from detector import verdicts as verdict_store
from detector.api.auth import KeyRing
from detector.api.metrics import Metrics
from detector.api.overrides import OverridesHolder, apply_overrides
from detector.api.verdict_index import DECISION_CODES, VerdictIndexHolder
from detector.cases import CaseStore
from detector.hooks import outbox
from detector.lake.db import register_parquet_view, silence
from detector.settings import Settings

#: optional per-account feature tables joined on (account_id, date) for the account page
FEATURE_TABLES = {"features_daily": "daily", "features_coverage": "coverage",
                  "features_cluster": "cluster", "features_weekly": "weekly"}


class Service:
    """State of one running API (``start`` loads and starts watchers, ``stop`` ends them)."""

    def __init__(self, settings: Settings, check_every_s: float = 2.0) -> None:
        settings.ensure_dirs()
        self.settings = settings
        self.store = CaseStore(settings, outbox=outbox)  # decisions announce their events
        self.verdicts = VerdictIndexHolder(verdict_store.root(settings), check_every_s,
                                           sticky_blocks=True,
                                           block_expiry_days=settings.block_expiry_days)
        self.overrides = OverridesHolder(self.store, check_every_s, self.org_members)
        self.keys = KeyRing(self.store, settings)
        self.overrides.listeners.append(self.keys.reload)
        # new verdicts usually mean new lake data: re-resolve allow-listed orgs' accounts
        self.verdicts.listeners.append(self._refresh_orgs)
        self.metrics = Metrics()
        self.hooks_worker = None
        if settings.hooks_worker:
            from detector.hooks.worker import DeliveryWorker

            self.hooks_worker = DeliveryWorker(settings.home, settings)
            # a change to the case store (an analyst decision) may have enqueued an event
            self.overrides.listeners.append(self.hooks_worker.kick)
        self._lake: duckdb.DuckDBPyConnection | None = None
        self._lake_key: tuple = ()
        self._lake_lock = threading.Lock()
        self._register_gauges()

    def start(self) -> None:
        self.verdicts.start()
        self.overrides.start()
        self.keys.reload()
        if self.hooks_worker is not None:
            self.hooks_worker.start()

    def stop(self) -> None:
        self.verdicts.stop()
        self.overrides.stop()
        if self.hooks_worker is not None:
            self.hooks_worker.stop()

    # --- lookups -------------------------------------------------------------------------
    def verdict(self, account_id: str) -> dict[str, Any]:
        """The gateway answer for one account (latest verdict + human overrides + ttl)."""
        base = self.verdicts.index.get(account_id)
        out = apply_overrides(account_id, base, self.overrides.current,
                              self.settings.verdict_ttl_s)
        self.metrics.inc("dg_verdict_lookups_total", decision=out["decision"])
        return out

    def lake(self) -> duckdb.DuckDBPyConnection:
        """A cursor on a shared DuckDB connection with the lake views plus the feature tables
        (rebuilt when the verdict files change, or after 60 s, so new files are seen)."""
        key = (self.verdicts.index.signature, int(time.time() // 60))
        with self._lake_lock:
            if self._lake is None or key != self._lake_key:
                con = verdict_store.connect(self.settings)
                for view, sub in FEATURE_TABLES.items():
                    register_parquet_view(con, view, self.settings.features_dir / sub)
                register_parquet_view(con, "features_percentiles",
                                      self.settings.features_dir / "percentiles")
                self._lake, self._lake_key = con, key
            cur = self._lake.cursor()
        silence(cur)
        return cur

    def _refresh_orgs(self) -> None:
        if self.overrides.current.allow_orgs:
            self.overrides.refresh(force=True)

    def org_members(self, orgs: set[str], max_days: int = 30) -> dict[str, str]:
        """account_id -> org_id for the accounts the lake shows in ``orgs`` (recent days)."""
        con = self.lake()
        try:
            names = {r[0] for r in con.execute("DESCRIBE requests").fetchall()}
            if "org_id" not in names:
                return {}
            marks = ", ".join("?" for _ in orgs)
            rows = con.execute(
                f"SELECT account_id, any_value(org_id) FROM requests WHERE org_id IN ({marks}) "
                "AND date >= (SELECT max(date) FROM requests) - CAST(? AS INTEGER) "
                "GROUP BY account_id", [*sorted(orgs), max_days]).fetchall()
        except duckdb.Error:
            return {}
        return {a: o for a, o in rows if a is not None}

    # --- metrics -------------------------------------------------------------------------
    def _register_gauges(self) -> None:
        m = self.metrics
        m.gauge("dg_verdict_index_accounts", "Accounts with a verdict loaded.",
                lambda: [({}, float(len(self.verdicts.index)))])
        m.gauge("dg_verdict_index_reloads", "Verdict index reloads since start.",
                lambda: [({}, float(self.verdicts.reloads))])
        m.gauge("dg_verdict_index_reload_errors", "Failed verdict index reloads since start.",
                lambda: [({}, float(self.verdicts.errors))])
        m.gauge("dg_verdict_index_load_seconds", "Time the last verdict index load took.",
                lambda: [({}, self.verdicts.index.load_seconds)])
        m.gauge("dg_verdict_index_loaded_at_seconds", "When the verdict index was loaded (unix).",
                lambda: [({}, self.verdicts.index.loaded_at)])
        m.gauge("dg_verdicts_by_decision", "Loaded latest verdicts by model decision.",
                self._by_decision)
        m.gauge("dg_cases_change_counter", "Case store change counter (audit rows).",
                lambda: [({}, float(self.overrides.current.version))])

    def _by_decision(self) -> list[tuple[dict, float]]:
        codes = self.verdicts.index.decision
        return [({"decision": d}, float((codes == i).sum())) for i, d in enumerate(DECISION_CODES)]
