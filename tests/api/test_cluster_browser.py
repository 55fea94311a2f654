"""The cluster page in a real headless Chromium: an analyst opens a 40-member
cluster, sees the summary and its graph, and records one decision for the whole cluster from
the page; every member gets its own audited decision. With ``DG_SCREENSHOTS=1`` the page is
saved to ``docs/img/cluster.png``. Skipped like ``test_pages_browser.py`` when chromium or
playwright is missing locally (CI installs both)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from .cluster_home import CLUSTER_ID, DAY, build_big_cluster, expected_verdicts, member_ids
from .test_pages_browser import browser, live_app, pytestmark  # noqa: F401 (fixture)

MEMBERS = 40
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "img" / "cluster.png"


@pytest.fixture()
def cluster_server(tmp_path):
    from .fixtures import build_home

    settings, keys = build_home(tmp_path / "home")
    build_big_cluster(settings, MEMBERS)
    with live_app(settings) as url:
        yield url, settings, keys


def test_bulk_decide_a_cluster_from_its_page(cluster_server, browser):  # noqa: F811
    base, settings, keys = cluster_server
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{base}/login?next=/clusters/{CLUSTER_ID}")
    page.fill("#key", keys["analyst"])
    page.click("button[type=submit]")
    page.wait_for_selector("#cluster-summary")
    tiles = {t.get_attribute("data-verdict"): t.locator(".v").inner_text()
             for t in page.locator("#cluster-summary .tile[data-verdict]").all()}
    assert tiles == {k: str(v) for k, v in expected_verdicts(MEMBERS).items()}
    graph = page.locator("#cluster-graph svg")
    assert graph.is_visible()
    assert graph.locator("a circle").count() == MEMBERS  # <= 60 members: each one drawn
    if os.environ.get("DG_SCREENSHOTS") == "1":
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        page.set_viewport_size({"width": 1280, "height": 1500})
        page.screenshot(path=str(SCREENSHOT), full_page=False)  # summary, graph, keys

    page.on("dialog", lambda d: d.accept())  # "Block this account at the gateway?"
    page.check("#bulk-form input[name=scope][value=all]")
    page.check("#bulk-form input[name=decision][value=confirm-block]")
    page.fill("#bulk-note", "one operation: shared payment, ticket T-21")
    page.click("#bulk-form button[type=submit]")
    page.wait_for_selector(".notice")
    assert f"recorded for {MEMBERS} members" in page.locator(".notice").inner_text()

    from detector.cases import CaseStore

    store = CaseStore(settings)
    decisions = store.decisions()
    assert sorted(d["account_id"] for d in decisions) == member_ids(MEMBERS)
    assert {(d["decision"], d["note"], d["date"], d["analyst"]) for d in decisions} == {
        ("confirm-block", "one operation: shared payment, ticket T-21", DAY, "test-analyst")}
    audited = {row["after"]["account_id"] for row in store.audit_log(entity="decision")}
    assert audited == set(member_ids(MEMBERS))
