"""The feature formulas: how each feature of the column registry is derived from the
per-account-day partial aggregates, and the generated ``docs/features.md``.

What a feature is (family, unit, direction, label, meaning, why, the 7-day window flag) is
declared once in :mod:`detector.columns`; this module holds only the formulas, keyed by name (the
functions that compute them over the partials are in :mod:`detector.features.formulas`), and a
test keeps the two column sets equal. Grain of every feature: one value per (account_id,
date). A feature with ``window=True`` also exists as ``w7_<name>``: the same formula applied to
the partials summed over the 7 days ending on ``date`` (see :mod:`detector.features.weekly`).
``source`` says where the value comes from: ``partials`` (Ibis aggregation over the requests,
identical on DuckDB and Spark, then the formula below), ``sample`` (a deterministic sample of
distinct prompts per account-day, processed locally; the bound of the approximation is in the
meaning) or ``history`` (:mod:`detector.features.history`).

``docs/features.md`` is generated from the registry and these formulas
(``python -m detector.features.catalog``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import detector.columns as registry
from detector.columns import Column
from detector.columns.history import (
    HISTORY_MAD_SCALE,
    HISTORY_METRICS,
    HISTORY_MIN_DAYS,
    HISTORY_WINDOWS,
)
from detector.features.formulas import (
    Derive,
    account_age_days,
    as_float,
    burstiness,
    busy_window,
    count_of,
    gap_cv,
    hour_entropy,
    night_share,
    ratio,
    share_of,
    utc_offset,
)

__all__ = ["FAMILIES", "FEATURES", "HISTORY", "HISTORY_MAD_SCALE", "HISTORY_METRICS",
           "HISTORY_MIN_DAYS", "HISTORY_WINDOWS", "INT_FEATURES", "Feature", "daily_columns",
           "history_columns", "is_known_column", "known_columns", "render_markdown",
           "weekly_columns", "write_doc"]

#: The feature families (code -> words) of ``features/daily``, ``weekly`` and ``history``.
FAMILIES = {code: registry.FAMILIES[code] for code in ("vol", "tim", "div", "hv", "inf", "rel",
                                                       "hist")}
KEY_COLUMNS = ("account_id", "date")


@dataclass(frozen=True)
class Feature:
    """One feature's formula; what it is comes from its registry entry (:attr:`column`)."""

    name: str
    formula: str
    derive: Derive | None = field(default=None, repr=False, compare=False)
    source: str = "partials"

    @property
    def column(self) -> Column:
        return registry.column(self.name)

    @property
    def unit(self) -> str:
        return self.column.unit

    @property
    def meaning(self) -> str:
        return self.column.meaning

    @property
    def why(self) -> str:
        return self.column.why

    @property
    def window(self) -> bool:
        return self.column.window

    @property
    def family(self) -> str:
        return FAMILIES[self.column.family]

    @property
    def grain(self) -> str:
        return "account-day (and 7-day window ending that day)" if self.window else "account-day"


# --- the formulas (what each feature is: detector.columns) ------------------------------------

