"""``/v1/clusters/{cluster_id}``: a cluster's members and the evidence on its edges, paged.

Members (by account id) and edges (strongest first, as on the cluster page) come a page at a
time: ``members_offset``/``members_limit`` and ``edges_offset``/``edges_limit``; the answer
says the totals and the next offset of each (null after the last page). Edge evidence is
masked for the caller's role (:func:`detector.api.redact.mask_evidence`): viewers never see
addresses, prefixes, payment fingerprints or user agents; analysts and admins see them masked
as prompt samples are."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from detector.api.cluster_summary import prepared
from detector.api.cluster_view import cluster_tables_or_none
from detector.api.deps import ID_PATTERN, Svc, Viewer
from detector.api.models import ErrorBody
from detector.api.redact import mask_evidence

router = APIRouter(prefix="/v1/clusters", tags=["clusters"],
                   responses={401: {"model": ErrorBody}, 403: {"model": ErrorBody},
                              404: {"model": ErrorBody}, 422: {"model": ErrorBody}})

ClusterId = Annotated[str, Path(min_length=1, max_length=256, pattern=ID_PATTERN)]
MAX_MEMBERS_PAGE = 5000
MAX_EDGES_PAGE = 2000


class ClusterMember(BaseModel):
    """A member with its current verdict (null when it has none); other stored member
    columns (``degree``, ``strength`` ...) as stored."""

    model_config = ConfigDict(extra="allow")
    account_id: str
    decision: str | None = None
    score: float | None = None


class ClusterEdge(BaseModel):
    model_config = ConfigDict(extra="allow")
    src: str | None
    dst: str | None
    edge_type: str | None
    window: str | None = None
    weight: float | None = None
    evidence: Any = Field(description="The edge's evidence, masked for the caller's role.")


class ClusterOut(BaseModel):
    """One cluster on its latest clustered day; its stored features (``clu_*``, ``size``,
    ``first_seen`` ...) come as further fields."""

    model_config = ConfigDict(extra="allow")
    cluster_id: str
    kind: str | None = Field(None, description="`linked` or `campaign`.")
    date: str = Field(description="The clustered day shown (the latest one with this id).")
    days: list[str] = Field(description="Every clustered day on which the id appears.")
    n_members: int
    n_edges: int
    members: list[ClusterMember] = Field(description="This page of members, by account id.")
    members_offset: int
    members_limit: int
    members_next_offset: int | None = Field(description="Offset of the next page; null at "
                                                        "the end.")
    edges: list[ClusterEdge] = Field(description="This page of edges, strongest first.")
    edges_offset: int
    edges_limit: int
    edges_next_offset: int | None = Field(description="Offset of the next page; null at the "
                                                      "end.")


def _next(offset: int, limit: int, total: int) -> int | None:
    return offset + limit if offset + limit < total else None


def cluster_or_404(svc, cluster_id: str, role: str, members_offset: int = 0,
                   members_limit: int = 500, edges_offset: int = 0,
                   edges_limit: int = 200) -> dict[str, Any]:
    """One page of the cluster's members and edges, evidence masked for ``role``."""
    t = cluster_tables_or_none(svc, cluster_id)
    if t is None:
        raise HTTPException(404, f"cluster {cluster_id!r}: not found in any clustered day")
    prep = prepared(svc, t)
    verdicts = {m["account_id"]: m for m in prep.members}
    members = []
    for m in t.members[members_offset: members_offset + members_limit]:
        v = verdicts.get(m.get("account_id"), {})
        members.append({**m, "decision": v.get("decision"), "score": v.get("score")})
    edges = []
    for i in range(edges_offset, min(edges_offset + edges_limit, prep.n_edges)):
        e = prep.edge(i)
        e["evidence"] = mask_evidence(e["evidence"], e.get("edge_type"), role)
        edges.append(e)
    features = {k: v for k, v in t.row.items() if not isinstance(v, dict | list)}
    return features | {
        "cluster_id": t.cluster_id, "kind": t.row.get("kind"), "date": t.day,
        "days": list(t.days), "n_members": len(t.members), "n_edges": prep.n_edges,
        "members": members, "members_offset": members_offset, "members_limit": members_limit,
        "members_next_offset": _next(members_offset, members_limit, len(t.members)),
        "edges": edges, "edges_offset": edges_offset, "edges_limit": edges_limit,
        "edges_next_offset": _next(edges_offset, edges_limit, prep.n_edges)}


@router.get("/{cluster_id}", response_model=ClusterOut,
            summary="Cluster features, a page of members (with their verdicts) and a page of "
                    "edges with their evidence")
def get_cluster(cluster_id: ClusterId, svc: Svc, who: Viewer,
                members_offset: Annotated[int, Query(ge=0, le=10_000_000,
                                                     description="First member to return.")] = 0,
                members_limit: Annotated[int, Query(ge=1, le=MAX_MEMBERS_PAGE,
                                                    description="Members per page.")] = 500,
                edges_offset: Annotated[int, Query(ge=0, le=100_000_000,
                                                   description="First edge to return "
                                                               "(strongest first).")] = 0,
                edges_limit: Annotated[int, Query(ge=1, le=MAX_EDGES_PAGE,
                                                  description="Edges per page.")] = 200,
                ) -> dict:
    return cluster_or_404(svc, cluster_id, who.role, members_offset, members_limit,
                          edges_offset, edges_limit)
