"""Review queue filters/sort/paging, account evidence by role, decisions, errors, metrics."""

from __future__ import annotations

import datetime as dt
import json

from .conftest import auth
from .fixtures import PII_PROMPT, page_login


def _ids(body):
    return [i["account_id"] for i in body["items"]]


def test_queue_default_is_open_flagged_by_score(client, keys):
    body = client.get("/v1/review-queue", headers=auth(keys["viewer"])).json()
    assert body["total"] == 4
    assert _ids(body) == ["acct_block", "acct_mid", "acct_gone", "acct_review"]


def test_queue_filters_sort_and_pages(client, keys):
    h = auth(keys["viewer"])
    get = lambda **p: client.get("/v1/review-queue", headers=h, params=p).json()  # noqa: E731
    assert _ids(get(decision="block")) == ["acct_block"]
    assert _ids(get(min_score=0.7)) == ["acct_block", "acct_mid", "acct_gone"]
    assert _ids(get(date="2026-11-25")) == ["acct_gone"]
    assert _ids(get(cluster_id="clu_1")) == ["acct_block", "acct_review"]
    assert _ids(get(sort="score")) == ["acct_review", "acct_gone", "acct_mid", "acct_block"]
    assert _ids(get(sort="account_id")) == ["acct_block", "acct_gone", "acct_mid", "acct_review"]
    assert _ids(get(sort="-date"))[-1] == "acct_gone"
    assert _ids(get(account="acct_m")) == ["acct_mid"]
    page = get(limit=2, offset=2)
    assert page["total"] == 4 and _ids(page) == ["acct_gone", "acct_review"]


def test_decided_accounts_leave_the_open_queue(client, keys):
    client.post("/v1/accounts/acct_mid/decisions", headers=auth(keys["analyst"]),
                json={"decision": "needs-more-data", "date": "2026-11-27"})
    h = auth(keys["viewer"])
    assert "acct_mid" not in _ids(client.get("/v1/review-queue", headers=h).json())
    decided = client.get("/v1/review-queue", headers=h, params={"status": "decided"}).json()
    assert decided["items"][0]["account_id"] == "acct_mid"
    assert decided["items"][0]["case_status"] == "needs-more-data"


def test_account_evidence_for_analyst_is_masked(client, keys):
    body = client.get("/v1/accounts/acct_block", headers=auth(keys["analyst"])).json()
    feats = {f["name"]: f for f in body["features"]}
    # population of 4 on 2026-11-27: vol_requests 900 > 300, 100, 5 -> (3 + 0.5) / 4
    assert feats["vol_requests"]["percentile"] == 87.5 and feats["vol_requests"]["median"] == 200
    assert feats["cov_topic_entropy"]["family"] == "cov"
    assert body["latest"]["rule_hits"] == ["hv_logprobs"]
    assert body["latest"]["shadow_hits"] == ["exp_rule"]
    assert body["latest"]["explanation"]["top_features"][0]["feature"] == "vol_requests"
    assert [t["date"] for t in body["timeline"]] == ["2026-11-25", "2026-11-26", "2026-11-27"]
    assert sum(a["requests"] for a in body["activity"]) == 60  # 30 a day, two lake days
    assert body["org_id"] == "org_x"
    samples = body["prompts"]["samples"]
    assert len(samples) == 20 and body["prompts"]["visible"] is True
    text = json.dumps(samples)
    for secret in ("jane.doe@example.com", "555", "4111", "sk-proj-ABCDEFGH"):
        assert secret not in text
    assert "[email]" in samples[0]["prompt"] and "[card]" in samples[0]["prompt"]
    assert "17 * 23" in samples[0]["prompt"]  # the task itself stays readable


def test_account_evidence_for_viewer_has_no_prompt_text(client, keys):
    body = client.get("/v1/accounts/acct_block", headers=auth(keys["viewer"])).json()
    assert body["prompts"]["visible"] is False
    assert body["prompts"]["samples"] and all("prompt" not in s for s in body["prompts"]["samples"])
    assert PII_PROMPT[:20] not in json.dumps(body)


def test_unknown_account_is_404_json(client, keys):
    r = client.get("/v1/accounts/nobody", headers=auth(keys["viewer"]))
    assert r.status_code == 404
    assert r.json() == {"error": "not_found",
                        "detail": "account 'nobody': no verdict, case or decision known"}


def test_decision_recorded_with_key_name_and_listed(client, keys):
    r = client.post("/v1/accounts/acct_review/decisions", headers=auth(keys["analyst"]),
                    json={"decision": "confirm-block", "note": "templated prompts"})
    assert r.status_code == 201
    assert r.json()["analyst"] == "test-analyst" and r.json()["status"] == "blocked"
    listed = client.get("/v1/accounts/acct_review/decisions", headers=auth(keys["viewer"])).json()
    assert [d["note"] for d in listed] == ["templated prompts"]
    audit = client.get("/v1/audit-log", headers=auth(keys["admin"]),
                       params={"entity": "case", "entity_id": "acct_review"}).json()
    assert audit[0]["actor"] == "test-analyst" and audit[0]["after"]["status"] == "blocked"


