"""Phrase lexicons under ``rules/lexicons/`` that features read (one phrase a line, '#' comments)."""

from __future__ import annotations

import re
from functools import cache

from detector.errors import ConfigError
from detector.resources import lexicon_dir

LEXICON_DIR = lexicon_dir()


@cache
def load_phrases(name: str) -> tuple[str, ...]:
    """Lower-cased phrases of ``rules/lexicons/<name>.txt``, in file order, without duplicates."""
    path = LEXICON_DIR / f"{name}.txt"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"lexicon {path}: cannot be read ({exc.strerror})") from None
    out: dict[str, None] = {}
    for line in text.splitlines():
        phrase = line.strip().lower()
        if phrase and not phrase.startswith("#"):
            out[phrase] = None
    if not out:
        raise ConfigError(f"lexicon {path}: no phrases")
    return tuple(out)


def alternation(phrases: tuple[str, ...]) -> str:
    """A regex matching any phrase literally; only escapes shared by RE2 and Java regex."""
    return "|".join(_escape(p) for p in phrases)


def _escape(phrase: str) -> str:
    return "".join("\\" + ch if ch in r".^$*+?()[]{}|\/" else ch for ch in phrase)


def matches_any(text: str, phrases: tuple[str, ...]) -> bool:
    """Python reference of the SQL match (used in tests and for local checks)."""
    return re.search(alternation(phrases), text.lower()) is not None
