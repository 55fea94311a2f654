"""``/v1/clusters/{cluster_id}``: a cluster's members and the evidence on its edges.

Edge evidence is masked for the caller's role (:func:`detector.api.redact.mask_edges`):
viewers never see addresses, prefixes, payment fingerprints or user agents; analysts and
admins see them masked as prompt samples are."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path

from detector.api.account_view import load_cluster
from detector.api.deps import ID_PATTERN, Svc, Viewer
from detector.api.models import ErrorBody
from detector.api.redact import mask_edges

router = APIRouter(prefix="/v1/clusters", tags=["clusters"],
                   responses={401: {"model": ErrorBody}, 403: {"model": ErrorBody},
                              404: {"model": ErrorBody}, 422: {"model": ErrorBody}})

ClusterId = Annotated[str, Path(min_length=1, max_length=256, pattern=ID_PATTERN)]


def cluster_or_404(svc, cluster_id: str, role: str) -> dict[str, Any]:
    """The cluster with its members' verdicts and its edges' evidence masked for ``role``."""
    data = load_cluster(svc, cluster_id)
    if data is None:
        raise HTTPException(404, f"cluster {cluster_id!r}: not found in any clustered day")
    data["edges"] = mask_edges(data.get("edges") or [], role)
    for m in data.get("members", []):
        v = svc.verdicts.index.get(m.get("account_id", ""))
        m["decision"] = v["decision"] if v else None
        m["score"] = v["score"] if v else None
    return data


@router.get("/{cluster_id}", response_model=dict[str, Any],
            summary="Cluster features, members (with their verdicts) and edges with evidence")
def get_cluster(cluster_id: ClusterId, svc: Svc, who: Viewer) -> dict:
    return cluster_or_404(svc, cluster_id, who.role)
