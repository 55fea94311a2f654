"""Coordinated account clusters: the account graph, its clusters and cluster-level features.

Public API (called by ``detector run``, the CLI and the HTTP API):

``compute(settings, dates)``              write clusters/ and features/cluster/ for each day
``list_clusters(settings, date=None)``    list of plain dicts, one per cluster
``show_cluster(settings, cluster_id, date=None)`` dict with members and evidence, or None

The names load lazily: a reader of stored clusters (the API's pages) imports
``detector.clusters.store`` without the graph and scoring libraries ``compute`` needs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from detector.clusters.params import ClusterParams
    from detector.clusters.pipeline import compute
    from detector.clusters.store import list_clusters, show_cluster

__all__ = ["ClusterParams", "compute", "list_clusters", "show_cluster"]
_HOME = {"ClusterParams": "params", "compute": "pipeline", "list_clusters": "store",
         "show_cluster": "store"}


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module 'detector.clusters' has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(f"detector.clusters.{_HOME[name]}"), name)
