"""``/metrics``: Prometheus text exposition (any role but ``hook``)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

from detector.api.deps import Svc, Viewer
from detector.api.metrics import CONTENT_TYPE

#: Errors are JSON even though the route's own body is text (FastAPI would document them as text).
_JSON_ERROR = {"content": {"application/json": {
    "schema": {"$ref": "#/components/schemas/ErrorBody"}}}}
router = APIRouter(tags=["metrics"], responses={401: {"description": "Unauthorized", **_JSON_ERROR},
                                                403: {"description": "Forbidden", **_JSON_ERROR}})


@router.get("/metrics", response_class=PlainTextResponse,
            summary="Prometheus metrics (text format 0.0.4)")
def metrics(svc: Svc, _: Viewer) -> PlainTextResponse:
    return PlainTextResponse(svc.metrics.render(), media_type=CONTENT_TYPE)
