"""Which feature columns a rule may name.

The feature catalog (``detector.features.catalog.known_columns()``) is the authority. When it
cannot be imported (a stripped-down install, or early in development) the fallback accepts any
name with a known family prefix, optionally behind the 7-day window prefix ``w7_``.
"""

from __future__ import annotations

import re
from collections.abc import Container, Iterable

PREFIXES = ("vol_", "tim_", "div_", "hv_", "inf_", "rel_", "cov_", "clu_")
OPTIONAL_PREFIXES = ("cov_", "clu_", "w7_cov_", "w7_clu_")
_PATTERN = re.compile(r"^(w7_)?(vol|tim|div|hv|inf|rel|cov|clu)_[a-z0-9_]+$")


class PrefixColumns(Container[str]):
    """Any lower-case name with a feature-family prefix (the fallback when no catalog exists)."""

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and bool(_PATTERN.match(name))

    def __repr__(self) -> str:
        return "PrefixColumns()"


KEY_COLUMNS = ("account_id", "date")


class CatalogColumns(Container[str]):
    """The catalog's feature columns plus the optional stages' ``cov_*`` / ``clu_*`` columns
    (whose names the catalog does not enumerate); never the keys ``account_id`` / ``date``."""

    def __init__(self, names: set[str]) -> None:
        self.names = {n for n in names if n not in KEY_COLUMNS}

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        if name in self.names:
            return True
        return name.startswith(OPTIONAL_PREFIXES) and bool(_PATTERN.match(name))

    def __repr__(self) -> str:
        return f"CatalogColumns({len(self.names)} names)"


def catalog_columns() -> set[str]:
    """The feature catalog's column names."""
    from detector.features.catalog import known_columns  # numpy/pandas: only when validating

    return set(known_columns())


def default_known_columns() -> Container[str]:
    """The catalog's columns (plus cov_/clu_)."""
    return CatalogColumns(catalog_columns())


def as_container(columns: Iterable[str] | Container[str] | None) -> Container[str]:
    """Normalise a caller's ``known_columns`` argument."""
    if columns is None:
        return default_known_columns()
    if isinstance(columns, PrefixColumns | CatalogColumns | set | frozenset):
        return columns
    return set(columns)  # type: ignore[arg-type]
