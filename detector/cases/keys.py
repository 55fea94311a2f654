"""API key format and hashing. A key is ``dg_<key_id>_<secret>``: the id (8 hex characters)
names it in listings and revocation; only the sha256 of the whole key is ever stored.
Keys are 160+ bits of randomness, so a fast hash is enough (no password stretching needed).
"""

from __future__ import annotations

import hashlib
import secrets

PREFIX = "dg_"


def new_key() -> tuple[str, str]:
    """A fresh (key_id, key)."""
    key_id = secrets.token_hex(4)
    return key_id, f"{PREFIX}{key_id}_{secrets.token_urlsafe(24)}"


def digest(key: str) -> str:
    """Hex sha256 of a key (what the store keeps)."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def key_id_of(key: str) -> str | None:
    """The id part of a well-formed key, else None."""
    if not key.startswith(PREFIX):
        return None
    rest = key[len(PREFIX):]
    key_id, sep, _ = rest.partition("_")
    return key_id if sep and key_id else None
