"""The column registry: every lake, feature, coverage, cluster and verdict column, declared once.

Each :class:`Column` has its family, type, unit, direction (which way is more suspicious), a
short label and one-sentence meaning and why. The feature catalog's docs, rule validation, the
classifier's volume exclusions, pages and plots read it; nothing declares columns beside it.

This package imports nothing from other ``detector`` packages (the bottom layer).

- :func:`column` ``(name) -> Column``: also resolves ``w7_<name>`` for window columns; raises
  :class:`UnknownColumn` (a KeyError naming up to 3 close matches).
- :func:`columns` ``(family=None) -> list[Column]`` in registry order; :func:`is_known`.
- :func:`format_value` ``(name, value) -> str``; :func:`family_label` ``(code) -> str``.
"""

from __future__ import annotations

from dataclasses import replace
from functools import cache
from typing import Any

from detector.columns import coverage, features, history, lake, verdict
from detector.columns.cluster import CLUSTER
from detector.columns.model import (
    DIRECTIONS,
    FAMILIES,
    WINDOW_PREFIX,
    WINDOW_SUFFIX,
    Column,
    UnknownColumn,
    close_matches,
    did_you_mean,
)
from detector.columns.render import format_column_value

__all__ = [
    "DIRECTIONS", "FAMILIES", "FEATURE_FAMILIES", "Column", "UnknownColumn", "close_matches",
    "column", "columns", "daily_names", "did_you_mean", "family_label", "feature_view_names",
    "format_value", "history_names", "is_known", "names", "suggest", "volume_names",
    "weekly_names",
]

#: Families whose columns make up the ``account_features`` view (with ``cluster_id``).
FEATURE_FAMILIES = ("vol", "tim", "div", "hv", "inf", "rel", "hist", "cov", "clu")

_REGISTRY: tuple[Column, ...] = tuple(
    verdict.KEYS + features.ALL + history.HISTORY + coverage.COVERAGE + CLUSTER + verdict.VERDICT
    + lake.LAKE)
_BY_NAME: dict[str, Column] = {c.name: c for c in _REGISTRY}


def _check() -> None:
    if len(_BY_NAME) != len(_REGISTRY):
        seen: set[str] = set()
        dup = sorted({c.name for c in _REGISTRY if c.name in seen or seen.add(c.name)})
        raise ValueError(f"detector.columns: columns declared twice: {dup}")
    for c in _REGISTRY:
        if c.family not in FAMILIES or c.direction not in DIRECTIONS:
            raise ValueError(f"detector.columns: column {c.name!r} has family {c.family!r} / "
                             f"direction {c.direction!r}; expected one of {list(FAMILIES)} / "
                             f"{list(DIRECTIONS)}")


_check()


def _window(base: Column) -> Column:
    return replace(base, name=WINDOW_PREFIX + base.name, label=base.label + WINDOW_SUFFIX)


@cache
def _all_names() -> tuple[str, ...]:
    out = []
    for c in _REGISTRY:
        out.append(c.name)
        if c.window:
            out.append(WINDOW_PREFIX + c.name)
    return tuple(out)


def column(name: str) -> Column:
    """The registry entry of ``name``; ``w7_<name>`` resolves for window columns (its label
    ends " (7 days)"). Raises UnknownColumn naming up to 3 close matches."""
    found = _BY_NAME.get(name)
    if found is not None:
        return found
    if isinstance(name, str) and name.startswith(WINDOW_PREFIX):
        base = _BY_NAME.get(name[len(WINDOW_PREFIX):])
        if base is not None and base.window:
            return _window(base)
    raise UnknownColumn(name, suggest(name))


def is_known(name: str) -> bool:
    """True when :func:`column` resolves ``name``."""
    try:
        column(name)
    except UnknownColumn:
        return False
    return True


def suggest(name: str, among: tuple[str, ...] | list[str] | None = None) -> list[str]:
    """Up to 3 known names closest to ``name`` (of ``among``, default every known name)."""
    return close_matches(name, _all_names() if among is None else among)


def columns(family: str | None = None) -> list[Column]:
    """Registry entries in registry order (base names; window columns once), all or one
    family's. Raises KeyError for a family code that does not exist."""
    if family is None:
        return list(_REGISTRY)
    if family not in FAMILIES:
        raise KeyError(f"column family {family!r}: expected one of {list(FAMILIES)}")
    return [c for c in _REGISTRY if c.family == family]


def names(families: tuple[str, ...] | None = None, *, window: bool = True) -> list[str]:
    """Every resolvable name of ``families`` (default all), each window column followed by its
    ``w7_`` name when ``window``."""
    out = []
    for c in _REGISTRY:
        if families is None or c.family in families:
            out.append(c.name)
            if window and c.window:
                out.append(WINDOW_PREFIX + c.name)
    return out


def daily_names() -> list[str]:
    """Columns of ``features/daily`` in stored order."""
    return [c.name for c in features.DAILY]


def weekly_names() -> list[str]:
    """Columns of ``features/weekly`` in stored order (``w7_days_active`` last)."""
    return [WINDOW_PREFIX + c.name for c in features.DAILY if c.window] + ["w7_days_active"]


def history_names() -> list[str]:
    """Columns of ``features/history`` in stored order."""
    return [c.name for c in history.HISTORY]


def feature_view_names() -> list[str]:
    """Every column the ``account_features`` view can hold besides its keys: daily, weekly,
    history, coverage and cluster columns (what a rule condition may name)."""
    return names(FEATURE_FAMILIES)


def volume_names() -> tuple[str, ...]:
    """Columns that grow with an account's volume alone (``volume=True``, with their ``w7_``
    names): never classifier inputs."""
    return tuple(n for n in names() if column(n).volume)


def family_label(code: str) -> str:
    """Words for a family code ("hv" -> "output harvesting"); KeyError names the known codes."""
    try:
        return FAMILIES[code]
    except KeyError:
        raise KeyError(f"column family {code!r}: expected one of {list(FAMILIES)}") from None


def format_value(name: str, value: Any) -> str:
    """``value`` of column ``name`` for a person (see :func:`render.format_column_value`);
    an unknown name raises UnknownColumn."""
    return format_column_value(column(name), value)
