"""The lake's hash columns, defined once: ``prompt_hash`` and ``system_hash`` of
:data:`detector.lake.schema.REQUEST_SCHEMA` (ingest writes them; clusters and features compare
them). The compiled scanner and the ingest fast path compute the same values faster; their tests
hold them to these definitions.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache


@lru_cache(maxsize=1 << 16)
def text_hash(text: str) -> str:
    """Hex blake2b-64 of ``text`` (``system_hash``)."""
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()


def prompt_hash(text: str) -> str:
    """Hex blake2b-64 of the whitespace-collapsed, lower-cased ``text`` (``prompt_hash``)."""
    canon = " ".join(text.lower().split())
    return hashlib.blake2b(canon.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()


#: ``prompt_hash`` of every prompt that is empty once whitespace is collapsed.
EMPTY_PROMPT_HASH = prompt_hash("")
