"""Langfuse observations from its public API, joined to their traces' users.
Fixtures are response bodies of GET /api/public/observations and GET /api/public/traces as
Langfuse's API reference describes them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detector.errors import InputError
from detector.ingest.adapters.langfuse import map_observation
from detector.ingest.formats import detect
from detector.ingest.normalize import Limits
from detector.ingest.parse import safe_normalize
from detector.lake.db import connect
from detector.lake.schema import REQUEST_SCHEMA

from .ingest_helpers import ingest_counted as ingest
from .ingest_helpers import rows_by_id as rows

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "ingest" / "langfuse"
OBS, TRACES = FIX / "observations.json", FIX / "traces.json"


def test_detected_from_structure():
    assert detect(OBS) == "langfuse" and detect(TRACES) == "langfuse"


def test_generations_joined_to_trace_users(home):
    res = ingest(home, [OBS, TRACES])
    assert (res.read, res.accepted, res.quarantined) == (5, 4, 1)  # spans are no requests
    got = rows(home)
    g0 = got["gen-0"]
    assert (g0["account_id"], g0["model"], g0["prompt_text"], g0["system_prompt"]) == (
        "user-0", "gpt-4o", "Explain lesson 0", "You are a tutor.")
    assert (g0["temperature"], g0["max_tokens"]) == (0.7, 300)
    assert (g0["prompt_tokens"], g0["completion_tokens"], g0["latency_ms"]) == (25, 60, 1200.0)
    assert g0["output_chars"] == len("Here is the lesson.") and g0["status"] is None
    assert got["gen-4"]["status"] == 500  # level ERROR: a failed request
    reason = connect(home).execute("SELECT reason FROM quarantine").fetchone()[0]
    assert "trace-3" in reason and "--account-id" in reason


def test_without_traces_every_generation_names_the_missing_file(home):
    res = ingest(home, [OBS])  # 5 records: judged one by one, each quarantined with the hint
    assert (res.accepted, res.quarantined) == (0, 5)


def test_session_key_and_account_id(home, tmp_path):
    ingest(home, [OBS, TRACES], account_key="session")
    assert {r["account_id"] for r in rows(home).values()} == {"sess-0", "sess-1", "sess-2"}
    from detector.settings import load_settings

    h2 = load_settings(tmp_path / "h2")
    ingest(h2, [OBS, TRACES], account_id="project-1")
    got = rows(h2)
    assert {r["account_id"] for r in got.values()} == {"project-1"}
    assert got["gen-0"]["end_user_hash"] is not None  # the trace's userId as end user
    with pytest.raises(InputError, match="user, session"):
        ingest(load_settings(tmp_path / "h3"), [OBS], account_key="team")


_s = st.text(min_size=1, max_size=10).filter(str.strip)


@st.composite
def generation(draw):
    obs = {"id": draw(_s), "traceId": "t1", "type": "GENERATION",
           "startTime": "2026-11-27T16:00:00.300Z"}
    opt = {"endTime": st.just("2026-11-27T16:00:01.500Z"), "model": _s,
           "input": st.lists(st.fixed_dictionaries({"role": st.just("user"), "content": _s}),
                             min_size=1, max_size=3),
           "output": st.fixed_dictionaries({"role": st.just("assistant"), "content": _s}),
           "usageDetails": st.fixed_dictionaries({"input": st.integers(0, 10**6),
                                                  "output": st.integers(0, 10**6)}),
           "modelParameters": st.fixed_dictionaries({"temperature": st.floats(0, 2)}),
           "level": st.sampled_from(["DEFAULT", "ERROR"])}
    for k, strat in opt.items():
        if draw(st.booleans()):
            obs[k] = draw(strat)
    return obs


@settings(max_examples=150, deadline=None)
@given(generation(), st.one_of(st.none(), _s))
def test_property_every_carried_field_arrives(obs, session):
    row = safe_normalize(map_observation(obs, {"t1": ("u1", session)}), Limits(), [])
    assert isinstance(row, tuple), row
    got = dict(zip([f.name for f in REQUEST_SCHEMA], row, strict=False))
    assert (got["request_id"], got["account_id"]) == (obs["id"], "u1")
    for src, col in (("endTime", "latency_ms"), ("model", "model"), ("output", "output_chars"),
                     ("modelParameters", "temperature")):
        if src in obs:
            assert got[col] is not None, src
    if "input" in obs:
        assert got["prompt_chars"] > 0
    if "usageDetails" in obs:
        assert (got["prompt_tokens"], got["completion_tokens"]) == (
            obs["usageDetails"]["input"], obs["usageDetails"]["output"])
    assert got["status"] == (500 if obs.get("level") == "ERROR" else None)
    if session:
        assert json.loads(got["metadata_json"])["sessionId"] == session


@pytest.mark.parametrize("first", ["traces", "observations"])
def test_traces_and_observations_in_different_commands_join(home, tmp_path, first):
    from detector.settings import load_settings

    together = load_settings(tmp_path / "together")
    ingest(together, [OBS, TRACES])
    order = [TRACES, OBS] if first == "traces" else [OBS, TRACES]
    a = ingest(home, [order[0]])
    b = ingest(home, [order[1]])
    skip = {"source_file", "source_line", "ingest_id"}
    strip = {k: {c: v for c, v in r.items() if c not in skip} for k, r in rows(home).items()}
    assert strip == {k: {c: v for c, v in r.items() if c not in skip}
                     for k, r in rows(together).items()}
    if first == "observations":  # quarantined and held, then read with their traces
        assert (a.accepted, a.quarantined) == (0, 5) and b.accepted == 4
    else:
        assert a.read == 0 and b.accepted == 4
