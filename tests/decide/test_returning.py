"""Returning actors: a new account linked to previously blocked ones is reviewed, never blocked."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import defaultdict
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from detector.decide import returning
from detector.decide.policy import at_least_review
from detector.lake.db import connect
from detector.lake.schema import REQUEST_SCHEMA
from detector.settings import load_settings

D1, D3, D12 = "2026-11-01", "2026-11-03", "2026-11-12"
HARVEST_UA = "HarvestKit/2.1 (linux; build 4471)"


@pytest.fixture
def home(tmp_path):
    s = load_settings(tmp_path / "h")
    s.ensure_dirs()
    return s


def req(account: str, day: str, i: int, *, ip: str = "198.51.100.7", ua: str = "MyApp/1.0",
        pay: str | None = None, system: str | None = None, prompt: str | None = None,
        max_tokens: int = 512) -> dict[str, Any]:
    ts = dt.datetime.fromisoformat(day).replace(tzinfo=dt.UTC) + dt.timedelta(minutes=7 * i)
    text = prompt or f"question {i} from {account} about subject {i * 13 % 97}"
    return {"request_id": hashlib.sha1(f"{account}{day}{i}".encode()).hexdigest(), "ts": ts,
            "account_id": account, "client_ip": ip,
            "ip_prefix": ".".join(ip.split(".")[:3]) + ".0/24", "user_agent": ua,
            "payment_fingerprint": pay, "system_hash": system, "prompt_text": text,
            "prompt_hash": hashlib.sha1(text.encode()).hexdigest(), "max_tokens": max_tokens,
            "temperature": 0.7, "completion_tokens": 100, "prompt_tokens": 20}


def write_lake(settings, rows: list[dict[str, Any]]) -> None:
    by_day: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        by_day[r["ts"].date().isoformat()].append(r)
    for day, rs in by_day.items():
        cols = {f.name: [r.get(f.name) for r in rs] for f in REQUEST_SCHEMA}
        path = settings.requests_dir / f"date={day}" / "part-0.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pydict(cols, schema=REQUEST_SCHEMA), path)


def many(account: str, day: str, n: int = 10, **kw: Any) -> list[dict[str, Any]]:
    return [req(account, day, i, **kw) for i in range(n)]


def verdicts(day: str, decisions: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame({"account_id": list(decisions), "date": dt.date.fromisoformat(day),
                         "decision": list(decisions.values()),
                         "allowlisted": False, "sources": [[] for _ in decisions]})


def score_day(settings, day: str, decisions: dict[str, str], new: set[str]) -> pd.DataFrame:
    """Link ``day``'s verdict rows (before links) as ``score_frame`` does; return them after."""
    out = verdicts(day, decisions)
    frame = out[["account_id", "date"]].assign(
        hist_days_since_first_seen=[0 if a in new else 40 for a in out["account_id"]])
    con = connect(settings)
    links = returning.link(settings, con, frame, out)
    after = at_least_review(out, sorted(links), returning.REASON)
    after["explanation_json"] = returning.annotate(pd.Series(["{}"] * len(out)), links)
    return after.set_index("account_id")


def block_on_day1(settings, rows: list[dict[str, Any]], others: list[str]) -> None:
    """``old`` is blocked on D1 (its keys indexed as ``decide.score`` does)."""
    write_lake(settings, rows)
    out = verdicts(D1, {"old": "block", **dict.fromkeys(others, "allow")})
    returning.write_index(settings, connect(settings), out)


OLD = dict(ip="203.0.113.9", ua=HARVEST_UA, pay="card-77", system="sys-harvest",
           max_tokens=4096)


def test_same_payment_on_a_fresh_account_is_reviewed_with_returning_actor(home):
    day1 = many("old", D1, **OLD) + many("bystander", D1)
    day3 = many("fresh", D3, pay="card-77") + many("bystander", D3)
    block_on_day1(home, day1 + day3, ["bystander"])
    out = score_day(home, D3, {"fresh": "allow", "bystander": "allow"}, new={"fresh"})
    assert out.loc["fresh", "decision"] == "review"
    assert returning.REASON in out.loc["fresh", "sources"]
    ev = json.loads(out.loc["fresh", "explanation_json"])["returning"]
    assert ev["keys"] == ["payment"]
    assert ev["matches"][0]["account_id"] == "old" and ev["matches"][0]["blocked_on"] == D1
    assert ev["matches"][0]["source"] == "verdict"
    assert out.loc["bystander", "decision"] == "allow"


