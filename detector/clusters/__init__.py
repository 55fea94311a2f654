"""Coordinated account clusters: the account graph, its clusters and cluster-level features.

Public API (called by ``detector run``, the CLI and the HTTP API):

``compute(settings, dates)``              write clusters/ and features/cluster/ for each day
``list_clusters(settings, date=None)``    list of plain dicts, one per cluster
``show_cluster(settings, cluster_id, date=None)`` dict with members and evidence, or None
"""

from __future__ import annotations

from detector.clusters.params import ClusterParams
from detector.clusters.pipeline import compute
from detector.clusters.store import list_clusters, show_cluster

__all__ = ["ClusterParams", "compute", "list_clusters", "show_cluster"]
