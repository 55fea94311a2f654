"""Where the cluster stage stores its tables, and the reads behind `clusters list|show`.

Per day D under the home folder:
``clusters/date=D/edges.parquet``    typed edges with evidence (one row per pair, type, window)
``clusters/date=D/members.parquet``  cluster_id, account_id, degree, strength
``clusters/date=D/clusters.parquet`` one row per cluster: size, first_seen, clu_* features
``clusters/date=D/id_map.parquet``   cluster_id, derived_id, previous_cluster_id, jaccard
``features/cluster/date=D/part-0.parquet`` one row per active account: cluster_id, clu_*
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq

from detector.settings import Settings


def clusters_root(settings: Settings) -> Path:
    return settings.home / "clusters"


def day_dir(settings: Settings, day: str) -> Path:
    return clusters_root(settings) / f"date={day}"


def feature_path(settings: Settings, day: str) -> Path:
    return settings.features_dir / "cluster" / f"date={day}" / "part-0.parquet"


def centroid_path(settings: Settings, day: str) -> Path:
    return settings.home / "embeddings" / "centroids" / f"date={day}" / "part-0.parquet"


def clustered_days(settings: Settings) -> list[str]:
    """Days with a committed clustering, oldest first."""
    root = clusters_root(settings)
    if not root.exists():
        return []
    return sorted(d.name.split("=", 1)[1] for d in root.glob("date=*")
                  if (d / "clusters.parquet").exists())


def read(settings: Settings, day: str, name: str) -> pd.DataFrame | None:
    """One table of a day (``edges``, ``members``, ``clusters``, ``id_map``) or None."""
    path = day_dir(settings, day) / f"{name}.parquet"
    return pq.read_table(path).to_pandas() if path.exists() else None


def _clean(value: Any) -> Any:
    """Plain JSON-ready Python values (no numpy scalars, NaN as None, dates as ISO text)."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    return [_clean(r) for r in df.to_dict(orient="records")]


def list_clusters(settings: Settings, date: str | None = None) -> list[dict[str, Any]]:
    """Clusters of ``date`` (the latest clustered day when None), largest first.

    Each dict: cluster_id, date, size, first_seen, previous_cluster_id and the clu_* features.
    Empty list when nothing was clustered that day.
    """
    days = clustered_days(settings)
    day = date or (days[-1] if days else None)
    if day is None:
        return []
    table = read(settings, day, "clusters")
    if table is None:
        return []
    table = table.sort_values(["clu_size", "cluster_id"], ascending=[False, True])
    return _records(table)


def show_cluster(settings: Settings, cluster_id: str,
                 date: str | None = None) -> dict[str, Any] | None:
    """One cluster on ``date`` (default: the latest day it exists): features, members, edges.

    ``edges`` are the typed edges between members with their evidence (parsed JSON);
    ``days`` lists every clustered day on which the id appears. None when unknown.
    """
    days = [d for d in clustered_days(settings) if date is None or d == date]
    seen: list[str] = []
    found: tuple[str, pd.DataFrame] | None = None
    for day in days:
        table = read(settings, day, "clusters")
        if table is not None and (table["cluster_id"] == cluster_id).any():
            seen.append(day)
            found = (day, table[table["cluster_id"] == cluster_id])
    if found is None:
        return None
    day, row = found
    members = read(settings, day, "members")
    members = members[members["cluster_id"] == cluster_id].sort_values("account_id")
    accounts = set(members["account_id"])
    edges = read(settings, day, "edges")
    edges = edges[edges["src"].isin(accounts) & edges["dst"].isin(accounts)]
    edge_list = _records(edges.sort_values(["src", "dst", "edge_type", "window"]))
    for e in edge_list:
        e["evidence"] = json.loads(e["evidence"]) if e.get("evidence") else {}
    out = _records(row)[0]
    out.update({"date": day, "days": seen, "members": _records(members), "edges": edge_list})
    return out
