"""Case state: analyst decisions, labels, allow-list, API keys and the audit log (SQLite).

Public API: :class:`CaseStore` (``CaseStore(settings)``), ``DECISIONS``, ``ROLES``.
``CaseStore`` is imported on first use so that CLI start-up does not pay for pandas.
"""

from typing import Any

from detector.cases.schema import DECISIONS, ROLES

__all__ = ["CaseStore", "CaseInputError", "DECISIONS", "ROLES"]


def __getattr__(name: str) -> Any:
    if name in ("CaseStore", "CaseInputError"):
        from detector.cases import store

        return getattr(store, name)
    raise AttributeError(f"module 'detector.cases' has no attribute {name!r}")
