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

import math
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
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


# -- reading one cluster: only its rows, cached per file version ----------------------------

_LINKED, _CAMPAIGN = ("clusters", "members", "edges"), CAMPAIGN_TABLES
_CACHE_SIZE = 16
_cache_lock = threading.Lock()
_ids_cache: dict[Path, tuple[tuple[int, int], frozenset[str]]] = {}
_tables_cache: OrderedDict[tuple, ClusterTables] = OrderedDict()


@dataclass(frozen=True)
class ClusterTables:
    """One cluster of one day as stored: ``row`` (its clusters/campaigns row as plain values,
    with ``kind`` and ``size``), ``members`` (plain dicts, ordered by account id) and ``edges``
    (Arrow: every stored edge of the day, linked or campaign, between two members; evidence
    still JSON text). ``signature`` changes whenever one of the day's files changes."""

    cluster_id: str
    day: str
    days: tuple[str, ...]
    row: dict[str, Any]
    members: tuple[dict[str, Any], ...]
    edges: pa.Table
    signature: tuple


def _file_sig(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return (st.st_mtime_ns, st.st_size)


def _ids(path: Path) -> frozenset[str]:
    """The cluster ids in one clusters/campaigns file (only that column is read), cached
    until the file changes."""
    sig = _file_sig(path)
    if sig is None:
        return frozenset()
    with _cache_lock:
        hit = _ids_cache.get(path)
    if hit and hit[0] == sig:
        return hit[1]
    ids = frozenset(pq.read_table(path, columns=["cluster_id"]).column(0).to_pylist())
    with _cache_lock:
        _ids_cache[path] = (sig, ids)
    return ids


def _filtered(path: Path, filters: list[tuple[str, str, Any]]) -> pa.Table | None:
    """The rows of one table matching ``filters`` (pushed down to the Parquet reader). A
    column not stored as text (an empty table's ``null`` column) is compared as text."""
    if not path.exists():
        return None
    try:
        table = pq.read_table(path, filters=filters)
    except (pa.ArrowTypeError, pa.ArrowNotImplementedError):
        table = pq.read_table(path)
        mask = None
        for col, op, value in filters:
            text = table.column(col).cast(pa.string())
            hit = pc.is_in(text, pa.array(value, pa.string())) if op == "in" \
                else pc.equal(text, value)
            mask = hit if mask is None else pc.and_(mask, hit)
        table = table.filter(pc.fill_null(mask, False))
    return table.replace_schema_metadata(None)


def _concat(tables: list[pa.Table | None]) -> pa.Table | None:
    present = [t for t in tables if t is not None]
    if not present:
        return None
    return pa.concat_tables(present, promote_options="permissive") if len(present) > 1 \
        else present[0]


def rows(table: pa.Table) -> list[dict[str, Any]]:
    """Plain JSON-ready row dicts of an Arrow table (NaN as None, dates as ISO text)."""
    return [_clean(r) for r in table.to_pylist()]


def parse_evidence(text: str | None) -> Any:
    """One edge's stored evidence (JSON text) as Python values; {} when empty."""
    return orjson.loads(text) if text else {}


def _load(settings: Settings, cluster_id: str, day: str, days: tuple[str, ...],
          sig: tuple) -> ClusterTables | None:
    d = day_dir(settings, day)
    by_id = [("cluster_id", "==", cluster_id)]
    linked = _filtered(d / "clusters.parquet", by_id)
    kind = "linked" if linked is not None and linked.num_rows else "campaign"
    row_table = linked if kind == "linked" else _filtered(d / "campaigns.parquet", by_id)
    if row_table is None or not row_table.num_rows:  # rewritten since its id was read
        return None
    row = rows(row_table.slice(0, 1))[0]
    row["kind"] = kind
    if row.get("size") is None:
        row["size"] = row.get("clu_size")
    if kind == "campaign":
        row["clu_size"] = row["size"]
    members = _concat([_filtered(d / f"{name}.parquet", by_id)
                       for name in ("members", "campaign_members")])
    members = members.sort_by("account_id")
    accounts = sorted(set(members.column("account_id").to_pylist()))
    between = [("src", "in", accounts), ("dst", "in", accounts)]
    edges = _concat([_filtered(d / f"{name}.parquet", between)
                     for name in ("edges", "campaign_edges")])
    if edges is None:
        edges = pa.table({c: pa.array([], pa.string())
                          for c in ("src", "dst", "edge_type", "window", "evidence")})
    return ClusterTables(cluster_id, day, days, row, tuple(rows(members)), edges, sig)


def cluster_tables(settings: Settings, cluster_id: str,
                   date: str | None = None) -> ClusterTables | None:
    """One cluster on ``date`` (default: the latest clustered day it exists), reading only its
    own rows: the day is found from the id columns alone, members and edges with the filters
    pushed down to the Parquet reader. Cached per cluster and day until one of the day's files
    changes (mtime and size). None when the id is on no clustered day."""
    days = tuple(d for d in clustered_days(settings)
                 if cluster_id in _ids(day_dir(settings, d) / "clusters.parquet")
                 or cluster_id in _ids(day_dir(settings, d) / "campaigns.parquet"))
    chosen = [d for d in days if date is None or d == date]
    if not chosen:
        return None
    day = chosen[-1]
    files = [day_dir(settings, day) / f"{n}.parquet" for n in (*_LINKED, *_CAMPAIGN)]
    key = (str(settings.home), cluster_id, day)
    sig = (days, tuple(_file_sig(f) for f in files))
    with _cache_lock:
        hit = _tables_cache.get(key)
        if hit is not None and hit.signature == sig:
            _tables_cache.move_to_end(key)
            return hit
    tables = _load(settings, cluster_id, day, days, sig)
    if tables is None:
        return None
    with _cache_lock:
        _tables_cache[key] = tables
        while len(_tables_cache) > _CACHE_SIZE:
            _tables_cache.popitem(last=False)
    return tables


def show_cluster(settings: Settings, cluster_id: str,
                 date: str | None = None) -> dict[str, Any] | None:
    """One cluster on ``date`` (default: the latest day it exists): features, members, edges.

    ``edges`` are the typed edges between members with their evidence (parsed JSON), ordered
    by src, dst, type and window; ``days`` lists every clustered day on which the id appears.
    None when unknown. Pages and the paged API read :func:`cluster_tables` instead.
    """
    t = cluster_tables(settings, cluster_id, date)
    if t is None:
        return None
    edges = t.edges.take(pc.sort_indices(t.edges, sort_keys=[
        (c, "ascending") for c in ("src", "dst", "edge_type", "window")
        if c in t.edges.column_names]))
    edge_list = rows(edges)
    for e in edge_list:
        e["evidence"] = parse_evidence(e.get("evidence"))
    return t.row | {"date": t.day, "days": list(t.days), "members": list(t.members),
                    "edges": edge_list}
