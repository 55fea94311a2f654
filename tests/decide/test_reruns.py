"""Reruns: a block resting on the model alone is held at review when the day re-asks a
quarter or more of the account's own prompts of the week before (an evaluation harness
re-running its suite); blocks with other evidence stand."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import pandas as pd
import pytest

from detector.decide import reruns
from detector.decide.explain import explanation_json

from .test_relay_streams import home  # noqa: F401  (fixture)
from .test_returning import write_lake

DAY = "2026-11-05"


def _asks(account: str, day: str, prompts: range) -> list[dict]:
    """One request per prompt number in ``prompts`` on ``day``: the same number is the same
    prompt (text and hash) whatever the day."""
    start = dt.datetime.fromisoformat(day).replace(tzinfo=dt.UTC, hour=9)
    rows = []
    for k, i in enumerate(prompts):
        text = f"benchmark item {i}"
        rows.append({"request_id": hashlib.sha1(f"{account}{day}{i}".encode()).hexdigest(),
                     "ts": start + dt.timedelta(seconds=10 * k), "account_id": account,
                     "prompt_text": text, "prompt_hash": hashlib.sha1(text.encode()).hexdigest(),
                     "model": "m", "n_user_turns": 1})
    return rows


def _out(decisions: dict[str, tuple[str, list[str]]], day: str = DAY) -> pd.DataFrame:
    return pd.DataFrame({"account_id": list(decisions), "date": dt.date.fromisoformat(day),
                         "decision": [d for d, _ in decisions.values()],
                         "sources": [s for _, s in decisions.values()], "allowlisted": False})


def test_a_model_only_block_on_a_rerun_day_is_held_at_review(home):  # noqa: F811
    # the evaluator ran items 0-399 two days ago and re-runs 0-199 with 200 new ones today
    # (half re-asked); the harvester asks only new prompts; the one-rule harvester re-asks
    # too but a rule blocked it
    write_lake(home, _asks("evaluator", "2026-11-03", range(400))
               + _asks("evaluator", DAY, range(400)[:200]) + _asks("evaluator", DAY,
                                                                    range(1000, 1200))
               + _asks("harvester", "2026-11-04", range(300))
               + _asks("harvester", DAY, range(300, 600))
               + _asks("ruled", "2026-11-04", range(100)) + _asks("ruled", DAY, range(100)))
    out = _out({"evaluator": ("block", ["model"]), "harvester": ("block", ["model"]),
                "ruled": ("block", ["harvest_logprobs_long_outputs", "model"])})
    found = reruns.judge(home, out)
    assert found == {0: {"prompts": 400, "seen_before": 200, "share": 0.5,
                         "days": ["2026-11-03"]}}
    after = reruns.apply(out, found).set_index("account_id")
    assert after.loc["evaluator", "decision"] == "review"
    assert after.loc["evaluator", "sources"] == ["model", reruns.REASON]
    assert after.loc["harvester", "decision"] == "block"
    assert after.loc["ruled", "decision"] == "block"
    text = reruns.annotate([explanation_json(s, [], 0.0) for s in after["sources"]], found)
    assert json.loads(text[0])["rerun"]["seen_before"] == 200
    assert "rerun" not in json.loads(text[1])


def test_only_blocks_resting_on_the_model_alone_are_candidates():
    out = _out({"a": ("block", ["model"]), "thin": ("block", ["model",
                                                              "model_block_thin_evidence"]),
                "rule": ("block", ["volume_unique_prompts_long_outputs"]),
                "corroborated": ("block", ["model", "corroborated_block"]),
                "cluster": ("block", ["model", "cluster_escalation"]),
                "review": ("review", ["model"]), "capped": ("review", ["model",
                                                                       "model_block_capped"])})
    assert reruns.candidates(out) == [0, 1]
    out.loc[0, "allowlisted"] = True
    assert reruns.candidates(out) == [1]


def test_prompts_older_than_the_window_or_under_a_quarter_do_not_count(home):  # noqa: F811
    # items sent 8 days before are outside the 7-day window; a fifth re-asked is under the bar
    write_lake(home, _asks("old", "2026-10-28", range(100)) + _asks("old", DAY, range(100))
               + _asks("fifth", "2026-11-04", range(20))
               + _asks("fifth", DAY, list(range(20)) + list(range(500, 580))))
    rec = reruns.recurrence(home, DAY, ["old", "fifth", "absent"]).set_index("account_id")
    assert rec.loc["old", "seen"] == 0 and rec.loc["old", "days"] == []
    assert rec.loc["fifth", "seen"] == 20 and rec.loc["fifth", "prompts"] == 100
    assert "absent" not in rec.index
    out = _out({"old": ("block", ["model"]), "fifth": ("block", ["model"])})
    assert reruns.judge(home, out) == {}


def test_a_day_without_an_earlier_lake_day_is_no_rerun(home):  # noqa: F811
    write_lake(home, _asks("first", DAY, range(50)))
    rec = reruns.recurrence(home, DAY, ["first"])
    assert rec["seen"].tolist() == [0] and rec["prompts"].tolist() == [50]
    assert reruns.judge(home, _out({"first": ("block", ["model"])})) == {}


@pytest.mark.parametrize("decision", ["review", "allow"])
def test_apply_leaves_what_is_not_a_block(decision):
    out = _out({"a": (decision, ["model"])})
    assert reruns.apply(out, {0: {"share": 1.0}})["decision"].tolist() == [decision]
