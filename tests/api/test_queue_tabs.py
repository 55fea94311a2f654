"""The queue's default view is the reviews that need a person, ordered by risk; automatic
blocks have their own tab; after a decision the page links to the next review."""

from __future__ import annotations

import re

from detector.api.deps import csrf_token

from .conftest import auth
from .fixtures import page_login


def _accounts(html: str) -> list[str]:
    return re.findall(r'class="acct-link" href="/accounts/([^"]+)"', html)


def test_default_tab_lists_reviews_by_risk_and_blocks_have_their_own(client, keys):
    page_login(client, keys["viewer"])
    page = client.get("/queue")
    assert page.status_code == 200
    api = client.get("/v1/review-queue", headers=auth(keys["viewer"]),
                     params={"decision": "review"}).json()
    assert _accounts(page.text) == [i["account_id"] for i in api["items"]]
    assert "acct_block" not in _accounts(page.text) and len(api["items"]) == 3
    assert re.search(r'<a href="/queue\?tab=reviews" aria-current="page">Needs a person '
                     r'\(3\)</a>', page.text)
    assert "Blocked automatically (1)" in page.text
    assert 'value="-risk" selected' in page.text
    blocks = client.get("/queue?tab=blocks")
    assert _accounts(blocks.text) == ["acct_block"]
    assert 'href="/queue?tab=blocks" aria-current="page"' in blocks.text
    assert '<input type="hidden" name="tab" value="blocks">' in blocks.text
    both = client.get("/queue?decision=both")  # the Decision filter still overrides the tab
    assert set(_accounts(both.text)) == {"acct_block", "acct_review", "acct_mid", "acct_gone"}
    assert client.get("/queue?tab=nope").status_code == 422
    for html in (page.text, blocks.text):
        assert re.findall(r"<script(?![^>]*\bsrc=)", html) == []


def test_next_in_queue_after_a_decision(client, keys):
    session = page_login(client, keys["analyst"])
    order = [i["account_id"] for i in client.get(
        "/v1/review-queue", headers=auth(keys["analyst"]), params={"decision": "review"}
    ).json()["items"]]
    first, second = order[0], order[1]
    r = client.post(f"/accounts/{first}/decisions", follow_redirects=True,
                    data={"decision": "clear", "csrf": csrf_token(session), "note": "benign"})
    assert r.status_code == 200 and "Decision <b>clear</b> recorded." in r.text
    link = re.search(r'<a id="next-review" href="/accounts/([^"]+)">', r.text)
    assert link and link.group(1) == second
    assert re.findall(r"<script(?![^>]*\bsrc=)", r.text) == []
    # decide the rest: then there is no next review
    for account in order[1:]:
        r = client.post(f"/accounts/{account}/decisions", follow_redirects=True,
                        data={"decision": "escalate", "csrf": csrf_token(session)})
    assert 'id="next-review"' not in r.text and "No review left in the queue" in r.text
    assert "Needs a person (0)" in client.get("/queue").text
