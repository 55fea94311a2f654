"""Queue filters (rule, signal family, case state, claims, day), case age and the
group-by-cluster view, through the API and the page's query string."""

from __future__ import annotations

import re
import typing

from detector.api.queue_filters import FAMILY_LABELS, family_of
from detector.api.routers.review_queue import FamilyCode
from detector.cases import CaseStore
from detector.cases.claims import claim

from .conftest import auth
from .fixtures import page_login


def _ids(client, key, **params) -> list[str]:
    r = client.get("/v1/review-queue", params=params, headers=auth(key))
    assert r.status_code == 200, r.text
    return [it["account_id"] for it in r.json()["items"]]


def test_family_codes_of_the_api_are_the_registry_families():
    assert set(typing.get_args(FamilyCode)) == set(FAMILY_LABELS)
    assert family_of("harvest_logprobs_long_outputs") == "hv"
    assert family_of("w7_hv_output_input_ratio") == "hv"
    assert family_of("volume_sustained_output_harvest") == "vol"
    assert family_of("campaign_sweep") == "clu" and family_of("model_block_capped") == "model"


def test_rule_family_and_day_filters(client, keys):
    key = keys["viewer"]
    assert _ids(client, key, rule="div_templates") == ["acct_review"]
    # a rule name matches a whole reason, never a part of one
    assert _ids(client, key, rule="div_templ") == []
    assert _ids(client, key, rule="vol_requests") == ["acct_block"]  # second reason counts
    # family: of the top (first) reason only
    assert _ids(client, key, family="hv") == ["acct_block"]
    assert _ids(client, key, family="vol") == []
    assert _ids(client, key, family="tim") == ["acct_mid"]
    assert sorted(_ids(client, key, date="2026-11-25")) == ["acct_gone"]
    assert client.get("/v1/review-queue?family=nope", headers=auth(key)).status_code == 422


def test_case_state_and_claim_filters(client, keys, settings):
    store = CaseStore(settings)
    store.record_decision("acct_mid", "escalate", "ann", date="2026-11-27")
    claim(store, "acct_review", "test-analyst", ttl_s=600)
    claim(store, "acct_block", "someone-else", ttl_s=600)
    client.app.state.service.overrides.refresh()  # the decision, without waiting for the poll
    key = keys["analyst"]
    assert _ids(client, key, case="escalated", status="decided") == ["acct_mid"]
    assert _ids(client, key, case="blocked", status="decided") == []
    assert _ids(client, key, claimed="mine") == ["acct_review"]
    assert _ids(client, key, claimed="others") == ["acct_block"]
    assert "acct_review" not in _ids(client, key, claimed="unclaimed")
    items = client.get("/v1/review-queue", headers=auth(key)).json()["items"]
    by_id = {it["account_id"]: it for it in items}
    assert by_id["acct_review"]["claim"]["analyst"] == "test-analyst"
    assert by_id["acct_gone"]["claim"] is None


def test_case_age_counts_from_the_first_flagged_day(client, keys):
    items = client.get("/v1/review-queue", params={"decision": ["review", "block"]},
                       headers=auth(keys["viewer"])).json()["items"]
    age = {it["account_id"]: (it["first_flagged"], it["age_days"]) for it in items}
    # acct_block: allow on the 25th, review on the 26th, block on the 27th (newest day)
    assert age["acct_block"] == ("2026-11-26", 1)
    assert age["acct_gone"] == ("2026-11-25", 2)
    assert age["acct_review"] == ("2026-11-27", 0)


def test_group_by_cluster_counts_members_by_decision(client, keys):
    r = client.get("/v1/review-queue/clusters", headers=auth(keys["viewer"]))
    assert r.status_code == 200
    assert r.json()["items"] == [{"cluster_id": "clu_1", "members": 2, "review": 1, "block": 1,
                                  "allow": 0, "max_risk": None}]
    # the filters apply: a family no member's top reason has leaves no cluster
    r = client.get("/v1/review-queue/clusters?family=tim", headers=auth(keys["viewer"]))
    assert r.json()["total"] == 0


def test_queue_page_filters_live_in_the_url(client, keys):
    page_login(client, keys["viewer"])
    r = client.get("/queue?family=div&tab=reviews&sort=-score")
    assert r.status_code == 200
    rows = re.findall(r'class="acct-link" href="/accounts/([^"]+)"', r.text)
    assert rows == ["acct_review"]
    assert '<option value="div" selected>' in r.text  # the form shows the shared filters
    # the view switch keeps the filters
    link = re.search(r'href="/queue\?([^"]*view=clusters[^"]*)"', r.text).group(1)
    assert "family=div" in link and "sort=-score" in link
    r = client.get("/queue?view=clusters")
    assert 'href="/clusters/clu_1"' in r.text and 'id="cluster-groups"' in r.text
    assert client.get("/queue?claimed=everyone").status_code == 422
    r = client.get("/queue?status=escalated")
    assert r.status_code == 200 and 'value="escalated" selected' in r.text
