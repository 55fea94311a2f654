"""Evidence families of the account graph, the key popularity weight, and ``ClusterParams``
(defined in ``detector.cluster_params`` so that the settings can carry it).

Defaults are set from first principles (what a shared address or fingerprint means), never
fitted on evaluation traffic. Every count is in accounts, every duration in seconds.
"""

from __future__ import annotations

from detector.cluster_params import ClusterParams

__all__ = ["EDGE_TYPES", "FAMILIES", "ClusterParams", "popularity_weight"]

#: Evidence families: a link needs two of them (or a shared payment instrument).
FAMILIES: dict[str, str] = {
    "payment": "payment",
    "ip": "network",
    "prefix": "network",
    "fingerprint": "client",
    "template": "content",
    "embedding": "content",
    "timing": "timing",
    "creation": "lifecycle",
    "coverage": "coverage",
}

EDGE_TYPES: tuple[str, ...] = tuple(FAMILIES)


def popularity_weight(n_accounts: int | float) -> float:
    """Weight of a key shared by ``n_accounts``: 1 for two accounts, sqrt(2/m) beyond."""
    return float(min(1.0, (2.0 / max(float(n_accounts), 2.0)) ** 0.5))
