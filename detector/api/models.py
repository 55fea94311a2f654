"""Request and response bodies of the HTTP API (they are the OpenAPI schema)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Decision = Literal["allow", "review", "block"]
AnalystDecision = Literal["confirm-block", "clear", "escalate", "needs-more-data"]


class ErrorBody(BaseModel):
    error: str = Field(description="Machine-readable error kind.")
    detail: str = Field(description="What was wrong, for a person.")


class Verdict(BaseModel):
    """What a gateway should do with the account's requests, for ``ttl`` seconds."""

    account_id: str
    decision: Decision
    score: float | None = Field(description="Model score 0-1; null when there is no verdict.")
    reasons: list[str]
    cluster_id: str | None
    date: str | None = Field(description="Day of the verdict (YYYY-MM-DD); null if none.")
    model_version: str | None
    risk: float | None = Field(
        default=None, description="log10(1 + score x the day's output tokens): the expected "
        "distilled output's order of magnitude; orders verdicts whose scores tie (e.g. at 1.0). "
        "Null when there is no verdict or it predates risk.")
    ttl: int = Field(description="Seconds the answer may be cached.")
    source: Literal["model", "analyst", "allowlist", "none"]
    model_decision: Decision = Field(description="The model's decision before human overrides.")
    known: bool = Field(description="Whether the account has a verdict at all.")


class QueueClaim(BaseModel):
    analyst: str
    claimed_at: str
    expires_at: str


class QueueItem(BaseModel):
    account_id: str
    date: str
    score: float | None
    risk: float | None = Field(default=None, description="See Verdict.risk; the default sort.")
    decision: Decision
    reasons: list[str]
    cluster_id: str | None
    case_status: str | None
    first_flagged: str | None = Field(
        default=None, description="Earliest review/block day in the index window.")
    age_days: int | None = Field(
        default=None, description="Days from first_flagged to the newest verdict day.")
    claim: QueueClaim | None = Field(default=None, description="The live claim, if any.")


class QueuePage(BaseModel):
    total: int
    offset: int
    limit: int
    items: list[QueueItem]


class ClusterGroup(BaseModel):
    cluster_id: str
    members: int = Field(description="Members in the queue's window matching the filters.")
    review: int
    block: int
    allow: int
    max_risk: float | None


class ClusterGroupPage(BaseModel):
    total: int
    offset: int
    limit: int
    items: list[ClusterGroup]


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    decision: AnalystDecision
    note: str = Field(default="", max_length=10_000)
    date: str | None = Field(default=None, pattern=r"^\d{4}-\d{2}-\d{2}$",
                             description="Day of the verdict decided on; default today (UTC).")


class DecisionOut(BaseModel):
    id: int
    account_id: str
    date: str | None
    decision: AnalystDecision
    analyst: str
    note: str
    created_at: str
    status: str | None = None


class ClaimIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    take_over: bool = Field(default=False, description="Take the claim over from another "
                            "analyst who holds it (audited as claim.takeover).")
    date: str | None = Field(default=None, pattern=r"^\d{4}-\d{2}-\d{2}$",
                             description="Day of the verdict being worked on (optional).")


class ClaimOut(BaseModel):
    account_id: str
    date: str | None
    analyst: str
    claimed_at: str
    expires_at: str


class ReleaseOut(BaseModel):
    account_id: str
    released: bool = Field(description="False when the account had no live claim.")


class AllowIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    account_id: str | None = Field(default=None, min_length=1, max_length=1024)
    org_id: str | None = Field(default=None, min_length=1, max_length=256)
    until: str | None = Field(default=None, max_length=40,
                              description="ISO date or timestamp; null = no expiry.")
    reason: str = Field(min_length=1, max_length=2000)


class AllowEntry(BaseModel):
    id: int
    account_id: str | None
    org_id: str | None
    until: str | None
    reason: str
    analyst: str
    created_at: str
    revoked_at: str | None = None
    revoked_by: str | None = None


class AuditEntry(BaseModel):
    id: int
    at: str
    actor: str
    action: str
    entity: str
    entity_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


class Health(BaseModel):
    status: Literal["ok"]
    verdict_accounts: int
    latest_verdict_date: str | None
    version: str
