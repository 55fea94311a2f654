"""detector.rules.threshold: the number a condition compares a column with, from the parsed
condition, replaced in place."""

from __future__ import annotations

import pytest

from detector.rules.condition import ConditionError
from detector.rules.threshold import find_threshold, format_number, replace_threshold


def test_find_threshold_reports_value_and_span():
    cond = "inf_account_age_days < 14\nAND vol_output_tokens >= 1e5\n"
    found = find_threshold(cond, "vol_output_tokens")
    assert found.value == 100000.0
    assert cond[found.start:found.end] == "1e5"


def test_replace_keeps_everything_but_the_number():
    cond = "inf_account_age_days < 14\n  AND   vol_output_tokens >= 100000\n"
    assert replace_threshold(cond, "vol_output_tokens", 2.5e5) == (
        "inf_account_age_days < 14\n  AND   vol_output_tokens >= 250000\n")
    assert replace_threshold(cond, "inf_account_age_days", 7.5) == (
        "inf_account_age_days < 7.5\n  AND   vol_output_tokens >= 100000\n")


def test_signed_numbers_are_replaced_with_their_sign():
    cond = "vol_output_tokens >= -5 AND vol_requests > +3"
    assert find_threshold(cond, "vol_output_tokens").value == -5.0
    assert replace_threshold(cond, "vol_output_tokens", 7) == "vol_output_tokens >= 7 AND vol_requests > +3"
    assert replace_threshold(cond, "vol_requests", 0.5) == "vol_output_tokens >= -5 AND vol_requests > 0.5"


def test_only_a_column_compared_with_a_number_counts():
    # the column inside a function, compared by equality, or with another column is no threshold
    cond = ("greatest(vol_requests, 0) >= 5 AND vol_requests = 3 "
            "AND vol_requests >= vol_output_tokens AND vol_output_tokens < 10")
    with pytest.raises(ValueError, match="column: .*'vol_requests'.*got 0"):
        find_threshold(cond, "vol_requests")
    with pytest.raises(ValueError, match="got 2"):
        find_threshold("vol_requests > 1 AND vol_requests < 9", "vol_requests")


def test_a_condition_the_rules_reject_is_rejected_here():
    with pytest.raises(ConditionError, match="unknown feature column"):
        find_threshold("vol_requestz >= 5", "vol_requestz")


def test_format_number():
    assert format_number(250000.0) == "250000"
    assert format_number(0.25) == "0.25"
    assert format_number(1e20) == "1e+20"
