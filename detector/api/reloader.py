"""In-memory snapshots that a daemon thread refreshes from disk (verdict index, overrides)."""

from __future__ import annotations

import threading
from collections.abc import Callable


class Reloader:
    """Holds a snapshot; ``refresh()`` swaps in a new one when its source changed, and a daemon
    thread calls it every ``check_every_s`` seconds between ``start()`` and ``stop()``.
    Subclasses implement ``refresh`` and call ``_notify()`` after each swap."""

    thread_name = "reloader"

    def __init__(self, check_every_s: float) -> None:
        self.check_every_s = check_every_s
        self.listeners: list[Callable[[], None]] = []  # called after each reload
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def refresh(self, force: bool = False) -> bool:
        raise NotImplementedError

    def _notify(self) -> None:
        for listener in self.listeners:
            listener()

    def _tick(self) -> None:
        self.refresh()

    def start(self) -> None:
        """Load once now, then watch in the background."""
        self.refresh(force=True)
        if self._thread is None:
            self._thread = threading.Thread(target=self._watch, name=self.thread_name, daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _watch(self) -> None:
        while not self._stop.wait(self.check_every_s):
            self._tick()