_F = Feature
FEATURES: list[Feature] = [
    _F("vol_requests", "count(*)", count_of("n")),
    _F("vol_input_tokens", "sum(prompt_tokens)", count_of("in_tok")),
    _F("vol_output_tokens", "sum(completion_tokens)", count_of("out_tok")),
    _F("vol_active_hours", "count(distinct hour(ts))", count_of("active_hours")),
    _F("vol_peak_rpm", "max over minutes of count(*)", count_of("peak_rpm")),
    _F("vol_top_model_share", "max over models of count(*) / count(*)", share_of("top_model_n")),
    _F("vol_distinct_models", "count(distinct model)", count_of("n_models")),
    _F("tim_hour_entropy", "-sum_h p_h log2 p_h, p_h = requests in hour h / requests",
       hour_entropy),
    _F("tim_busy_window_hours",
       "min w such that max_s sum_{k<w} requests in hour (s+k) mod 24 >= 0.9 requests",
       busy_window),
    _F("tim_interarrival_cv", "std_pop(gap) / mean(gap)", gap_cv),
    _F("tim_burstiness", "(cv - 1) / (cv + 1)", burstiness),
    _F("tim_periodicity", "count(|g_i - g_(i-1)| <= 0.1 max(g_i, g_(i-1))) / count(pairs)",
       lambda p: ratio(p["periodic_n"], p["pair_n"])),
    _F("tim_night_share", "min_s sum_{k<6} requests in hour (s+k) mod 24 / requests",
       night_share),
    _F("tim_apparent_utc_offset", "-(start hour of quietest window) mod 24", utc_offset),
    _F("tim_round_robin_evenness", "entropy(per-key counts) / log2(keys)",
       count_of("key_evenness")),
    _F("div_distinct_prompt_ratio", "count(distinct prompt_hash) / count(*)",
       share_of("n_distinct_prompt")),
    _F("div_template_reuse", "sum_t c_t (c_t - 1) / (k (k - 1)) over the sample's templates",
       source="sample"),
    _F("div_top_template_share", "max_t c_t / k over the sample's templates", source="sample"),
    _F("div_multiturn_share", "count(n_user_turns > 1) / count(*)", share_of("multiturn_n")),
    _F("div_system_share", "count(system_hash not null) / count(*)", share_of("system_n")),
    _F("div_system_distinct_ratio", "count(distinct system_hash) / count(system_hash)",
       lambda p: ratio(p["system_distinct"], p["system_n"])),
    _F("div_near_dup_rate", "share of sampled prompts in a colliding LSH band", source="sample"),
    _F("div_char_ngram_entropy", "-sum p log2 p over the budget's 4-gram counts",
       source="sample"),
    _F("div_word_ngram_entropy", "-sum p log2 p over the budget's word counts", source="sample"),
    _F("hv_logprobs_share", "count(logprobs or top_logprobs > 0) / count(*)",
       share_of("logprobs_n")),
    _F("hv_top_logprobs_mean", "avg(coalesce(top_logprobs, 0))", share_of("top_logprobs_sum")),
    _F("hv_n_gt1_share", "count(n > 1) / count(*)", share_of("n_gt1")),
    _F("hv_completions_per_request", "avg(coalesce(n, 1))", share_of("n_sum")),
    _F("hv_max_tokens_mean", "avg(max_tokens)",
       lambda p: ratio(p["max_tokens_sum"], p["max_tokens_n"])),
    _F("hv_max_tokens_high_share", "count(max_tokens >= 4096) / count(*)",
       share_of("max_tokens_high_n")),
    _F("hv_output_input_ratio", "sum(completion_tokens) / sum(prompt_tokens)",
       lambda p: ratio(p["out_tok"], p["in_tok"])),
    _F("hv_length_finish_share", "count(finish_reason = 'length') / count(finish_reason)",
       lambda p: ratio(p["length_n"], p["finish_n"])),
    _F("hv_temperature_distinct", "count(distinct temperature)", count_of("temp_distinct")),
    _F("hv_temperature_range", "max(temperature) - min(temperature)",
       lambda p: as_float(p["temp_max"]) - as_float(p["temp_min"])),
    _F("hv_high_effort_share", "count(reasoning_effort in (high, xhigh, max)) / count(*)",
       share_of("high_effort_n")),
    _F("hv_reasoning_token_share", "sum(reasoning_tokens) / sum(completion_tokens)",
       lambda p: ratio(p["reasoning_tok"], p["out_tok"]).clip(upper=1.0)),
    _F("hv_cot_lexicon_share", "count(prompt matches lexicon) / count(*)", share_of("cot_lex_n")),
    _F("hv_cot_classifier_share", "mean(classifier(prompt) >= 0.5) over the sample",
       source="sample"),
    _F("inf_distinct_ips", "count(distinct client_ip)", count_of("ip_distinct")),
    _F("inf_distinct_prefixes", "count(distinct ip_prefix)", count_of("prefix_distinct")),
    _F("inf_shared_prefix_share", "count(prefix has >= 3 accounts) / count(*)",
       share_of("shared_prefix_n")),
    _F("inf_distinct_user_agents", "count(distinct user_agent)", count_of("ua_distinct")),
    _F("inf_script_ua_share", "count(user_agent matches lexicon) / count(*)",
       share_of("script_ua_n")),
    _F("inf_distinct_api_keys", "count(distinct api_key_id)", count_of("key_distinct")),
    _F("inf_distinct_end_users", "count(distinct end_user_hash)", count_of("end_user_distinct")),
    _F("inf_account_age_days", "(date + 1 day - min(account_created_at)) / 1 day",
       account_age_days),
    _F("inf_payment_shared_accounts",
       "count(distinct other account_id with same payment_fingerprint)",
       count_of("payment_shared_accounts")),
    _F("rel_new_model_share", "count(ts < first_seen(model) + 48 h) / count(*)",
       share_of("new_model_n")),
]
BY_NAME = {f.name: f for f in FEATURES}


