"""The delivery worker: the outbox delivered continuously, with retries on their own schedule.

It runs inside ``detector serve`` (a daemon thread started and stopped with the app's
lifespan, setting ``hooks_worker``, default on) and as ``detector hooks worker`` for a separate
process; any number of workers (and ``run``/``daily``/``hooks deliver``) may run against one
home: deliveries are claimed with leases (``detector.hooks.delivery``).

Each cycle re-reads ``detector.toml`` (a new endpoint is picked up without a restart and gets
the events enqueued since the file changed), makes one bounded delivery pass, then sleeps until
the earliest retry is due (exponential backoff with equal jitter, per delivery) or
``hooks_poll_s`` has passed (events enqueued by other processes), whichever comes first.
:meth:`DeliveryWorker.kick` wakes it at once (the service kicks it after each change to the
case store, so an analyst decision leaves within milliseconds).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from detector.hooks.delivery import DeliveryPolicy, DeliveryReport, deliver, next_due
from detector.settings import Settings, load_settings

log = logging.getLogger(__name__)


def policy_from(settings: Settings) -> DeliveryPolicy:
    """The retry policy of the ``hooks_*`` settings."""
    timeout = float(settings.hooks_timeout_s)
    connect = min(5.0, timeout)
    return DeliveryPolicy(max_attempts=int(settings.hooks_max_attempts),
                          backoff_base_s=float(settings.hooks_backoff_base_s),
                          backoff_cap_s=float(settings.hooks_backoff_cap_s),
                          connect_timeout_s=connect, timeout_s=timeout,
                          lease_s=2 * (connect + timeout) + 1.0,
                          pass_budget_s=max(60.0, 4 * (connect + timeout)))


class DeliveryWorker:
    """Delivers the outbox of one home until stopped. ``clock`` is injectable (tests)."""

    def __init__(self, home: Path | str, settings: Settings | None = None,
                 reload_settings: bool = True, clock: Callable[[], float] = time.time) -> None:
        self.home = Path(home)
        self.settings = settings or load_settings(self.home)
        self.reload_settings = reload_settings
        self.clock = clock
        self.passes = 0
        self.errors = 0
        self.totals = DeliveryReport()
        self._stop = threading.Event()
        self._kick = threading.Event()
        self._thread: threading.Thread | None = None

    # --- one cycle -------------------------------------------------------------------------
    def run_once(self) -> float:
        """One pass; returns how long to sleep before the next one."""
        if self.reload_settings:
            try:
                self.settings = load_settings(self.home)
            except Exception:  # a half-written detector.toml: keep the previous settings
                log.warning("hooks worker: detector.toml unreadable, keeping the previous "
                            "settings", exc_info=True)
        poll = float(self.settings.hooks_poll_s)
        if not self.settings.hooks:
            return poll
        report = deliver(self.settings, policy_from(self.settings), clock=self.clock)
        self.passes += 1
        for key in ("delivered", "failed", "dead", "deferred"):
            setattr(self.totals, key, getattr(self.totals, key) + getattr(report, key))
        self.totals.pending = report.pending
        due = next_due(self.settings)
        if due is None:
            return poll
        return min(poll, max(0.0, due - self.clock()) + 0.01)

    def run(self) -> None:
        """Cycles until :meth:`stop`; an error is logged and retried after ``hooks_poll_s``."""
        while not self._stop.is_set():
            try:
                wait = self.run_once()
            except Exception:
                self.errors += 1
                log.exception("hooks worker: delivery pass failed; retrying")
                wait = float(self.settings.hooks_poll_s)
            self._kick.wait(wait)
            self._kick.clear()

    # --- as a thread -----------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self.run, name="hooks-worker", daemon=True)
            self._thread.start()

    def kick(self) -> None:
        """Run the next pass now (e.g. an analyst decision was just enqueued)."""
        self._kick.set()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._kick.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
