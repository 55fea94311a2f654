"""Values as words: unit-aware formatting of one column's value."""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Any

from detector.columns.model import Column

#: Units whose values are fractions of 1, shown as percentages.
FRACTION_UNITS = frozenset({"fraction"})
MISSING = "n/a"


def is_missing(value: Any) -> bool:
    """None, NaN and pandas' NA / NaT (anything that is not equal to itself)."""
    if value is None:
        return True
    try:
        return bool(value != value)
    except (TypeError, ValueError):  # arrays and the like: not a single missing value
        return False


def format_column_value(col: Column, value: Any) -> str:
    """``value`` of ``col`` for a person: fractions as "42%", whole numbers with thousands
    separators, other numbers to 3 significant digits, flags as yes/no, missing as "n/a"."""
    if is_missing(value):
        return MISSING
    if isinstance(value, bool) or col.dtype == "bool":
        return "yes" if bool(value) else "no"
    if isinstance(value, Integral):
        return f"{int(value):,}"
    if isinstance(value, Real):
        v = float(value)
        if math.isinf(v):
            return "∞" if v > 0 else "-∞"
        if col.unit in FRACTION_UNITS:
            return _percent(v)
        if v == int(v) and (col.dtype.startswith("int") or abs(v) >= 1):
            return f"{int(v):,}"
        if abs(v) >= 1000:
            return f"{v:,.0f}"
        return f"{v:.3g}"
    return str(value)


def _percent(v: float) -> str:
    pct = v * 100
    if pct != 0 and abs(pct) < 1:
        return f"{pct:.1f}%"
    return f"{pct:.0f}%"
