"""The review workbench in headless Chromium: triage the top review in at most 3 clicks,
next in queue, keyboard decisions and navigation (decisions from the queue too), claim and take-over, allow-list from the
account page. ``DG_SCREENSHOTS=1`` also writes the README's screenshots
(``docs/img/queue.png``, ``docs/img/account.png``)."""

from __future__ import annotations

import os
from pathlib import Path

from detector.cases import CaseStore

from .test_pages_browser import browser, pytestmark, server  # noqa: F401 (fixtures, marks)

DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img"


class Clicks:
    """Counts the clicks an analyst makes on a page (keyboard and dialogs are not clicks)."""

    def __init__(self, page) -> None:
        self.page, self.n = page, 0

    def __call__(self, selector: str) -> None:
        self.n += 1
        self.page.click(selector)


def _login(browser, base: str, key: str, path: str = "/queue"):  # noqa: F811
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{base}/login?next={path}")
    page.fill("#key", key)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    return page


def test_triage_the_top_review_in_three_clicks_then_next(server, browser):  # noqa: F811
    base, settings, keys = server
    page = _login(browser, base, keys["analyst"])
    page.wait_for_selector("#queue-table")
    top = page.locator("#queue-table tbody tr a.acct-link").first.inner_text()
    click = Clicks(page)
    click("#queue-table tbody tr:first-child a.acct-link")
    page.wait_for_selector("#decision-form")
    click("#decision-form input[value=escalate]")
    click("#decision-form button[type=submit]")
    page.wait_for_selector(".notice")
    assert click.n <= 3
    assert CaseStore(settings).decisions(top)[0]["decision"] == "escalate"
    # next in queue: the next open review, never the one just decided
    nxt = page.locator("#next-review")
    target = nxt.get_attribute("href")
    assert target and top not in target
    nxt.click()
    page.wait_for_selector("#decision-form")
    assert page.url.endswith(target)


def test_keyboard_moves_opens_and_decides(server, browser):  # noqa: F811
    base, settings, keys = server
    page = _login(browser, base, keys["analyst"])
    page.wait_for_selector("#key-help")
    assert "j" in page.locator("#key-help").inner_text()
    second = page.locator("#queue-table tbody tr:nth-child(2) a.acct-link").inner_text()
    page.keyboard.press("j")
    page.keyboard.press("j")
    assert "selected" in (page.locator("#queue-table tbody tr:nth-child(2)")
                          .get_attribute("class") or "")
    page.keyboard.press("o")
    page.wait_for_selector("#decision-form")
    assert page.locator("h1 .mono").inner_text() == second
    page.on("dialog", lambda d: d.accept())  # "Block this account at the gateway?"
    page.keyboard.press("c")
    page.wait_for_selector(".notice")
    assert page.locator("#case-status").inner_text() == "blocked"
    assert CaseStore(settings).decisions(second)[0]["decision"] == "confirm-block"
    # typing in the note field is never a shortcut
    page.fill("#note", "")
    page.type("#note", "cae")
    assert page.locator("#note").input_value() == "cae"
    assert len(CaseStore(settings).decisions(second)) == 1
    page.keyboard.press("Escape")
    page.locator("h1").click()
    page.keyboard.press("n")
    page.wait_for_url(lambda url: second not in url)


def test_queue_keys_decide_the_selected_row(server, browser):  # noqa: F811
    """c / a / e on the selected queue row record the decision (CSRF-protected form, the
    row's verdict day) and come back to the same queue view; a block asks first."""
    base, settings, keys = server
    store = CaseStore(settings)
    page = _login(browser, base, keys["analyst"], "/queue?sort=-score")
    page.wait_for_selector("#queue-table")
    assert page.locator("#queue-decision-form input[name=csrf]").get_attribute("value")
    assert "escalate" in page.locator("#key-help").inner_text()
    page.keyboard.press("j")
    first = page.locator("#queue-table tbody tr.selected")
    account, day = first.get_attribute("data-account"), first.get_attribute("data-date")
    page.keyboard.press("e")
    page.wait_for_url(lambda url: url.endswith("/queue?sort=-score"))
    page.wait_for_selector("#key-help")
    decided = store.decisions(account)[0]
    assert (decided["decision"], decided["date"], decided["analyst"]) == (
        "escalate", day, "test-analyst")
    assert page.locator(f'#queue-table tbody tr[data-account="{account}"]').count() == 0
    # a block asks first: dismissed, nothing is recorded; accepted, it is
    page.keyboard.press("j")
    target = page.locator("#queue-table tbody tr.selected").get_attribute("data-account")
    answers = iter([False, True])
    page.on("dialog", lambda d: d.accept() if next(answers) else d.dismiss())
    page.keyboard.press("c")
    page.wait_for_timeout(300)
    assert store.decisions(target) == []
    page.keyboard.press("c")
    page.wait_for_url(lambda url: url.endswith("/queue?sort=-score"))
    page.wait_for_selector("#key-help")
    assert store.decisions(target)[0]["decision"] == "confirm-block"
    # a viewer's queue has no decision form: the keys decide nothing
    viewer = _login(browser, base, keys["viewer"])
    viewer.wait_for_selector("#queue-table")
    assert viewer.locator("#queue-decision-form").count() == 0
    n = len(store.decisions())
    viewer.keyboard.press("j")
    viewer.keyboard.press("a")
    viewer.wait_for_timeout(300)
    assert len(store.decisions()) == n


def test_claim_is_shown_to_others_and_take_over_is_explicit(server, browser):  # noqa: F811
    base, settings, keys = server
    ann = _login(browser, base, keys["analyst"], "/accounts/acct_review")
    ann.click("#claim-button")
    ann.wait_for_selector("#release-button")
    assert "Claimed by test-analyst" in ann.locator("#claim-status").inner_text()
    boss = _login(browser, base, keys["admin"], "/queue?claimed=others")
    row = boss.locator("#queue-table tbody tr")
    assert row.count() == 1 and "test-analyst" in row.locator("td.claimed").inner_text()
    boss.goto(f"{base}/accounts/acct_review")
    assert boss.locator("#claim-button").count() == 0
    boss.on("dialog", lambda d: d.accept())  # "Take this account over from test-analyst?"
    boss.click("#takeover-button")
    boss.wait_for_selector("#release-button")
    assert "Claimed by test-admin" in boss.locator("#claim-status").inner_text()
    log = CaseStore(settings).audit_log(entity="claim", entity_id="acct_review")
    assert [e["action"] for e in log] == ["claim.takeover", "claim.create"]


def test_allow_list_from_the_account_page(server, browser, tmp_path):  # noqa: F811
    base, settings, keys = server
    page = _login(browser, base, keys["analyst"])
    page.wait_for_selector("#queue-table")
    if os.environ.get("DG_SCREENSHOTS"):
        DOCS_IMG.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(DOCS_IMG / "queue.png"), full_page=True)
    page.goto(f"{base}/accounts/acct_block")
    page.wait_for_selector("#allowlist-form")
    if os.environ.get("DG_SCREENSHOTS"):
        page.screenshot(path=str(DOCS_IMG / "account.png"), full_page=True)
    page.fill("#allow-until", "2031-01-31")
    page.fill("#allow-reason", "contracted evaluation partner")
    page.click("#allowlist-form button[type=submit]")
    page.wait_for_selector("#allowlist-entries")
    assert "contracted evaluation partner" in page.locator("#allowlist-entries").inner_text()
    assert page.locator("#verdict-decision").inner_text() == "allow"
    entry = CaseStore(settings).allowlist()[0]
    assert (entry["account_id"], entry["analyst"]) == ("acct_block", "test-analyst")
