"""The column registry: its API, its entries, and agreement with the schemas it describes."""

from __future__ import annotations

import math

import pyarrow as pa
import pytest

import detector.columns as C
from detector.lake.schema import REQUEST_SCHEMA
from detector.verdicts import VERDICT_SCHEMA

#: The classifier's volume exclusions as they were when train.VOLUME_FEATURES was a literal
#: list: the registry's volume=True attribute must give exactly this set (default model inputs
#: unchanged).
VOLUME_FEATURES_BEFORE = {
    "vol_requests", "vol_input_tokens", "vol_output_tokens", "vol_peak_rpm", "vol_active_hours",
    "w7_vol_requests", "w7_vol_input_tokens", "w7_vol_output_tokens", "w7_vol_peak_rpm",
    "w7_vol_active_hours", "tim_hour_entropy", "w7_tim_hour_entropy", "hv_temperature_distinct",
    "inf_distinct_ips", "inf_distinct_prefixes", "inf_distinct_user_agents",
    "inf_distinct_api_keys", "inf_distinct_end_users",
    "cov_n_distinct", "cov_n_sampled", "cov_topics_hit",
}
#: Volume columns added to the registry after that list: each grows with the account's volume
#: as the column it sits beside does (``tim_busy_window_hours``, as ``tim_hour_entropy``).
VOLUME_FEATURES_ADDED = {"tim_busy_window_hours"}


def test_every_entry_is_complete() -> None:
    entries = C.columns()
    assert len({c.name for c in entries}) == len(entries)
    for c in entries:
        assert c.label.strip() and c.unit.strip() and c.meaning.strip() and c.dtype.strip(), c
        assert c.label[0] == c.label[0].upper() or not c.label[0].isalpha(), c.name
        assert c.direction in (None, "higher", "lower"), c.name
        assert c.family in C.FAMILIES, c.name
        if c.family not in ("key", "verdict", "lake"):
            assert c.why.strip(), c.name
            assert c.name.startswith(c.family + "_") or c.name in ("cluster_id", "w7_days_active")
        assert not c.name.startswith("w7_") or not c.window


def test_column_resolves_window_names_and_rejects_the_rest() -> None:
    base = C.column("hv_output_input_ratio")
    assert base.family == "hv" and base.direction == "higher" and base.window
    w7 = C.column("w7_hv_output_input_ratio")
    assert w7.name == "w7_hv_output_input_ratio"
    assert w7.label == base.label + " (7 days)" and w7.meaning == base.meaning
    assert C.column("w7_days_active").family == "vol"
    assert C.is_known("w7_vol_requests") and C.is_known("cluster_id") and C.is_known("score")
    for bad in ("w7_div_near_dup_rate", "cov_typo", "clu_typo", "w7_cov_typo", "vol_request",
                "w7_w7_vol_requests", ""):
        assert not C.is_known(bad)
    with pytest.raises(C.UnknownColumn) as err:
        C.column("vol_request")
    assert isinstance(err.value, KeyError)
    assert "'vol_request'" in str(err.value) and "did you mean 'vol_requests'" in str(err.value)
    assert err.value.matches[0] == "vol_requests" and len(err.value.matches) <= 3
    assert "did you mean 'cov_" in str(pytest.raises(C.UnknownColumn, C.column, "cov_typo").value)


def test_columns_by_family_in_registry_order() -> None:
    hv = C.columns("hv")
    assert hv and all(c.family == "hv" for c in hv)
    assert [c.name for c in C.columns()].index("vol_requests") < [
        c.name for c in C.columns()].index("hv_logprobs_share")
    assert sum(len(C.columns(f)) for f in C.FAMILIES) == len(C.columns())
    with pytest.raises(KeyError, match="'nope'"):
        C.columns("nope")
    assert C.family_label("hv") == "output harvesting"
    with pytest.raises(KeyError, match="expected one of"):
        C.family_label("xx")


@pytest.mark.parametrize(("name", "value", "text"), [
    ("hv_logprobs_share", 0.42, "42%"),
    ("w7_hv_logprobs_share", 0.004, "0.4%"),
    ("hv_logprobs_share", 0.0, "0%"),
    ("vol_requests", 1234567, "1,234,567"),
    ("clu_total_requests", 12000.0, "12,000"),
    ("hv_output_input_ratio", 31.234, "31.2"),
    ("hv_output_input_ratio", 0.012345, "0.0123"),
    ("tim_burstiness", -0.5, "-0.5"),
    ("hv_output_input_ratio", None, "n/a"),
    ("hv_output_input_ratio", math.nan, "n/a"),
    ("cov_mmd_exceeds", True, "yes"),
    ("decision", "block", "block"),
])
def test_format_value(name: str, value: object, text: str) -> None:
    assert C.format_value(name, value) == text


def test_format_value_of_an_unknown_column_raises() -> None:
    with pytest.raises(C.UnknownColumn):
        C.format_value("vol_typo", 1)


def test_volume_attribute_is_the_former_exclusion_list_and_the_later_additions() -> None:
    assert set(C.volume_names()) == VOLUME_FEATURES_BEFORE | VOLUME_FEATURES_ADDED


def _dtype(t: pa.DataType) -> str:
    if pa.types.is_list(t):
        return f"list<{_dtype(t.value_type)}>"
    return {"double": "float64", "date32[day]": "date32"}.get(str(t), str(t))


def test_lake_entries_are_the_request_schema() -> None:
    names = [n for n in REQUEST_SCHEMA.names if n != "account_id"]  # account_id: a row key
    assert [c.name for c in C.columns("lake")] == names
    for f in REQUEST_SCHEMA:
        assert C.column(f.name).dtype == _dtype(f.type), f.name


def test_verdict_entries_cover_the_verdict_schema() -> None:
    for f in VERDICT_SCHEMA:
        c = C.column(f.name)
        assert c.family in ("key", "verdict", "clu"), f.name
        assert c.dtype == _dtype(f.type), f.name
    assert {c.name for c in C.columns("verdict")} <= set(VERDICT_SCHEMA.names)


def test_feature_view_names() -> None:
    names = C.feature_view_names()
    assert {"vol_requests", "w7_vol_requests", "w7_days_active", "hist_requests_z7",
            "cov_mmd_ratio", "clu_size", "cluster_id"} <= set(names)
    assert not {"account_id", "date", "score", "prompt_text"} & set(names)
    assert C.weekly_names()[-1] == "w7_days_active"
    assert set(C.daily_names()) | set(C.weekly_names()) | set(C.history_names()) <= set(names)