def test_errors_are_json_without_traces(client, keys):
    h = auth(keys["analyst"])
    r = client.post("/v1/accounts/acct_review/decisions", headers=h, json={"decision": "nuke"})
    assert r.status_code == 422 and r.json()["error"] == "invalid_request"
    assert "decision" in r.json()["detail"]
    r = client.post("/v1/accounts/acct_review/decisions", headers=h, content=b"{not json",
                    )
    assert r.status_code == 422 and "Traceback" not in r.text
    r = client.get("/v1/review-queue", headers=h, params={"limit": 0})
    assert r.status_code == 422 and "limit" in r.json()["detail"]
    r = client.get("/v1/nothing-here", headers=h)
    assert r.status_code == 404 and r.json()["error"] == "not_found"
    r = client.post("/v1/allowlist", headers=h, json={"account_id": "a", "org_id": "o",
                                                       "reason": "x"})
    assert r.status_code == 422 and "exactly one" in r.json()["detail"]
    r = client.delete("/v1/allowlist/12345", headers=h)
    assert r.status_code == 404 and "12345" in r.json()["detail"]


def test_internal_errors_do_not_leak(client, keys, monkeypatch):
    svc = client.app.state.service

    def boom(account_id):
        raise RuntimeError("secret internals /etc/passwd")

    monkeypatch.setattr(svc, "verdict", boom)
    r = client.get("/v1/verdicts/acct_block", headers=auth(keys["hook"]))
    assert r.status_code == 500 and r.json()["error"] == "internal"
    assert "passwd" not in r.text and "Traceback" not in r.text


def test_metrics_prometheus_format(client, keys):
    client.get("/v1/verdicts/acct_block", headers=auth(keys["hook"]))
    text = client.get("/metrics", headers=auth(keys["viewer"])).text
    assert ('dg_http_requests_total{method="GET",route="/v1/verdicts/{account_id}",status="200"} 1'
            in text)
    assert "# TYPE dg_http_request_duration_seconds histogram" in text
    assert "dg_verdict_index_accounts 5" in text
    assert 'dg_verdicts_by_decision{decision="review"} 3' in text
    assert 'dg_verdict_lookups_total{decision="block"} 1' in text


def test_rules_and_reports(client, keys):
    h = auth(keys["viewer"])
    rules = client.get("/v1/rules", headers=h)
    if rules.status_code == 200:
        body = rules.json()
        assert body["date"] == "2026-11-27" and len(body["ruleset_hash"]) == 64
        assert all({"id", "family", "status", "hits_latest_day"} <= set(r) for r in body["rules"])
    report = client.get("/v1/reports/2026-11-27", headers=h)
    assert report.status_code == 200 and report.json()["date"] == "2026-11-27"
    assert client.get("/v1/reports/2020-01-01", headers=h).status_code == 404
    assert client.get("/v1/reports/latest", headers=h).json()["date"] == "2026-11-27"


def test_cluster_members_and_edge_evidence(client, keys):
    body = client.get("/v1/clusters/clu_1", headers=auth(keys["viewer"])).json()
    assert [m["account_id"] for m in body["members"]] == ["acct_block", "acct_review"]
    assert [m["decision"] for m in body["members"]] == ["block", "review"]
    # viewers never see the payment fingerprint itself (tests/security/test_masking.py)
    assert body["edges"][0]["evidence"] == {"payment_fingerprint": "[payment]",
                                            "shared_requests": 42}
    assert client.get("/v1/clusters/nope", headers=auth(keys["viewer"])).status_code == 404
    account = client.get("/v1/accounts/acct_block", headers=auth(keys["viewer"])).json()
    assert account["cluster"]["n_members"] == 2 and account["cluster"]["available"] is True


def test_cluster_page_renders(client, keys):
    page_login(client, keys["viewer"])
    page = client.get("/clusters/clu_1")
    assert page.status_code == 200
    assert "shared_payment" in page.text and "pm_ab12" not in page.text
    assert 'href="/accounts/acct_review"' in page.text


def test_campaign_shown_like_a_cluster(client, keys, settings):
    import pandas as pd

    from detector.clusters.store import write_campaigns

    day = dt.date(2026, 11, 27)
    camps = pd.DataFrame({"cluster_id": ["c_camp"], "previous_cluster_id": [None], "date": [day],
                          "size": [2], "kind": ["campaign"], "first_seen": ["2026-11-27"],
                          "clu_total_requests": [80], "group_surprise_nats": [31.5],
                          "random_sets_as_disjoint": [0.0]})
    members = pd.DataFrame({"cluster_id": ["c_camp"] * 2, "account_id": ["acct_mid", "acct_allow"],
                            "degree": [1, 1], "strength": [0.8, 0.8], "date": [day] * 2})
    edges = pd.DataFrame({"src": ["acct_allow"], "dst": ["acct_mid"], "edge_type": ["coverage"],
                          "weight": [0.8], "evidence": [json.dumps({"shared_topics": 0})],
                          "family": ["coverage"], "window": ["7d"], "pair_score": [0.8],
                          "linked": [True], "date": [day]})
    write_campaigns(settings, "2026-11-27", camps, members, edges)
    body = client.get("/v1/clusters/c_camp", headers=auth(keys["viewer"])).json()
    assert body["kind"] == "campaign" and body["size"] == 2
    assert [m["account_id"] for m in body["members"]] == ["acct_allow", "acct_mid"]
    assert body["edges"][0]["evidence"] == {"shared_topics": 0}
    linked = client.get("/v1/clusters/clu_1", headers=auth(keys["viewer"])).json()
    assert linked["kind"] == "linked"
    page_login(client, keys["viewer"])
    page = client.get("/clusters/c_camp")
    assert page.status_code == 200 and "coverage" in page.text and "Campaign" in page.text
    assert 'href="/accounts/acct_mid"' in page.text
