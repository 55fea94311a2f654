"""The registry's record (:class:`Column`), its family codes and the unknown-column error."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass

#: Family code -> words. Codes are the column-name prefixes of the feature families
#: (``hv_output_input_ratio`` is in ``hv``); ``key``, ``verdict`` and ``lake`` hold the
#: columns that are not features.
FAMILIES: dict[str, str] = {
    "vol": "volume",
    "tim": "timing",
    "div": "prompt diversity",
    "hv": "output harvesting",
    "inf": "infrastructure",
    "rel": "model-release behaviour",
    "hist": "the account against its own history",
    "cov": "topic coverage",
    "clu": "cluster",
    "key": "row key",
    "verdict": "verdict",
    "lake": "request lake",
}

DIRECTIONS = (None, "higher", "lower")
#: Prefix of the 7-day window columns (``w7_<name>``).
WINDOW_PREFIX = "w7_"
WINDOW_SUFFIX = " (7 days)"


@dataclass(frozen=True)
class Column:
    """One column of the lake, the feature view or the verdicts.

    ``direction`` says which way is more suspicious (None: neutral or context); ``window``: the
    column also exists as ``w7_<name>``; ``volume``: it grows with the account's volume alone,
    so the classifier never takes it.
    """

    name: str
    family: str
    dtype: str
    unit: str
    direction: str | None
    label: str
    meaning: str
    why: str
    window: bool = False
    volume: bool = False

    @property
    def family_label(self) -> str:
        return FAMILIES[self.family]


class UnknownColumn(KeyError):
    """A column name the registry does not hold; the message names up to 3 close matches."""

    def __init__(self, name: str, matches: Iterable[str] = ()) -> None:
        self.name = name
        self.matches = list(matches)
        super().__init__(name)

    def __str__(self) -> str:
        hint = did_you_mean(self.matches)
        return f"unknown column {self.name!r}" + (f" ({hint})" if hint else "")


def close_matches(name: str, names: Iterable[str], n: int = 3) -> list[str]:
    """Up to ``n`` names of ``names`` closest to ``name`` (difflib, best first); when none is
    close, the loosely similar ones of the same family prefix (``cov_typo`` -> ``cov_topics_hit``)."""
    name, pool = str(name), list(names)
    found = difflib.get_close_matches(name, pool, n=n, cutoff=0.6)
    if found:
        return found
    prefix = name.split("_", 2)[1] if name.startswith(WINDOW_PREFIX) else name.split("_", 1)[0]
    same = [p for p in pool if p.removeprefix(WINDOW_PREFIX).startswith(prefix + "_")]
    return difflib.get_close_matches(name, same, n=n, cutoff=0.3)


def did_you_mean(matches: list[str]) -> str:
    """``"did you mean 'a', 'b'?"`` or "" when there is nothing close."""
    return "did you mean " + ", ".join(repr(m) for m in matches) + "?" if matches else ""
