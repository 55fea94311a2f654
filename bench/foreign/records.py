"""Account identity and the request-log record builder (shared by every archetype).

A record follows ``/work/shared/spec/request-log.md``: one JSON object per request with the
request body as an OpenAI-compatible client would send it, plus response status, usage and
latency as a provider would log them. Token counts are estimates (characters / 3.8).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone

MODELS = {"pro": "atlas-2-pro", "flash": "atlas-2-flash", "think": "atlas-2-think",
          "embed": "atlas-embed-1"}


@dataclass
class Account:
    """One billing account and the stable traits its traffic is drawn from."""

    account_id: str
    label: str  # benign | distill
    archetype: str
    group: str  # fleet / org / campus id, or the account id itself
    org_id: str | None
    created_at: float  # epoch seconds
    payment: str | None
    keys: list[str]
    tz: float
    ips: list[str]
    uas: list[str]
    traits: dict = field(default_factory=dict)


def iso(ts: float, offset_h: float = 0.0) -> str:
    """RFC 3339 with milliseconds; 'Z' for UTC or an explicit +HH:MM offset."""
    if offset_h == 0:
        return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    tz = timezone(timedelta(hours=offset_h))
    return datetime.fromtimestamp(ts, tz).isoformat(timespec="milliseconds")


def text_of(req: dict) -> int:
    """Characters of prompt text in a request body (messages, prompt or input)."""
    n = 0
    for m in req.get("messages", []):
        c = m.get("content")
        if isinstance(c, str):
            n += len(c)
        elif isinstance(c, list):
            n += sum(len(p.get("text", "")) for p in c if isinstance(p, dict))
    p = req.get("prompt") or req.get("input")
    if isinstance(p, str):
        n += len(p)
    elif isinstance(p, list):
        for x in p:
            n += len(x) if isinstance(x, str) else len(str(x.get("content", "")))
    return n


COMPLETION_MEDIAN = {"chat": 320, "cot": 1400, "short": 40, "json": 160, "one": 1, "agent": 260,
                     "summary": 220, "long": 2200, "embed": 0}
REASONING_MEDIAN = {"minimal": 60, "low": 250, "medium": 900, "high": 3200}


class Builder:
    """Builds log records; owns the run-wide RNG for ids and log formatting choices."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.n = 0

    def _rid(self) -> str:
        self.n += 1
        return f"req_{self.rng.getrandbits(64):016x}{self.n:07x}"

    def _timestamp(self, ts: float) -> str | int:
        r = self.rng.random()
        if r < 0.05:  # some gateways log epoch milliseconds
            return int(ts * 1000)
        if r < 0.15:  # a regional edge logs with its local offset
            return iso(ts, self.rng.choice([1.0, 2.0, -5.0, 9.0, 5.5]))
        return iso(ts)

    def record(self, acct: Account, ts: float, req: dict, *, endpoint: str = "/v1/chat/completions",
               kind: str = "chat", ip: str | None = None, ua: str | None = None,
               status: int | None = None, meta: dict | None = None) -> dict:
        """One request-log record; usage/latency are drawn from ``kind`` and the body."""
        rng = self.rng
        pt = max(1, int(text_of(req) / 3.8) + 4 * len(req.get("messages", [])))
        if req.get("tools"):
            pt += 180 * len(req["tools"])
        if status is None:
            status = 200 if rng.random() > 0.006 else rng.choice([429, 500, 503, 400])
        rec: dict = {
            "request_id": self._rid(),
            "timestamp": self._timestamp(ts),
            "account_id": acct.account_id,
            "api_key_id": rng.choice(acct.keys),
            "endpoint": endpoint,
            "model": req.get("model"),
            "client_ip": ip or rng.choice(acct.ips),
            "user_agent": ua or rng.choice(acct.uas),
            "request": req,
        }
        if acct.org_id:
            rec["org_id"] = acct.org_id
        if acct.payment:
            rec["payment_fingerprint"] = acct.payment
        rec["account_created_at"] = iso(acct.created_at)
        if status != 200:
            rec["response"] = {"status": status}
            rec["latency_ms"] = rng.randint(20, 900)
            return _with_meta(rec, meta)
        if endpoint == "/v1/embeddings":
            rec["response"] = {"status": 200}
            rec["usage"] = {"prompt_tokens": pt, "completion_tokens": 0}
            rec["latency_ms"] = rng.randint(30, 400)
            return _with_meta(rec, meta)
        cap = (req.get("max_tokens") or req.get("max_completion_tokens")
               or req.get("max_output_tokens") or 16384)
        comp = max(1, int(COMPLETION_MEDIAN[kind] * rng.lognormvariate(0, 0.6))) if kind != "one" else 1
        effort = req.get("reasoning_effort") or (req.get("reasoning") or {}).get("effort")
        if effort is None and req.get("model") == MODELS["think"]:
            effort = "medium"
        rt = int(REASONING_MEDIAN[effort] * rng.lognormvariate(0, 0.5)) if effort else 0
        finish = "stop"
        if comp + rt >= cap:
            comp, finish = max(1, cap - rt) if rt < cap else 1, "length"
            rt = min(rt, cap - comp)
        if kind == "agent" and rng.random() < 0.6:
            finish = "tool_calls"
        n = int(req.get("n") or 1)
        rec["response"] = {"status": 200, "finish_reason": finish}
        usage = {"prompt_tokens": pt, "completion_tokens": comp * n + rt}
        if rt:
            usage["reasoning_tokens"] = rt
        rec["usage"] = usage
        rec["latency_ms"] = int(180 + rng.lognormvariate(0, 0.3) * (comp * 14 + rt * 9))
        return _with_meta(rec, meta)


def _with_meta(rec: dict, meta: dict | None) -> dict:
    if meta:
        rec["metadata"] = meta
    return rec


def content(text: str, parts: bool) -> str | list[dict]:
    """Message content as a plain string or as a list of text parts."""
    return [{"type": "text", "text": text}] if parts else text
