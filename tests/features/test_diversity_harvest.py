"""Prompt-diversity and output-harvesting features against hand-computed values."""

from __future__ import annotations

import pytest

from .feat_data import req, ts, write_day
from .feat_run import run_day

DAY = "2026-03-03"


@pytest.fixture(scope="module")
def rows(module_settings):
    # d: 4 requests; prompts: two templated ("Translate "x" for Alice 3" / "...Bob 45"), one exact
    # repeat of the first, one free text; a system prompt on 3 (2 distinct); 1 multi-turn
    d = [
        req("d", ts(DAY, 9), prompt='Translate "good day" for Alice 3', system_hash="s1",
            n_user_turns=2),
        req("d", ts(DAY, 9, 1), prompt='Translate "see you" for Bob 45', system_hash="s1"),
        req("d", ts(DAY, 9, 2), prompt='Translate "good day" for Alice 3', system_hash="s2"),
        req("d", ts(DAY, 9, 3), prompt="why is the sea salty"),
    ]
    # h: harvesting parameters on 4 requests
    h = [
        req("h", ts(DAY, 1), logprobs=True, top_logprobs=20, n=4, max_tokens=8192,
            prompt_tokens=10, completion_tokens=1000, reasoning_tokens=500, finish_reason="length",
            temperature=0.0, reasoning_effort="high", prompt="Solve 2+2. Think step by step."),
        req("h", ts(DAY, 2), logprobs=False, top_logprobs=5, n=1, max_tokens=4096,
            prompt_tokens=10, completion_tokens=1000, finish_reason="length", temperature=0.5,
            reasoning_effort="HIGH", prompt="Show your reasoning: what is 3*3"),
        req("h", ts(DAY, 3), max_tokens=100, prompt_tokens=20, completion_tokens=100,
            finish_reason="stop", temperature=1.0, reasoning_effort="low", prompt="hi"),
        req("h", ts(DAY, 4), prompt_tokens=None, completion_tokens=None, temperature=1.0,
            prompt="thanks"),
    ]
    write_day(module_settings, DAY, d + h)
    return run_day(module_settings, DAY)


def test_distinct_and_templates(rows):
    d = rows["d"]
    assert d["div_distinct_prompt_ratio"] == pytest.approx(3 / 4)
    # template features read the sample of distinct prompts, not the requests: the exact repeat
    # counts once. Templates: 'translate "q" for N 0' x2 (Alice, Bob), 'why is the sea salty'
    # x1 -> of the 3 pairs, 1 shares a template (pairs counted both ways: 2 of 6)
    assert d["div_template_reuse"] == pytest.approx(2 / 6)
    assert d["div_top_template_share"] == pytest.approx(2 / 3)


def test_multiturn_and_system(rows):
    d = rows["d"]
    assert d["div_multiturn_share"] == pytest.approx(1 / 4)
    assert d["div_system_share"] == pytest.approx(3 / 4)
    assert d["div_system_distinct_ratio"] == pytest.approx(2 / 3)
    assert rows["h"]["div_system_distinct_ratio"] is None


def test_logprobs_n_and_max_tokens(rows):
    h = rows["h"]
    assert h["hv_logprobs_share"] == pytest.approx(2 / 4)  # logprobs=True, or top_logprobs > 0
    assert h["hv_top_logprobs_mean"] == pytest.approx((20 + 5) / 4)
    assert h["hv_n_gt1_share"] == pytest.approx(1 / 4)
    assert h["hv_completions_per_request"] == pytest.approx((4 + 1 + 1 + 1) / 4)
    assert h["hv_max_tokens_mean"] == pytest.approx((8192 + 4096 + 100) / 3)
    assert h["hv_max_tokens_high_share"] == pytest.approx(2 / 4)
    assert rows["d"]["hv_max_tokens_mean"] is None


def test_ratios_and_finish(rows):
    h = rows["h"]
    assert h["hv_output_input_ratio"] == pytest.approx(2100 / 40)
    assert h["hv_length_finish_share"] == pytest.approx(2 / 3)  # 3 with a finish_reason
    assert h["hv_reasoning_token_share"] == pytest.approx(500 / 2100)
    assert rows["d"]["hv_length_finish_share"] is None


def test_temperature_and_effort(rows):
    h = rows["h"]
    assert h["hv_temperature_distinct"] == 3
    assert h["hv_temperature_range"] == pytest.approx(1.0)
    assert h["hv_high_effort_share"] == pytest.approx(2 / 4)  # 'high' and 'HIGH'


def test_cot_lexicon_and_classifier(rows):
    h = rows["h"]
    assert h["hv_cot_lexicon_share"] == pytest.approx(2 / 4)
    # sample = the 4 distinct prompts; the classifier flags the two elicitation prompts
    assert h["hv_cot_classifier_share"] == pytest.approx(2 / 4)
    assert rows["d"]["hv_cot_lexicon_share"] == 0.0


def test_repeated_texts_are_weighted_by_their_requests(settings):
    # regexes run once per distinct text: repeats must still count once per request.
    # c: the same CoT prompt 3 times, a plain one, a null prompt (template ""); user agents:
    # python-requests x2 (scripting), a browser, 2 null
    cot = "Please think step by step about 12 apples"
    rows = [req("c", ts(DAY, 5, i), prompt=cot, user_agent="python-requests/2.31") for i in range(2)]
    rows += [req("c", ts(DAY, 5, 2), prompt=cot, user_agent="Mozilla/5.0"),
             req("c", ts(DAY, 5, 3), prompt="hello there"),
             req("c", ts(DAY, 5, 4), prompt_text=None, prompt_hash=None)]
    write_day(settings, DAY, rows)
    c = run_day(settings, DAY)["c"]
    assert c["hv_cot_lexicon_share"] == pytest.approx(3 / 5)
    # the sample holds the 2 distinct hashed prompts (the null prompt has no hash), on 2 templates
    assert c["div_template_reuse"] == pytest.approx(0.0)
    assert c["div_top_template_share"] == pytest.approx(1 / 2)
    assert c["inf_script_ua_share"] == pytest.approx(2 / 5)
    assert c["inf_distinct_user_agents"] == 2
