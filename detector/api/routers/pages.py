"""Server-rendered pages for analysts: login, review queue, account, cluster, decision form.

A page session is a random token in an HttpOnly, SameSite=Strict cookie (``dg_session``); the
case store keeps only its sha256, with an expiry (``session_ttl_s``); logout, expiry and
revoking the key end it. Every form also carries a CSRF token derived from the session token
(the login form: a random token double-submitted in a cookie).
The ``hook`` role cannot open pages.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from detector.api import plots
from detector.api.account_view import account_evidence
from detector.api.auth import READ_ROLES, WRITE_ROLES, Principal
from detector.api.deps import (
    COOKIE,
    LEGACY_COOKIE,
    AccountId,
    check_account_id,
    csrf_token,
    get_service,
)
from detector.api.models import DecisionIn
from detector.api.queue import QueueQuery, review_queue
from detector.api.routers.decisions import record
from detector.cases.claims import claim_of, live_claims
from detector.cases.schema import DECISIONS

router = APIRouter(include_in_schema=False)


def _key(request: Request) -> str | None:
    return request.cookies.get(COOKIE)


def page_principal(request: Request, roles: frozenset[str] = READ_ROLES) -> Principal:
    who = get_service(request).keys.resolve_session(_key(request))
    if who is None:
        raise HTTPException(401, "log in with an API key")
    if who.role not in roles:
        raise HTTPException(403, f"role '{who.role}' cannot use the analyst pages")
    return who


def _render(request: Request, name: str, who: Principal, **ctx: Any) -> Response:
    ctx.update(principal=who, csrf=csrf_token(_key(request) or ""),
               can_decide=who.role in WRITE_ROLES, decisions=DECISIONS)
    return request.app.state.templates.TemplateResponse(request, name, ctx)


def _safe_next(target: str | None) -> str:
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/queue"
    return target


@router.get("/")
def index() -> RedirectResponse:
    return RedirectResponse("/queue", status_code=303)


#: ``/login?error=CODE``: fixed messages only (a link cannot make the page say anything else)
LOGIN_ERRORS = {"invalid": "That key is not valid.",
                "role": "That key cannot open the pages.",
                "csrf": "The login form expired or came from another site; try again."}
LOGIN_CSRF_COOKIE = "dg_login_csrf"


@router.get("/login")
def login_form(request: Request, next: str = "/queue", error: str = "") -> Response:
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or ""
    if not (16 <= len(token) <= 64 and token.isalnum()):
        token = secrets.token_hex(16)
    resp = request.app.state.templates.TemplateResponse(
        request, "login.html", {"next": _safe_next(next), "error": LOGIN_ERRORS.get(error, ""),
                                "principal": None, "csrf": token})
    resp.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict",
                    secure=request.url.scheme == "https", max_age=3600, path="/login")
    return resp


def _login_error(next: str, code: str) -> Response:
    return RedirectResponse("/login?" + urlencode({"next": _safe_next(next), "error": code}),
                            status_code=303)


@router.post("/login")
def login(request: Request, key: Annotated[str, Form(max_length=512)],
          next: Annotated[str, Form(max_length=2000)] = "/queue",
          csrf: Annotated[str, Form(max_length=64)] = "") -> Response:
    """Double-submit CSRF check: the form's token must equal the login cookie's (set by the
    form, SameSite=Strict, so a cross-site POST carries neither)."""
    expected = request.cookies.get(LOGIN_CSRF_COOKIE) or ""
    if not expected or not hmac.compare_digest(csrf.encode(), expected.encode()):
        return _login_error(next, "csrf")
    who = get_service(request).keys.resolve(key.strip())
    if who is None or who.role not in READ_ROLES:
        return _login_error(next, "invalid" if who is None else "role")
    svc = get_service(request)
    old = _key(request)
    if old:  # a new login ends the browser's previous session
        svc.store.end_session(old, who.name, "replaced")
    ttl = max(60, int(svc.settings.session_ttl_s))
    token = svc.store.create_session(who.key_id, ttl, actor=who.name)
    resp = RedirectResponse(_safe_next(next), status_code=303)
    resp.set_cookie(COOKIE, token, httponly=True, samesite="strict",
                    secure=request.url.scheme == "https", max_age=ttl)
    resp.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    resp.delete_cookie(LEGACY_COOKIE)
    return resp


@router.post("/logout")
def logout(request: Request, csrf: Annotated[str, Form(max_length=64)] = "") -> Response:
    """Needs the session's CSRF token (a cross-site form cannot log anyone out); ends the
    session in the store, so a copy of the cookie no longer works."""
    key = _key(request)
    if key and not hmac.compare_digest(csrf.encode(), csrf_token(key).encode()):
        raise HTTPException(403, "the form expired or came from another site; reload the page")
    if key:
        get_service(request).store.end_session(key, why="logout")
    resp = RedirectResponse("/login", status_code=303)
    resp.delete_cookie(COOKIE)
    resp.delete_cookie(LEGACY_COOKIE)
    return resp


def _score_or_none(text: str) -> float | None:
    if not text.strip():
        return None
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 1:
        raise HTTPException(422, f"min score: expected a number from 0 to 1, got {text!r}")
    return value


@router.get("/account")
def account_page_query(request: Request, id: Annotated[str, Query(min_length=1)],
                       saved: str = "") -> Response:
    """The account page for any id (the query form of ``/accounts/{account_id}``)."""
    return account_page(request, check_account_id(request, id), saved)


@router.get("/accounts/{account_id:path}")
def account_page(request: Request, account_id: AccountId, saved: str = "") -> Response:
    who = page_principal(request)
    svc = get_service(request)
    data = account_evidence(svc, account_id, who)
    if data is None:
        raise HTTPException(404, f"Nothing is known about account {account_id}.")
    charts = {"activity": plots.activity_chart(data["activity"]),
              "score": plots.score_chart(data["timeline"]),
              "percentiles": plots.percentile_chart(data["features"]),
              "coverage": plots.coverage_chart(data["features"]),
              "legend": plots.family_legend(data["features"])}
    top = sorted([f for f in data["features"] if f["percentile"] is not None],
                 key=lambda f: -abs(f["percentile"] - 50))[:15]
    return _render(request, "account.html", who, a=data, charts=charts, top_features=top,
                   saved=saved, next_review=next_review(svc, account_id, who.name),
                   claim=claim_of(svc.store, account_id))


def next_review(svc, after: str, analyst: str = "") -> dict[str, Any] | None:
    """The next open review in the queue's default order (``-risk``), other than ``after``
    and not claimed by someone other than ``analyst``: where "next in queue" (the link after a
    decision, the ``n`` key) goes. None when no such review is open."""
    claims = live_claims(svc.store)
    q = QueueQuery(decisions=("review",), status="open", sort="-risk", limit=2 + len(claims))
    items = review_queue(svc.verdicts.index, svc.overrides.current, q, claims)["items"]
    return next((it for it in items if it["account_id"] != after and (
        it["claim"] is None or it["claim"]["analyst"] == analyst)), None)


@router.post("/accounts/{account_id:path}/decisions")
def decide(request: Request, account_id: AccountId,
           decision: Annotated[str, Form()], csrf: Annotated[str, Form(max_length=64)],
           note: Annotated[str, Form(max_length=10_000)] = "",
           date: Annotated[str, Form(max_length=10)] = "",
           next: Annotated[str, Form(max_length=2000)] = "") -> Response:
    """Record a decision from the account page (back to it) or from the queue's keyboard
    shortcuts (``next``: the queue view to return to, a local path only)."""
    who = page_principal(request, WRITE_ROLES)
    if not hmac.compare_digest(csrf.encode(), csrf_token(_key(request) or "").encode()):
        raise HTTPException(403, "the form expired or came from another site; reload the page")
    if decision not in DECISIONS:
        raise HTTPException(422, f"decision: expected one of {', '.join(DECISIONS)}")
    try:
        body = DecisionIn(decision=decision, note=note, date=date or None)
    except ValidationError:
        raise HTTPException(422, "date: expected YYYY-MM-DD or nothing") from None
    record(get_service(request), account_id, body, who.name)
    if next:
        return RedirectResponse(_safe_next(next), status_code=303)
    return RedirectResponse(f"/accounts/{quote(account_id, safe='')}?saved={decision}",
                            status_code=303)