def _history_formula(name: str) -> str:
    if name == "hist_days_since_first_seen":
        return "D - min(date with traffic)"
    w = int(name.rsplit("_", 1)[1].lstrip("z"))
    if name.startswith("hist_baseline_days_"):
        return f"count(distinct date in D-{w}..D-1)"
    floor = HISTORY_METRICS[name.removeprefix("hist_").rsplit("_z", 1)[0]][0]
    return (f"(x_D - median(x_b)) / max({HISTORY_MAD_SCALE} median(|x_b - median(x_b)|), "
            f"{floor}), b = active days in D-{w}..D-1")


#: The ``hist_`` family, stored in ``features/history`` (not in ``features/daily``).
HISTORY: list[Feature] = [Feature(n, _history_formula(n), source="history")
                          for n in registry.history_names()]

#: Features stored as int64 (whole counts); every other feature is float64.
INT_FEATURES = frozenset(f.name for f in FEATURES + HISTORY if f.column.dtype == "int64")


def daily_columns() -> list[str]:
    """Feature columns of ``features/daily`` in their stored order."""
    return [f.name for f in FEATURES]


def weekly_columns() -> list[str]:
    """Feature columns of ``features/weekly`` (``w7_`` prefix) in their stored order."""
    return ["w7_" + f.name for f in FEATURES if f.window]


def history_columns() -> list[str]:
    """Feature columns of ``features/history`` (``hist_`` family) in their stored order."""
    return [f.name for f in HISTORY]


def known_columns() -> set[str]:
    """Every column of the ``account_features`` view: its keys and the registry's daily,
    ``w7_``, ``hist_``, ``cov_`` and ``clu_`` columns (what rules may reference)."""
    return set(KEY_COLUMNS) | set(registry.feature_view_names())


def is_known_column(name: str) -> bool:
    """True for a column of the ``account_features`` view (see :func:`known_columns`)."""
    return name in known_columns()


#: Line that ends the generated part of ``docs/features.md``; text after it is kept as is.
GENERATED_END = ("<!-- End of the generated catalog. The text below is written by hand and kept "
                 "when the catalog is regenerated. -->")
_INTRO = [
    "# Feature catalog",
    "",
    "<!-- Generated by `python -m detector.features.catalog` from the column registry "
    "(`detector/columns/`) and the formulas in `detector/features/catalog.py`; do not edit by "
    "hand. tests/features/test_catalog.py fails when this file and the code disagree. -->",
    "",
    "Grain: one row per (`account_id`, `date`) in `features/daily/date=D/part-0.parquet`. "
    "Features marked *w7* also exist as `w7_<name>` in `features/weekly/date=D/part-0.parquet`: "
    "the same formula over the daily partial aggregates summed across the 7 days ending on D "
    "(`w7_days_active` counts the days with traffic). Population percentiles per feature per "
    "day are in `features/percentiles/date=D/part-0.parquet` (columns `feature`, `q`, `value`, "
    "`n_accounts`).",
    "",
    "*Suspicious when*: which direction of the value is more suspicious (*higher*, *lower*; "
    "empty: context or either way). Units *fraction* are shares of 1.",
    "",
    "Source *partials*: one Ibis definition executed on DuckDB (default) or Spark "
    "(`--engine spark`). Source *sample*: computed locally from a deterministic sample of "
    "distinct prompts per account-day (same result on either engine); the bound of the "
    "approximation is stated in the meaning.",
    "",
]


