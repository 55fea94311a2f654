"""``/v1/rules``: the detection rules in force and how often each acted on the latest day."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException

from detector.api.deps import Svc, Viewer
from detector.api.models import ErrorBody
from detector.errors import DetectorError

router = APIRouter(prefix="/v1/rules", tags=["rules"],
                   responses={401: {"model": ErrorBody}, 403: {"model": ErrorBody}})

FIELDS = ("id", "name", "family", "title", "status", "severity", "action", "score",
          "condition", "description", "tags", "falsepositives")


def _hit_counts(svc) -> tuple[str | None, dict[str, int], dict[str, int]]:
    day = svc.verdicts.index.latest_date
    if day is None:
        return day, {}, {}
    con = svc.lake()  # view verdicts (detector.verdicts): every column, NULL in older files
    out = []
    for col in ("rule_hits", "shadow_hits"):
        rows = con.execute(f"SELECT h, count(*) FROM (SELECT unnest({col}) AS h FROM verdicts "
                           "WHERE date = CAST(? AS DATE)) GROUP BY h", [day]).fetchall()
        out.append({str(h): int(n) for h, n in rows})
    return day, out[0], out[1]


_cache: dict[tuple, Any] = {}


def _ruleset() -> Any:
    """The rule set, parsed once per change of the rules folder's files."""
    from detector.rules import default_rules_dir, load_ruleset

    folder = default_rules_dir()
    sig = tuple(sorted((str(p), p.stat().st_mtime_ns) for p in folder.rglob("*.y*ml")))
    if sig not in _cache:
        try:
            ruleset = load_ruleset(folder)
        except DetectorError as exc:
            raise HTTPException(503, f"rules could not be loaded: {exc}") from None
        _cache.clear()
        _cache[sig] = ruleset
    return _cache[sig]


def rules_listing(svc) -> dict[str, Any]:
    ruleset = _ruleset()
    day, hits, shadow = _hit_counts(svc)
    rules = []
    for r in ruleset.rules:
        d = {k: getattr(r, k, None) for k in FIELDS}
        d["tags"], d["falsepositives"] = list(d["tags"] or ()), list(d["falsepositives"] or ())
        d["hits_latest_day"] = hits.get(r.id, 0) + hits.get(r.name, 0)
        d["shadow_hits_latest_day"] = shadow.get(r.id, 0) + shadow.get(r.name, 0)
        rules.append(d)
    return {"ruleset_hash": ruleset.hash, "date": day, "rules": rules}


@router.get("", response_model=dict[str, Any],
            summary="Rules (id, family, status, condition...) with hit counts on the latest day")
def get_rules(svc: Svc, _: Viewer) -> dict:
    return rules_listing(svc)
