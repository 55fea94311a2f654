"""API keys at request time: who is calling and with which role.

Keys are looked up by their sha256 in an in-memory copy of the store's active keys, refreshed
at most every ``refresh_s`` seconds when an unknown key is presented (so a key created with
``detector keys create`` works within seconds, and a flood of bad keys costs no database work).
In dev mode only, the home's dev key (``state/dev_key``, created on demand) acts as ``admin``.
"""

from __future__ import annotations

import hmac
import os
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from detector.cases import CaseStore
from detector.cases import keys as keylib
from detector.lake.io import write_text_atomic
from detector.settings import Settings

#: which roles may use each class of route
READ_ROLES = frozenset({"viewer", "analyst", "admin"})
VERDICT_ROLES = frozenset({"hook", "viewer", "analyst", "admin"})
WRITE_ROLES = frozenset({"analyst", "admin"})
ADMIN_ROLES = frozenset({"admin"})
PROMPT_ROLES = frozenset({"analyst", "admin"})


@dataclass(frozen=True)
class Principal:
    """The caller: key id, display name (recorded as the actor of its changes) and role."""

    key_id: str
    name: str
    role: str

    @property
    def sees_prompts(self) -> bool:
        return self.role in PROMPT_ROLES


def dev_key_path(settings: Settings) -> Path:
    return settings.state_dir / "dev_key"


def dev_key(settings: Settings, create: bool = True) -> str | None:
    """The home's dev key (random, per home; only honoured when ``settings.dev_mode``)."""
    path = dev_key_path(settings)
    if path.exists():
        return path.read_text(encoding="utf-8").strip() or None
    if not create:
        return None
    key = f"{keylib.PREFIX}dev_{secrets.token_urlsafe(18)}"
    write_text_atomic(path, key + "\n")
    os.chmod(path, 0o600)
    return key


class KeyRing:
    """Resolves presented keys to principals."""

    def __init__(self, store: CaseStore, settings: Settings, refresh_s: float = 2.0) -> None:
        self.store = store
        self.refresh_s = refresh_s
        self._digests: dict[str, dict] = {}
        self._loaded = 0.0
        self._lock = threading.Lock()
        self._dev_digest = None
        if settings.dev_mode:
            key = dev_key(settings)
            self._dev_digest = keylib.digest(key) if key else None

    def reload(self) -> None:
        with self._lock:
            self._digests = self.store.active_key_digests()
            self._loaded = time.monotonic()

    def count(self) -> int:
        """Number of usable keys (the dev key counts in dev mode)."""
        self.reload()
        return len(self._digests) + (1 if self._dev_digest else 0)

    def resolve(self, key: str | None) -> Principal | None:
        """The principal of ``key``, or None for a missing, unknown or revoked key."""
        if not key or len(key) > 512:
            return None
        d = keylib.digest(key)
        if self._dev_digest is not None and hmac.compare_digest(d, self._dev_digest):
            return Principal("dev", "dev", "admin")
        rec = self._digests.get(d)
        if rec is None and time.monotonic() - self._loaded > self.refresh_s:
            self.reload()
            rec = self._digests.get(d)
        if rec is None:
            return None
        return Principal(rec["key_id"], rec["name"], rec["role"])

    def resolve_session(self, token: str | None) -> Principal | None:
        """The principal of a page session token (the cookie), or None when the session is
        unknown, expired, ended (logout) or its key revoked. One indexed SQLite read: pages
        only, so revoking a key or a session takes effect on the next page."""
        rec = self.store.session(token)
        if rec is None:
            return None
        if rec["role"] is None:  # not a stored key: only the dev key, and only in dev mode
            return Principal("dev", "dev", "admin") if (
                rec["key_id"] == "dev" and self._dev_digest is not None) else None
        return Principal(rec["key_id"], rec["name"], rec["role"])
