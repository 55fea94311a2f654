"""Page forms on the account page besides decisions: claim / take over / release, and the
allow-list form (CSRF, roles, audit)."""

from __future__ import annotations

import re

from detector.api.deps import csrf_token
from detector.cases import CaseStore
from detector.cases.claims import claim, claim_of

from .fixtures import page_login


def _claim_status(client, account_id: str) -> str:
    html = client.get(f"/accounts/{account_id}").text
    return re.sub(r"<[^>]+>", "", re.search(r'id="claim-status">(.*?)</p>', html, re.S).group(1))


def test_claim_needs_csrf_and_a_writer_role(client, keys, settings):
    session = page_login(client, keys["viewer"])
    r = client.post("/accounts/acct_mid/claim", data={"csrf": csrf_token(session)})
    assert r.status_code == 403
    session = page_login(client, keys["analyst"])
    assert client.post("/accounts/acct_mid/claim", data={"csrf": "forged"}).status_code == 403
    assert claim_of(CaseStore(settings), "acct_mid") is None


def test_claim_shown_take_over_explicit_and_audited(client, keys, settings):
    store = CaseStore(settings)
    claim(store, "acct_mid", "test-admin", ttl_s=600)
    session = page_login(client, keys["analyst"])
    assert "Claimed by test-admin" in _claim_status(client, "acct_mid")
    html = client.get("/accounts/acct_mid").text
    assert 'id="takeover-button"' in html and 'id="claim-button"' not in html
    # a plain claim of someone else's case is refused
    r = client.post("/accounts/acct_mid/claim", data={"csrf": csrf_token(session)})
    assert r.status_code == 409 and "claimed by test-admin" in r.text
    r = client.post("/accounts/acct_mid/claim", data={"csrf": csrf_token(session),
                                                      "take_over": "1", "date": "2026-11-27"},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/accounts/acct_mid#claim"
    assert "Claimed by test-analyst" in _claim_status(client, "acct_mid")
    log = store.audit_log(entity="claim", entity_id="acct_mid")
    assert log[0]["action"] == "claim.takeover" and log[0]["before"]["analyst"] == "test-admin"
    # the queue shows the claim to others
    page_login(client, keys["viewer"])
    row = re.search(r'acct_mid</a>.*?</tr>', client.get("/queue").text, re.S).group(0)
    assert 'class="claimed">test-analyst<' in row


def test_release_and_decision_end_the_claim(client, keys, settings):
    store = CaseStore(settings)
    session = page_login(client, keys["analyst"])
    client.post("/accounts/acct_mid/claim", data={"csrf": csrf_token(session)})
    assert claim_of(store, "acct_mid")["analyst"] == "test-analyst"
    client.post("/accounts/acct_mid/release", data={"csrf": csrf_token(session)})
    assert claim_of(store, "acct_mid") is None
    client.post("/accounts/acct_mid/claim", data={"csrf": csrf_token(session)})
    client.post("/accounts/acct_mid/decisions", data={"decision": "clear", "date": "2026-11-27",
                                                      "csrf": csrf_token(session)})
    assert claim_of(store, "acct_mid") is None
    assert store.audit_log(entity="claim", entity_id="acct_mid")[0]["after"] == {"why": "decided"}


def test_allowlist_form_account_and_org_scope(client, keys, settings):
    store = CaseStore(settings)
    session = page_login(client, keys["analyst"])
    html = client.get("/accounts/acct_block").text
    assert 'id="allowlist-form"' in html and 'value="org"' in html  # org_x known from the lake
    assert client.post("/accounts/acct_block/allowlist",
                       data={"csrf": "forged", "reason": "x"}).status_code == 403
    r = client.post("/accounts/acct_block/allowlist",
                    data={"csrf": csrf_token(session), "reason": "eval partner",
                          "until": "2031-01-31", "scope": "account"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/accounts/acct_block#allowlist"
    entry = store.allowlist()[0]
    assert (entry["account_id"], entry["reason"], entry["analyst"]) == (
        "acct_block", "eval partner", "test-analyst")
    assert entry["until"].startswith("2031-02-01")  # through the end of the 31st
    assert store.audit_log(entity="allowlist")[0]["action"] == "allowlist.add"
    r = client.post("/accounts/acct_block/allowlist",
                    data={"csrf": csrf_token(session), "reason": "whole org", "scope": "org"},
                    follow_redirects=False)
    assert r.status_code == 303 and store.allowlist()[0]["org_id"] == "org_x"
    # the gateway sees it at once
    assert client.get("/v1/verdicts/acct_block", headers={
        "Authorization": f"Bearer {keys['hook']}"}).json()["decision"] == "allow"
    bad = client.post("/accounts/acct_block/allowlist",
                      data={"csrf": csrf_token(session), "reason": "x", "until": "soon"})
    assert bad.status_code == 422 and "until" in bad.text
    assert client.post("/accounts/acct_mid/allowlist",  # no org known for acct_mid
                       data={"csrf": csrf_token(session), "reason": "x",
                             "scope": "org"}).status_code == 422
    page_login(client, keys["viewer"])
    assert 'id="allowlist-form"' not in client.get("/accounts/acct_block").text