def test_same_user_agent_alone_does_not_link(home):
    day3 = many("fresh", D3, ua=HARVEST_UA, ip="192.0.2.50")
    block_on_day1(home, many("old", D1, **OLD) + day3, [])
    out = score_day(home, D3, {"fresh": "allow"}, new={"fresh"})
    assert out.loc["fresh", "decision"] == "allow" and out.loc["fresh", "sources"] == []


def test_two_weak_keys_together_link(home):
    # same client profile (user agent + request parameters) and same /24 two days later
    day3 = many("fresh", D3, ip="203.0.113.200", ua=HARVEST_UA, max_tokens=4096)
    block_on_day1(home, many("old", D1, **OLD) + day3, [])
    out = score_day(home, D3, {"fresh": "allow"}, new={"fresh"})
    assert out.loc["fresh", "decision"] == "review"
    ev = json.loads(out.loc["fresh", "explanation_json"])["returning"]
    assert ev["keys"] == ["client", "prefix"]


def test_a_prefix_links_only_within_prefix_days_of_the_block(home):
    day12 = many("fresh", D12, ip="203.0.113.200", ua=HARVEST_UA, max_tokens=4096)
    block_on_day1(home, many("old", D1, **OLD) + day12, [])
    out = score_day(home, D12, {"fresh": "allow"}, new={"fresh"})
    assert out.loc["fresh", "decision"] == "allow"  # client alone: the /24 is 11 days old


def test_a_shared_campus_prefix_does_not_link(home):
    campus = [f"student{k}" for k in range(30)]
    day1 = many("old", D1, **{**OLD, "ip": "10.20.30.5"})
    day3 = many("fresh", D3, ip="10.20.30.77", ua=HARVEST_UA, max_tokens=4096)
    for k, a in enumerate(campus):
        day3 += many(a, D3, n=3, ip=f"10.20.30.{100 + k}", ua=f"Browser/{k}")
    block_on_day1(home, day1 + day3, [])
    out = score_day(home, D3, {"fresh": "allow", **dict.fromkeys(campus, "allow")},
                    new={"fresh", *campus})
    # the /24 is held by 31 accounts that day (> 20): ignored; the client profile alone is weak
    assert (out["decision"] == "allow").all()


def test_the_link_never_blocks_and_the_allow_list_wins(home):
    out = verdicts(D3, {"a": "allow", "r": "review", "b": "block", "x": "allow"})
    out["sources"] = [[], ["model"], ["harvest_x"], []]
    out["allowlisted"] = [False, False, False, True]
    after = at_least_review(out, [0, 1, 2, 3], returning.REASON)
    assert list(after["decision"]) == ["review", "review", "block", "allow"]
    assert after["sources"].tolist() == [["returning_actor"], ["model", "returning_actor"],
                                         ["harvest_x", "returning_actor"], []]
    # and a blocked account is never a candidate itself
    day3 = many("fresh", D3, pay="card-77")
    block_on_day1(home, many("old", D1, **OLD) + day3, [])
    assert score_day(home, D3, {"fresh": "block"}, new={"fresh"}).loc["fresh", "sources"] == []


def test_only_new_accounts_are_linked(home):
    day3 = many("veteran", D3, pay="card-77")
    block_on_day1(home, many("old", D1, **OLD) + day3, [])
    assert score_day(home, D3, {"veteran": "allow"}, new=set()).loc["veteran", "decision"] \
        == "allow"


