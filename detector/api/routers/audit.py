"""``/v1/audit-log``: every change to case state (admin only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from detector.api.deps import Admin, Svc
from detector.api.models import AuditEntry, ErrorBody

router = APIRouter(prefix="/v1/audit-log", tags=["audit"],
                   responses={401: {"model": ErrorBody}, 403: {"model": ErrorBody},
                              422: {"model": ErrorBody}})


@router.get("", response_model=list[AuditEntry], summary="Audit rows, newest first")
def get_audit(
    svc: Svc, _: Admin,
    entity: Annotated[str | None, Query(max_length=64)] = None,
    entity_id: Annotated[str | None, Query(max_length=256)] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 200,
    before_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
) -> list[dict]:
    return svc.store.audit_log(entity, entity_id, limit, before_id)
