"""``/healthz``: liveness and what is loaded; the only route without authentication."""

from __future__ import annotations

from fastapi import APIRouter

from detector import __version__ as VERSION
from detector.api.deps import Svc
from detector.api.models import Health

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health, summary="Liveness (no key needed)")
def healthz(svc: Svc) -> dict:
    index = svc.verdicts.index
    return {"status": "ok", "verdict_accounts": len(index),
            "latest_verdict_date": index.latest_date, "version": VERSION}