def test_analyst_decisions_add_and_remove_blocked_accounts(home):
    from detector.cases import CaseStore

    day1 = many("old", D1, **OLD) + many("sold", D1, pay="card-88", ip="192.0.2.1")
    day3 = many("fresh", D3, pay="card-77") + many("fresh2", D3, pay="card-88")
    block_on_day1(home, day1 + day3, ["sold"])
    cases = CaseStore(home)
    cases.record_decision("old", "clear", "ana", date=D1)  # the block was a mistake
    cases.record_decision("sold", "confirm-block", "ana", date=D1)  # reviewed, then confirmed
    out = score_day(home, D3, {"fresh": "allow", "fresh2": "allow"}, new={"fresh", "fresh2"})
    assert out.loc["fresh", "decision"] == "allow"
    assert out.loc["fresh2", "decision"] == "review"
    ev = json.loads(out.loc["fresh2", "explanation_json"])["returning"]
    assert ev["matches"][0]["account_id"] == "sold" and ev["matches"][0]["source"] == "analyst"


def test_the_index_stores_keyed_hashes_only_and_ages_out(home):
    block_on_day1(home, many("old", D1, **OLD), [])
    path = returning.index_dir(home) / f"date={D1}" / "keys.parquet"
    t = pq.read_table(path).to_pandas()
    assert {"payment", "prefix", "client", "system"} <= set(t["key_type"])
    text = " ".join(t["key"])
    assert "card-77" not in text and "203.0.113" not in text and "HarvestKit" not in text
    write_lake(home, many("other", D12))
    returning.write_index(home, connect(home), verdicts(D12, {"other": "allow"}))
    kept = pq.read_table(path).to_pandas()  # 11 days later: the prefix rows are gone
    assert "prefix" not in set(kept["key_type"]) and "payment" in set(kept["key_type"])


def test_a_shared_template_and_system_prompt_link(home):
    wrapper = ("You are generating training data. Write a detailed expert answer about {t}. "
               "Think step by step, show every intermediate reasoning step, then give a final "
               "summary in three bullet points.")
    topics = ["tides", "glaciers", "enzymes", "bridges", "volcanoes", "markets", "orbits",
              "vaccines", "alloys", "rivers", "deserts", "comets"]

    def scripted(account, day, ts, **kw):
        return [req(account, day, i, prompt=wrapper.format(t=t), **kw) for i, t in enumerate(ts)]

    day1 = scripted("old", D1, topics[:6], **OLD)
    day3 = scripted("fresh", D3, topics[6:], ip="192.0.2.50", ua="Other/3", system="sys-harvest")
    day3 += many("chatty", D3, ip="192.0.2.51", system="sys-harvest")  # system prompt alone
    block_on_day1(home, day1 + day3, [])
    out = score_day(home, D3, {"fresh": "allow", "chatty": "allow"}, new={"fresh", "chatty"})
    assert out.loc["fresh", "decision"] == "review"
    assert json.loads(out.loc["fresh", "explanation_json"])["returning"]["keys"] == [
        "system", "template"]
    assert out.loc["chatty", "decision"] == "allow"


def test_shadow_diffs_count_the_link_as_its_own_family():
    from detector.decide.shadow import families

    assert families("returning_actor") == ["returning"]


def test_days_scored_together_link_across_each_other_and_across_gaps(home):
    # D1 and D3 scored in one call (``detector run --all``): D1's block links D3's account
    rows = many("old", D1, **OLD) + many("fresh", D3, pay="card-77")
    write_lake(home, rows)
    out = pd.concat([verdicts(D1, {"old": "block"}), verdicts(D3, {"fresh": "allow"})],
                    ignore_index=True)
    frame = out[["account_id", "date"]].assign(hist_days_since_first_seen=0)
    links = returning.link(home, connect(home), frame, out)
    assert sorted(links) == [1] and links[1]["matches"][0]["account_id"] == "old"
    # a stored day between two scored days (D2 stored, D1 and D3 scored now) is read too
    D2 = "2026-11-02"
    write_lake(home, rows + many("mid", D2, pay="card-99"))
    returning.write_index(home, connect(home), verdicts(D2, {"mid": "block"}))
    write_lake(home, rows + many("mid", D2, pay="card-99") + many("fresh2", D3, pay="card-99"))
    out = pd.concat([verdicts(D1, {"old": "allow"}), verdicts(D3, {"fresh2": "allow"})],
                    ignore_index=True)
    frame = out[["account_id", "date"]].assign(hist_days_since_first_seen=0)
    links = returning.link(home, connect(home), frame, out)
    assert sorted(links) == [1] and links[1]["matches"][0]["account_id"] == "mid"
