"""A LiteLLM proxy hook that asks distill-guard's verdict API before forwarding a request.

Install it in the proxy's ``config.yaml``::

    litellm_settings:
      callbacks: litellm_hook.proxy_handler_instance

and set ``DG_URL`` (e.g. ``http://detector:8000``), ``DG_KEY`` (a key of role ``hook``:
``detector keys create --role hook --name gateway``), optionally ``DG_ACCOUNT_KEY``
(``user`` | ``team`` | ``key`` | ``end_user``: the SAME billing unit the logs are ingested with,
``detector ingest --account-key``), ``DG_FAIL`` (``open``, the default, or ``closed``) and
``DG_TIMEOUT_S`` (default 0.2).

Per request: the account id is read from the caller's virtual key; a cached verdict is used
while it is fresh (the API's ``ttl``, at most ``DG_CACHE_S``); otherwise
``GET /v1/verdicts/{account_id}`` is asked. ``block`` -> HTTP 403; ``review`` and ``allow`` go
through (review is for analysts, not for the gateway). When the API cannot be reached or
answers an error: the last known verdict is used if there is one (even stale, up to
``DG_STALE_S``), else ``DG_FAIL=open`` forwards the request and ``DG_FAIL=closed`` refuses it
with 503. Fail open keeps customers served through an outage of the detector (verdicts are
daily: a blocked account stays blocked from the stale cache); fail closed suits a gateway
that must never serve an unchecked account.

It imports without LiteLLM installed (``CustomLogger`` falls back to ``object``), so the
decision logic can be tested alone: ``VerdictGate.decide(account_id)``.
"""

from __future__ import annotations

import json
import os
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable

try:  # the proxy provides these; the gate below works without them
    from fastapi import HTTPException
    from litellm.integrations.custom_logger import CustomLogger
except ImportError:  # pragma: no cover - exercised when LiteLLM is absent
    CustomLogger = object  # type: ignore[assignment,misc]

    class HTTPException(Exception):  # type: ignore[no-redef]  # noqa: N818
        def __init__(self, status_code: int, detail: str) -> None:
            super().__init__(detail)
            self.status_code, self.detail = status_code, detail


Fetch = Callable[[str], dict]


def http_fetch(base_url: str, key: str, timeout_s: float) -> Fetch:
    """``account_id -> verdict JSON`` over HTTP; raises OSError / ValueError on failure."""
    def fetch(account_id: str) -> dict:
        url = f"{base_url.rstrip('/')}/v1/verdicts/{urllib.parse.quote(account_id, safe='')}"
        req = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"})
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:  # noqa: S310
            return json.loads(resp.read())
    return fetch


class VerdictGate:
    """Verdict per account with a TTL cache and an explicit policy when the API is away."""

    def __init__(self, fetch: Fetch, fail: str = "open", cache_s: float = 300.0,
                 stale_s: float = 86_400.0, clock: Callable[[], float] = time.monotonic) -> None:
        if fail not in ("open", "closed"):
            raise ValueError("fail must be 'open' or 'closed'")
        self.fetch, self.fail, self.cache_s, self.stale_s, self.clock = (
            fetch, fail, cache_s, stale_s, clock)
        self._cache: dict[str, tuple[float, float, str]] = {}  # id -> (fresh until, got at, decision)
        self._lock = threading.Lock()

    def decide(self, account_id: str) -> tuple[bool, str]:
        """(forward?, why) for one request of ``account_id``."""
        now = self.clock()
        with self._lock:
            hit = self._cache.get(account_id)
        if hit and now < hit[0]:
            return hit[2] != "block", f"cached {hit[2]}"
        try:
            verdict = self.fetch(account_id)
            decision = str(verdict.get("decision", "allow"))
            ttl = min(float(verdict.get("ttl") or self.cache_s), self.cache_s)
        except (OSError, ValueError, urllib.error.URLError) as exc:
            if hit and now - hit[1] < self.stale_s:
                return hit[2] != "block", f"stale {hit[2]} (verdict API unreachable: {exc})"
            return self.fail == "open", f"verdict API unreachable, fail {self.fail}"
        with self._lock:
            self._cache[account_id] = (now + ttl, now, decision)
        return decision != "block", decision


def account_of(user_api_key_dict: object, data: dict, account_key: str) -> str | None:
    """The billing unit of a proxy request, as ``detector ingest --account-key`` reads it."""
    attr = {"user": "user_id", "team": "team_id", "key": "api_key"}.get(account_key)
    # end_user: the OpenAI ``user`` field of the body
    value = getattr(user_api_key_dict, attr, None) if attr is not None else data.get("user")
    return value if isinstance(value, str) and value else None


class DistillGuardHook(CustomLogger):  # type: ignore[misc,valid-type]
    def __init__(self, gate: VerdictGate | None = None, account_key: str | None = None) -> None:
        if CustomLogger is not object:
            super().__init__()
        self.account_key = account_key or os.environ.get("DG_ACCOUNT_KEY", "user")
        self.gate = gate or VerdictGate(
            http_fetch(os.environ.get("DG_URL", "http://127.0.0.1:8000"),
                       os.environ.get("DG_KEY", ""), float(os.environ.get("DG_TIMEOUT_S", "0.2"))),
            fail=os.environ.get("DG_FAIL", "open"),
            cache_s=float(os.environ.get("DG_CACHE_S", "300")),
            stale_s=float(os.environ.get("DG_STALE_S", "86400")))

    async def async_pre_call_hook(self, user_api_key_dict, cache, data: dict, call_type):  # noqa: ANN001, ARG002
        account = account_of(user_api_key_dict, data, self.account_key)
        if account is None:
            return data
        # a blocking HTTP call off the event loop (the verdict API answers in milliseconds)
        import asyncio  # noqa: PLC0415

        forward, why = await asyncio.to_thread(self.gate.decide, account)
        if not forward:
            status = 503 if why.startswith("verdict API unreachable") else 403
            raise HTTPException(status_code=status, detail=f"request refused ({why})")
        return data


proxy_handler_instance = DistillGuardHook() if os.environ.get("DG_URL") else None
