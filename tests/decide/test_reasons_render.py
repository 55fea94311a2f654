"""The reason renderer (detector.decide.reasons): sentences, negligible features, rule values."""

from __future__ import annotations

import json

from detector.columns import column
from detector.decide.reasons import (
    RuleWords,
    column_conditions,
    reason_labels,
    structured_reasons,
)

RULE = RuleWords("harvest_x", "Long outputs in bulk", "block", False,
                 ("hv_output_input_ratio", "vol_output_tokens"),
                 column_conditions("hv_output_input_ratio > 8 AND vol_output_tokens >= 100000"))


def _feature(name, value, pct, median, contribution):
    return {"feature": name, "value": value, "percentile": pct, "median": median,
            "contribution": contribution}


def test_feature_sentence_has_value_direction_share_and_median():
    expl = {"top_features": [_feature("w7_hv_output_input_ratio", 31.2, 93.2, 4.1, 0.3)]}
    [r] = structured_reasons("w7_hv_output_input_ratio", json.dumps(expl), rules={})
    assert r["text"] == ("Output tokens per input token (7 days) 31.2 - higher than 93% of "
                         "the day's accounts (median 4.1)")
    assert (r["kind"], r["direction"], r["percentile"], r["median"], r["contribution"]) == \
        ("feature", "higher", 93.2, 4.1, 0.3)


def test_negligible_and_innocent_side_features_are_not_reasons():
    expl = {"top_features": [
        _feature("hv_temperature_range", 0.1, 13.0, 0.5, 0.0015),   # contribution below floor
        _feature("hv_logprobs_share", 0.0, 20.0, 0.1, 0.05),        # high is suspicious; p20
        _feature("tim_night_share", 0.4, 99.0, 0.05, None),         # saturated fallback: kept
    ]}
    out = structured_reasons("hv_temperature_range;hv_logprobs_share;tim_night_share", expl,
                             rules={})
    assert [r["code"] for r in out] == ["tim_night_share"]
    assert "higher than 99%" in out[0]["text"] and "40%" in out[0]["text"]


def test_rule_sentence_names_title_values_and_thresholds():
    expl = {"rule_values": {"harvest_x": {"hv_output_input_ratio": 12.5,
                                          "vol_output_tokens": 250000}}}
    [r] = structured_reasons("harvest_x", expl, rules={"harvest_x": RULE})
    assert r["text"] == ("Long outputs in bulk: Output tokens per input token 12.5 (rule: > 8), "
                         "Output tokens 250,000 (rule: >= 100,000)")
    assert r["values"][0] == {"column": "hv_output_input_ratio",
                              "label": "Output tokens per input token", "value": 12.5,
                              "condition": "> 8"}
    assert r["action"] == "block" and r["shadow"] is False


def test_rule_without_stored_values_and_shadow_hits():
    out = structured_reasons("harvest_x", None, shadow_hits=["harvest_x"],
                             rules={"harvest_x": RULE})
    assert out[0]["text"] == "Long outputs in bulk" and out[0]["values"] == []
    assert out[1]["shadow"] is True and out[1]["text"].startswith("Shadow rule")


def test_policy_analyst_and_unknown_tokens():
    out = structured_reasons(["model_block_capped", "analyst:confirm-block", "gone_rule"],
                             rules={})
    assert [r["kind"] for r in out] == ["policy", "analyst", "other"]
    assert out[0]["text"].startswith("The classifier alone would have blocked")
    assert "no longer in the rule set" in out[2]["text"]
    assert all(r["schema"] == "reason/1" for r in out)


def test_population_overrides_stored_percentile_and_median():
    expl = {"top_features": [_feature("vol_peak_rpm", 90, 92.75, 3.0, 0.2)]}
    [r] = structured_reasons("vol_peak_rpm", expl, rules={},
                             population={"vol_peak_rpm": {"percentile": 94.0, "median": 5.0}})
    assert "higher than 94% of the day's accounts (median 5)" in r["text"]


def test_conditions_flip_literal_on_the_left_and_keep_between():
    conds = column_conditions("0.5 < hv_logprobs_share AND vol_requests BETWEEN 10 AND 20 "
                              "AND hv_n_gt1_share > hv_logprobs_share")
    assert conds["hv_logprobs_share"] == ["> 50%"]
    assert conds["vol_requests"] == ["between 10 and 20"]
    assert "hv_n_gt1_share" not in conds


def test_reason_labels_for_queue_rows():
    labels = reason_labels("harvest_x;tim_night_share;campaign_sweep",
                           rules={"harvest_x": RULE})
    assert [x["label"] for x in labels] == ["Long outputs in bulk", column("tim_night_share").label,
                                            "Part of a split topic sweep"]
