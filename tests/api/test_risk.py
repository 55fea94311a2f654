"""``risk`` in the verdict lookup, the account evidence, the index and the review queue."""

from __future__ import annotations

import time

import pyarrow as pa

from detector.api.verdict_index import VerdictIndex
from detector.lake.io import write_parquet_atomic
from detector.settings import load_settings
from detector.verdicts import VERDICT_SCHEMA

from .conftest import auth
from .fixtures import page_login, verdict_row, write_verdicts

SATURATED = [  # (account, score, risk): three at 1.000, ordered by risk, not by id
    ("acct_s1", 1.0, 4.2), ("acct_s2", 1.0, 6.8), ("acct_s3", 1.0, 5.1),
    ("acct_low", 0.7, 5.5), ("acct_norisk", 1.0, None),
]


def _write_day(settings, day="2026-11-28"):
    write_verdicts(settings, day, [verdict_row(a, day, s, "block" if s >= 0.9 else "review",
                                               "hv_logprobs", risk=r) for a, s, r in SATURATED])


def _wait_for(client, h, account_id, day):
    deadline = time.time() + 5
    while time.time() < deadline:
        body = client.get(f"/v1/verdicts/{account_id}", headers=h).json()
        if body["date"] == day:
            return body
        time.sleep(0.05)
    raise AssertionError(f"{account_id} never reached {day}")


def _ids(body):
    return [i["account_id"] for i in body["items"]]


def test_queue_sorts_by_risk_then_score_by_default(client, keys, settings):
    _write_day(settings)
    h = auth(keys["viewer"])
    _wait_for(client, h, "acct_s1", "2026-11-28")
    body = client.get("/v1/review-queue", headers=h, params={"date": "2026-11-28"}).json()
    assert _ids(body) == ["acct_s2", "acct_low", "acct_s3", "acct_s1", "acct_norisk"]
    assert [i["risk"] for i in body["items"]] == [6.8, 5.5, 5.1, 4.2, None]
    up = client.get("/v1/review-queue", headers=h,
                    params={"date": "2026-11-28", "sort": "risk"}).json()
    assert _ids(up) == ["acct_norisk", "acct_s1", "acct_s3", "acct_low", "acct_s2"]
    by_score = client.get("/v1/review-queue", headers=h,
                          params={"date": "2026-11-28", "sort": "-score"}).json()
    assert _ids(by_score)[-1] == "acct_low"
    # whole queue: verdicts with a risk come first, older rows without one after, by score
    everything = _ids(client.get("/v1/review-queue", headers=h).json())
    assert everything[:4] == ["acct_s2", "acct_low", "acct_s3", "acct_s1"]
    assert everything[4:] == ["acct_norisk", "acct_block", "acct_mid", "acct_gone", "acct_review"]


def test_lookup_and_account_evidence_carry_risk(client, keys, settings):
    _write_day(settings)
    body = _wait_for(client, auth(keys["hook"]), "acct_s2", "2026-11-28")
    assert body["risk"] == 6.8 and body["score"] == 1.0
    many = client.post("/v1/verdicts/lookup", headers=auth(keys["hook"]),
                       json={"account_ids": ["acct_s2", "acct_norisk", "nobody"]}).json()
    assert [v["risk"] for v in many["verdicts"]] == [6.8, None, None]
    acct = client.get("/v1/accounts/acct_s2", headers=auth(keys["viewer"])).json()
    assert acct["verdict"]["risk"] == 6.8 and acct["latest"]["risk"] == 6.8


def test_queue_page_offers_the_risk_sort(client, keys, settings):
    _write_day(settings)
    _wait_for(client, auth(keys["viewer"]), "acct_s1", "2026-11-28")
    page_login(client, keys["viewer"])
    page = client.get("/queue?tab=blocks")  # the saturated verdicts are automatic blocks
    assert page.status_code == 200
    assert 'value="-risk" selected' in page.text and "6.80" in page.text
    assert page.text.index("acct_s2") < page.text.index("acct_s1")


def test_index_reads_old_files_without_risk_beside_new_ones(tmp_path):
    s = load_settings(tmp_path / "h")
    old = pa.schema([f for f in VERDICT_SCHEMA if f.name != "risk"])
    row = verdict_row("old", "2026-01-01", 0.9, "block")
    row.pop("risk")
    write_parquet_atomic(s.verdicts_dir / "date=2026-01-01" / "verdicts.parquet",
                         pa.Table.from_pylist([row], schema=old))
    idx = VerdictIndex.load(s.verdicts_dir)
    assert idx.get("old")["risk"] is None and idx.get("old")["score"] == 0.9
    write_verdicts(s, "2026-01-02", [verdict_row("new", "2026-01-02", 1.0, "block", risk=5.0)])
    idx = VerdictIndex.load(s.verdicts_dir)
    assert idx.get("old")["risk"] is None and idx.get("new")["risk"] == 5.0
