"""Case state: analyst decisions, labels, allow-list, API keys and the audit log (SQLite).

Public API: :class:`CaseStore` (``CaseStore(settings)``), ``DECISIONS``, ``ROLES``.
"""

from detector.cases.schema import DECISIONS, ROLES
from detector.cases.store import CaseInputError, CaseStore

__all__ = ["CaseStore", "CaseInputError", "DECISIONS", "ROLES"]