def _history_intro() -> list[str]:
    return [
        "Source *history* (family `hist_`): the account-day against the account's own previous "
        "days, in `features/history/date=D/part-0.parquet`; one Ibis query (DuckDB or Spark) "
        "over the stored daily partials of the 28 days before D (and their "
        "`div_word_ngram_entropy`), never the raw requests. Robust z = (today - median of the "
        f"baseline) / max({HISTORY_MAD_SCALE} x MAD of the baseline, floor), where the baseline "
        "is the account's active days among the 7 (`_z7`) or 28 (`_z28`) days before D; null "
        f"with fewer than {HISTORY_MIN_DAYS} baseline days holding a value, or when today has "
        "no value. Positive = above the account's usual. Not in the default model's feature "
        "list.",
        "",
    ]


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


def _feature_rows(code: str) -> list[str]:
    lines = ["| name | label | unit | suspicious when | grain | source | meaning "
             "| why it separates distillers | formula |", "|---|---|---|---|---|---|---|---|---|"]
    for f in FEATURES + HISTORY:
        c = f.column
        if c.family != code:
            continue
        grain = "account-day, w7" if c.window else "account-day"
        if f.source == "history":
            grain = "account-day vs own prior days"
        lines.append(_row([f"`{c.name}`", c.label, c.unit, c.direction or "", grain, f.source,
                           c.meaning, c.why, f"`{f.formula}`"]))
    return lines


def _stage_rows(code: str) -> list[str]:
    lines = ["| name | label | type | unit | suspicious when | meaning "
             "| why it separates distillers |", "|---|---|---|---|---|---|---|"]
    for c in registry.columns(code):
        lines.append(_row([f"`{c.name}`", c.label, c.dtype, c.unit, c.direction or "",
                           c.meaning, c.why]))
    return lines


def render_markdown() -> str:
    """The generated part of ``docs/features.md`` (from the registry and :data:`FEATURES`),
    ending with :data:`GENERATED_END`."""
    lines = _INTRO + _history_intro()
    for code, words in FAMILIES.items():
        lines += [f"## {words} (`{code}_`)", "", *_feature_rows(code), ""]
    days = registry.column("w7_days_active")  # weekly only: no formula over the partials
    lines += [f"`w7_days_active` ({days.label.lower()}, {days.dtype}): {days.meaning}", ""]
    lines += ["## Columns of the later stages", "",
              "The embeddings stage (`features/coverage`, docs/embeddings.md) and the cluster "
              "stage (`features/cluster`, docs/clusters.md) add these columns to the "
              "`account_features` view when they have run; grain: account-day.", ""]
    for code in ("cov", "clu"):
        lines += [f"### {registry.FAMILIES[code]} (`{code}_`)", "", *_stage_rows(code), ""]
    return "\n".join(lines) + GENERATED_END + "\n"


def write_doc(path: Path) -> None:
    """Regenerate the catalog part of ``path``, keeping the hand-written text after it."""
    from detector.lake.io import write_text_atomic

    tail = ""
    if path.exists():
        text = path.read_text(encoding="utf-8")
        if GENERATED_END in text:
            tail = text.split(GENERATED_END, 1)[1].lstrip("\n")
    write_text_atomic(path, render_markdown() + ("\n" + tail if tail else ""))


if __name__ == "__main__":
    import sys

    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parents[2] / "docs" / "features.md"
    write_doc(out)
    print(f"wrote {out}")
