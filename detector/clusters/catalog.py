"""The cluster stage's columns (``cluster_id`` and ``clu_*`` of ``features/cluster``), as
declared in the column registry (:mod:`detector.columns.cluster`, which holds their meanings).

Rows exist for every account active on the day. Accounts in no cluster have ``cluster_id``
null, ``clu_size`` 1, ``clu_degree`` 0 and every other ``clu_*`` column null.
"""

from __future__ import annotations

import detector.columns as registry
from detector.columns.cluster import ACCOUNT_COLUMNS

__all__ = ["ACCOUNT_COLUMNS", "COLUMNS"]

#: name, unit, meaning, why of each column, in stored order.
COLUMNS: list[dict[str, str]] = [
    {"name": c.name, "unit": c.unit, "meaning": c.meaning, "why": c.why}
    for c in registry.columns("clu")
]
