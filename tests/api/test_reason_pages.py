"""Account page and queue show reasons as sentences, and detection reasons stay after a
decision, beside who decided, when and why."""

from __future__ import annotations

import html as html_lib
import json
import re

from fastapi.testclient import TestClient

from detector.api.app import create_app
from detector.api.deps import csrf_token

from .fixtures import build_home, page_login, verdict_row, write_verdicts

RULE = "harvest_max_length_outputs"
CODES = (RULE, "model_block_capped", "campaign_sweep", "vol_requests")


def _home(tmp_path):
    settings, keys = build_home(tmp_path / "home")
    row = verdict_row("acct_words", "2026-11-27", 0.9, "review",
                      f"{RULE};model_block_capped;campaign_sweep;vol_requests", rule_hits=[RULE])
    row["explanation_json"] = json.dumps({
        "sources": [RULE, "model", "model_block_capped"], "anomaly_score": 0.5,
        "top_features": [{"feature": "vol_requests", "value": 900.0, "percentile": 99.0,
                          "median": 10.0, "contribution": 0.2}],
        "rule_values": {RULE: {}}})
    others = [verdict_row("acct_block", "2026-11-27", 0.95, "block", "vol_requests", "clu_1")]
    write_verdicts(settings, "2026-11-27", [row, *others])
    return settings, keys


def _visible(html: str, element_id: str) -> str:
    block = re.search(rf'id="{element_id}".*?</(ul|div)>', html, re.S).group(0)
    return html_lib.unescape(re.sub(r"<[^>]+>", " ", block))


def test_account_page_shows_sentences_not_codes_and_keeps_them_after_a_decision(tmp_path):
    settings, keys = _home(tmp_path)
    with TestClient(create_app(settings, check_every_s=0.1)) as client:
        session = page_login(client, keys["analyst"])
        html = client.get("/accounts/acct_words").text
        text = _visible(html, "detection-reasons")
        assert "The classifier alone would have blocked" in text
        assert "split one sweep of the topic space" in text
        # acct_words is not in the day's feature table, so the stored figures stand
        assert "Requests 900 - higher than 99% of the day's accounts (median 10)" in text
        assert all(code not in text for code in CODES), text
        # acct_block is (vol_requests 900 of 900, 300, 100, 5): the page's own mid-rank
        # percentile (3.5 / 4 = 87.5) and median (200) replace the stored 99 / 10, so the
        # sentence, the feature table and the chart say one number
        page = client.get("/accounts/acct_block").text
        assert ("Requests 900 - higher than 88% of the day's accounts (median 200)"
                in _visible(page, "detection-reasons"))
        assert re.search(r"<td>vol_requests</td><td>daily</td><td class=\"num\">[^<]*</td>"
                         r"<td class=\"num\">88</td>", page)
        assert ">p88</text>" in page
        r = client.post("/accounts/acct_words/decisions",
                        data={"decision": "confirm-block", "csrf": csrf_token(session),
                              "note": "bulk harvest, ticket T-1", "date": "2026-11-27"},
                        follow_redirects=False)
        assert r.status_code == 303
        html = client.get("/accounts/acct_words").text
        decided = _visible(html, "gateway-decision")
        assert "Analyst confirmed the block" in decided and "bulk harvest, ticket T-1" in decided
        assert "analyst:confirm-block" not in decided
        assert "The classifier alone would have blocked" in _visible(html, "detection-reasons")


def test_queue_rows_show_words(tmp_path):
    settings, keys = _home(tmp_path)
    with TestClient(create_app(settings, check_every_s=0.1)) as client:
        page_login(client, keys["analyst"])
        html = client.get("/queue").text
        row = re.search(r'href="/accounts/acct_words".*?</tr>', html, re.S).group(0)
        cell = re.sub(r"<[^>]+>", " ", re.search(r'<td class="reasons">.*?</td>', row,
                                                 re.S).group(0))
        assert "Model block capped at review" in cell and "Part of a split topic sweep" in cell
        assert all(code not in cell for code in CODES), cell
