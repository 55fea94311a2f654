"""Where the cluster stage stores its tables, and the reads behind `clusters list|show`.

Per day D under the home folder:
``clusters/date=D/edges.parquet``    typed edges with evidence (one row per pair, type, window)
``clusters/date=D/members.parquet``  cluster_id, account_id, degree, strength
``clusters/date=D/clusters.parquet`` one row per cluster: size, first_seen, clu_* features
``clusters/date=D/id_map.parquet``   cluster_id, derived_id, previous_cluster_id, jaccard
``features/cluster/date=D/part-0.parquet`` one row per active account: cluster_id, clu_*

and, written by the campaign pass after ``decide`` (``campaigns``), kind ``campaign``:
``clusters/date=D/campaigns.parquet``, ``campaign_members.parquet``, ``campaign_edges.parquet``
(same columns as clusters / members / edges, where they apply). Linked clusters have kind
``linked``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from detector.lake.io import write_parquet_atomic
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


CAMPAIGN_TABLES = ("campaigns", "campaign_members", "campaign_edges")


def read(settings: Settings, day: str, name: str) -> pd.DataFrame | None:
    """One table of a day (``edges``, ``members``, ``clusters``, ``id_map`` or one of
    ``CAMPAIGN_TABLES``) or None."""
    path = day_dir(settings, day) / f"{name}.parquet"
    return pq.read_table(path).to_pandas() if path.exists() else None


def arrow_table(df: pd.DataFrame) -> pa.Table:
    """Arrow table with plain ``string`` columns (pandas may hand over ``large_string``)."""
    table = pa.Table.from_pandas(df, preserve_index=False).replace_schema_metadata(None)
    schema = pa.schema([pa.field(f.name, pa.string()) if pa.types.is_large_string(f.type)
                        else f for f in table.schema])
    return table.cast(schema)


def write_campaigns(settings: Settings, day: str, campaigns: pd.DataFrame,
                    members: pd.DataFrame, edges: pd.DataFrame) -> None:
    """Store the campaign pass's tables of ``day`` (each file written atomically)."""
    d = day_dir(settings, day)
    for name, df in zip(CAMPAIGN_TABLES, (campaigns, members, edges), strict=True):
        df = df.astype({c: "object" for c in ("previous_cluster_id", "evidence")
                        if c in df.columns})
        write_parquet_atomic(d / f"{name}.parquet", arrow_table(df))


def drop_campaigns(settings: Settings, day: str) -> None:
    """Remove the campaign tables of ``day`` (they depend on the day's linked clusters)."""
    for name in (*(f"{t}.parquet" for t in CAMPAIGN_TABLES), "campaigns.json"):
        (day_dir(settings, day) / name).unlink(missing_ok=True)


def _both(settings: Settings, day: str, linked: str, campaign: str) -> pd.DataFrame | None:
    """A linked-cluster table of ``day`` with its campaign counterpart appended."""
    a, b = read(settings, day, linked), read(settings, day, campaign)
    if linked == "clusters":  # both tables get kind, size and clu_size
        if a is not None:
            a = a.assign(kind="linked")
            if "size" not in a.columns and "clu_size" in a.columns:
                a["size"] = a["clu_size"]
        if b is not None:
            b = b.assign(clu_size=b["size"])
    if a is None or b is None or b.empty:
        return a
    return pd.concat([a, b], ignore_index=True) if not a.empty else b


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

    Each dict: cluster_id, date, size, kind (``linked`` or ``campaign``), summary (one line),
    first_seen, previous_cluster_id and the clu_* features (campaigns: volumes only).
    Empty list when nothing was clustered that day.
    """
    days = clustered_days(settings)
    day = date or (days[-1] if days else None)
    if day is None:
        return []
    table = _both(settings, day, "clusters", "campaigns")
    if table is None:
        return []
    table = table.sort_values(["size", "cluster_id"], ascending=[False, True])
    return [r | {"summary": _summary(r)} for r in _records(table)]


def _summary(c: dict[str, Any]) -> str:
    """One line saying what the cluster is (the daily report shows it)."""
    first = str(c.get("first_seen") or "")[:10]
    if c.get("kind") == "campaign":
        nats = c.get("group_surprise_nats")
        why = f" ({nats:.0f} nats)" if isinstance(nats, int | float) else ""
        return (f"campaign: {c['size']} flagged accounts split one topic sweep{why}, "
                f"first seen {first}")
    return f"linked: {c['size']} accounts, first seen {first}"


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
        table = _both(settings, day, "clusters", "campaigns")
        if table is not None and (table["cluster_id"] == cluster_id).any():
            seen.append(day)
            found = (day, table[table["cluster_id"] == cluster_id])
    if found is None:
        return None
    day, row = found
    members = _both(settings, day, "members", "campaign_members")
    members = members[members["cluster_id"] == cluster_id].sort_values("account_id")
    accounts = set(members["account_id"])
    edges = _both(settings, day, "edges", "campaign_edges")
    edges = edges[edges["src"].isin(accounts) & edges["dst"].isin(accounts)]
    edge_list = _records(edges.sort_values(["src", "dst", "edge_type", "window"]))
    for e in edge_list:
        e["evidence"] = json.loads(e["evidence"]) if e.get("evidence") else {}
    out = _records(row)[0]
    out.update({"date": day, "days": seen, "members": _records(members), "edges": edge_list})
    return out
