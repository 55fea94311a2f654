"""Which feature columns a rule may name: the columns of the ``account_features`` view as the
column registry (:mod:`detector.columns`) declares them - daily, ``w7_``, ``hist_``, ``cov_``,
``clu_`` and ``cluster_id``; never the keys ``account_id`` / ``date``. An unknown name (a typo in
``cov_*`` / ``clu_*`` included) fails validation with the closest known names.
"""

from __future__ import annotations

from collections.abc import Collection, Container, Iterable

import detector.columns as registry

KEY_COLUMNS = ("account_id", "date")


class RegistryColumns(Container[str]):
    """The registry's feature-view columns (or ``names``, a subset for tests)."""

    def __init__(self, names: Iterable[str] | None = None) -> None:
        source = registry.feature_view_names() if names is None else names
        self.names = frozenset(n for n in source if n not in KEY_COLUMNS)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self.names

    def suggest(self, name: str) -> list[str]:
        """Up to 3 known names closest to ``name``."""
        return registry.suggest(name, sorted(self.names))

    def __repr__(self) -> str:
        return f"RegistryColumns({len(self.names)} names)"


def default_known_columns() -> Container[str]:
    """The registry's feature-view columns."""
    return RegistryColumns()


def as_container(columns: Iterable[str] | Container[str] | None) -> Container[str]:
    """Normalise a caller's ``known_columns`` argument."""
    if columns is None:
        return default_known_columns()
    if isinstance(columns, RegistryColumns | set | frozenset):
        return columns
    return set(columns)  # type: ignore[arg-type]


def did_you_mean(name: str, known: Container[str]) -> str:
    """``"did you mean 'a', 'b'?"`` for the names of ``known`` closest to ``name`` ("" when
    none is close or ``known`` cannot be listed)."""
    if isinstance(known, RegistryColumns):
        matches = known.suggest(name)
    elif isinstance(known, Collection):
        matches = registry.suggest(name, sorted(str(k) for k in known if k not in KEY_COLUMNS))
    else:
        matches = []
    return registry.did_you_mean(matches)
