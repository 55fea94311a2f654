"""The feature catalog: every feature's name, family, grain, unit, meaning and why it separates
distillers, plus how it is derived from the per-account-day partial aggregates.

Grain of every feature: one value per (account_id, date). A feature with ``window=True`` also
exists as ``w7_<name>``: the same formula applied to the partials summed over the 7 days ending
on ``date`` (see :mod:`detector.features.weekly`). ``source`` says where the value comes from:
``partials`` (Ibis aggregation over the requests, identical on DuckDB and Spark, then the
formula below) or ``sample`` (a deterministic sample of distinct prompts per account-day,
processed locally; the bound of the approximation is in ``meaning``).

This module is the single source of truth: ``docs/features.md`` is generated from it
(``python -m detector.features.catalog``) and rules validate column names with
:func:`known_columns`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

FAMILIES = {
    "vol": "volume",
    "tim": "timing",
    "div": "prompt diversity",
    "hv": "output harvesting",
    "inf": "infrastructure",
    "rel": "model-release behaviour",
    "hist": "the account against its own history",
}

#: Columns written by other stages that join into ``account_features`` (see docs/internals.md).
EXTERNAL_PREFIXES = ("cov_", "clu_")
EXTERNAL_COLUMNS = ("cluster_id",)
KEY_COLUMNS = ("account_id", "date")
HOURS = [f"h{h:02d}" for h in range(24)]
NIGHT_HOURS = 6

Derive = Callable[[pd.DataFrame], pd.Series]


@dataclass(frozen=True)
class Feature:
    """One feature column (grain: account-day)."""

    name: str
    unit: str
    meaning: str
    why: str
    formula: str
    derive: Derive | None = field(default=None, repr=False, compare=False)
    window: bool = False
    source: str = "partials"

    @property
    def family(self) -> str:
        return FAMILIES[self.name.split("_", 1)[0]]

    @property
    def grain(self) -> str:
        return "account-day (and 7-day window ending that day)" if self.window else "account-day"


# --- helpers over a partials frame ------------------------------------------------------------

def _f(s: pd.Series) -> pd.Series:
    return pd.to_numeric(s, errors="coerce").astype("float64")


def ratio(num: pd.Series, den: pd.Series) -> pd.Series:
    """num / den as float, null where den is 0 or null."""
    n, d = _f(num), _f(den)
    return (n / d.where(d > 0)).astype("float64")


def hour_matrix(p: pd.DataFrame) -> np.ndarray:
    """(rows, 24) float matrix of request counts per UTC hour of day."""
    return p[HOURS].to_numpy(dtype="float64", na_value=0.0)


def hour_entropy(p: pd.DataFrame) -> pd.Series:
    """Shannon entropy (bits) of the hour-of-day histogram; 0 for a single hour, max log2(24)."""
    h = hour_matrix(p)
    tot = h.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.where(tot > 0, h / tot, 0.0)
        ent = -np.where(q > 0, q * np.log2(np.where(q > 0, q, 1.0)), 0.0).sum(axis=1)
    ent = np.where(tot[:, 0] > 0, ent, np.nan) + 0.0
    return pd.Series(ent, index=p.index)


def quietest_window(p: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """For each row: (start UTC hour, request count) of the quietest 6-hour circular window.

    Ties go to the earliest start hour. This window is taken as the account's night: the
    apparent timezone puts local 00:00-06:00 there.
    """
    h = hour_matrix(p)
    sums = np.stack([np.roll(h, -s, axis=1)[:, :NIGHT_HOURS].sum(axis=1) for s in range(24)], axis=1)
    start = sums.argmin(axis=1) if len(h) else np.zeros(0, dtype=int)
    return start, sums[np.arange(len(h)), start]


def night_share(p: pd.DataFrame) -> pd.Series:
    _, quiet = quietest_window(p)
    return ratio(pd.Series(quiet, index=p.index), p["n"])


def utc_offset(p: pd.DataFrame) -> pd.Series:
    start, _ = quietest_window(p)
    off = (-start) % 24
    off = np.where(off > 12, off - 24, off).astype("float64")
    return pd.Series(np.where(_f(p["n"]).to_numpy() > 0, off, np.nan), index=p.index)


def gap_cv(p: pd.DataFrame) -> pd.Series:
    mean = ratio(p["gap_sum"], p["gap_n"])
    var = (ratio(p["gap_sq"], p["gap_n"]) - mean**2).clip(lower=0)
    cv = np.sqrt(var) / mean.where(mean > 0)
    return cv.where(_f(p["gap_n"]) >= 2)


def burstiness(p: pd.DataFrame) -> pd.Series:
    cv = gap_cv(p)
    return (cv - 1) / (cv + 1)


def account_age_days(p: pd.DataFrame) -> pd.Series:
    """Days from account creation to the end (24:00 UTC) of ``date``; null if unknown."""
    end = pd.to_datetime(p["date"]).dt.tz_localize(None) + pd.Timedelta(days=1)
    created = pd.to_datetime(p["created_min"], utc=True).dt.tz_localize(None)
    age = (end - created).dt.total_seconds() / 86400.0
    return age.clip(lower=0).astype("float64")


def _col(name: str) -> Derive:
    return lambda p: _f(p[name])


def _share(name: str, den: str = "n") -> Derive:
    return lambda p: ratio(p[name], p[den])


# --- the catalog ------------------------------------------------------------------------------

FEATURES: list[Feature] = [
    # volume
    Feature("vol_requests", "requests", "Requests the account sent that day.",
            "Harvesting a training set takes many requests; most people send a handful.",
            "count(*)", _col("n"), window=True),
    Feature("vol_input_tokens", "tokens", "Sum of usage.prompt_tokens (missing counted as 0).",
            "Large prompt volume marks bulk jobs.", "sum(prompt_tokens)", _col("in_tok"), window=True),
    Feature("vol_output_tokens", "tokens", "Sum of usage.completion_tokens (missing counted as 0).",
            "Output tokens are what a distiller takes away; they dominate its bill.",
            "sum(completion_tokens)", _col("out_tok"), window=True),
    Feature("vol_active_hours", "hours", "Distinct UTC clock hours with at least one request "
            "(0-24; the 7-day window sums the daily values, 0-168).",
            "Pipelines run around the clock; people are active a few hours a day.",
            "count(distinct hour(ts))", _col("active_hours"), window=True),
    Feature("vol_peak_rpm", "requests/minute", "Most requests in any single UTC clock minute "
            "(7-day window: the largest daily peak).",
            "Parallel harvesting workers produce minute peaks no human typing reaches.",
            "max over minutes of count(*)", _col("peak_rpm"), window=True),
    Feature("vol_top_model_share", "share 0-1", "Share of the day's requests on the account's "
            "busiest model.", "Distillers target one teacher model; exploratory users spread.",
            "max over models of count(*) / count(*)", _share("top_model_n")),
    Feature("vol_distinct_models", "models", "Distinct models requested that day.",
            "Context for vol_top_model_share.", "count(distinct model)", _col("n_models")),
    # timing
    Feature("tim_hour_entropy", "bits (0-4.585)", "Shannon entropy of the hour-of-day (UTC) "
            "histogram of requests.",
            "Flat, 24-hour activity (high entropy) is machine-driven; human activity clusters.",
            "-sum_h p_h log2 p_h, p_h = requests in hour h / requests", hour_entropy, window=True),
    Feature("tim_interarrival_cv", "ratio", "Coefficient of variation (population std / mean) of "
            "the gaps in seconds between consecutive requests within the UTC day; null under 3 "
            "requests. 7-day window pools the daily gaps (overnight gaps excluded).",
            "Schedulers produce very regular (CV << 1) or very bursty (CV >> 1) arrivals; "
            "interactive use is in between.",
            "std_pop(gap) / mean(gap)", gap_cv, window=True),
    Feature("tim_burstiness", "-1..1", "Goh-Barabasi burstiness (cv - 1) / (cv + 1) of the "
            "inter-arrival gaps: -1 periodic, 0 Poisson, +1 bursty.",
            "Same signal as the CV on a bounded scale, easier for thresholds.",
            "(cv - 1) / (cv + 1)", burstiness, window=True),
    Feature("tim_periodicity", "share 0-1", "Share of consecutive gap pairs (both >= 1 s) that "
            "differ by at most 10% of the larger gap.",
            "A fixed-rate loop (sleep N; request) makes nearly every gap pair agree.",
            "count(|g_i - g_(i-1)| <= 0.1 max(g_i, g_(i-1))) / count(pairs)",
            lambda p: ratio(p["periodic_n"], p["pair_n"]), window=True),
    Feature("tim_night_share", "share 0-1", "Share of requests in the account's apparent night: "
            "the quietest 6-hour circular window of its hour-of-day histogram (method: slide a "
            "6-hour window round the 24 UTC hours, take the minimum; that window is assumed to "
            "be local 00:00-06:00). About 0 for people, about 0.25 for flat 24-hour activity.",
            "People sleep; pipelines do not, whatever timezone they are in.",
            "min_s sum_{k<6} requests in hour (s+k) mod 24 / requests", night_share, window=True),
    Feature("tim_apparent_utc_offset", "hours (-11..12)", "Apparent UTC offset of the account: "
            "the offset that puts the quietest 6-hour window at local 00:00-06:00. Meaningless "
            "for flat activity (high tim_night_share).",
            "Context for analysts (where an operation runs), and for comparing accounts of a "
            "cluster.", "-(start hour of quietest window) mod 24", utc_offset),
    Feature("tim_round_robin_evenness", "0-1", "How evenly the day's requests spread over the "
            "account's API keys: normalised entropy of the per-key counts (1 = perfectly even; "
            "null with fewer than 2 keys).",
            "Harvesters rotate keys round-robin to dodge per-key limits, which makes the split "
            "unnaturally even.", "entropy(per-key counts) / log2(keys)", _col("key_evenness")),
    # prompt diversity
    Feature("div_distinct_prompt_ratio", "share 0-1", "Distinct prompt_hash / requests.",
            "Dataset harvesting rarely repeats a prompt (ratio ~1); apps and retries repeat.",
            "count(distinct prompt_hash) / count(*)", _share("n_distinct_prompt")),
    Feature("div_template_reuse", "share 0-1", "1 - distinct masked templates / requests. A "
            "template is the first 300 characters with quoted text, capitalised words (names) "
            "and numbers masked, lower-cased, whitespace collapsed.",
            "Generated prompt sets fill one template with many values: distinct prompts, few "
            "templates.", "1 - count(distinct template) / count(*)",
            lambda p: 1.0 - ratio(p["n_templates"], p["n"])),
    Feature("div_top_template_share", "share 0-1", "Share of requests using the account's most "
            "frequent masked template.", "A single template driving most traffic is a generator.",
            "max over templates of count(*) / count(*)", _share("top_template_n")),
    Feature("div_multiturn_share", "share 0-1", "Share of requests with more than one user turn.",
            "Harvesting is single-shot Q&A; real chat is multi-turn.",
            "count(n_user_turns > 1) / count(*)", _share("multiturn_n"), window=True),
    Feature("div_system_share", "share 0-1", "Share of requests carrying a system prompt.",
            "Context for div_system_distinct_ratio.", "count(system_hash not null) / count(*)",
            _share("system_n"), window=True),
    Feature("div_system_distinct_ratio", "share 0-1", "Distinct system prompts / requests that "
            "carry one; null if none.",
            "Persona sweeps (many system prompts) are a data-generation trick; apps use one.",
            "count(distinct system_hash) / count(system_hash)",
            lambda p: ratio(p["system_distinct"], p["system_n"])),
    Feature("div_near_dup_rate", "share 0-1", "Share of sampled distinct prompts with a "
            "near-duplicate (another sampled prompt of the same account-day whose character "
            "4-gram MinHash, 32 one-permutation bins in 8 bands of 4, collides in a band). Sample: "
            "up to 32 distinct prompts per account-day (smallest prompt_hash first), first 512 "
            "bytes. Bound: a pair of Jaccard similarity s is caught with probability "
            "1-(1-s^4)^8 (s=0.8: 0.98, s=0.5: 0.41, s=0.3: 0.06); the sample rate estimate has "
            "standard error <= 0.5/sqrt(32) = 0.09 of the account-day's true rate.",
            "Paraphrase and template generation produce many near-identical distinct prompts.",
            "share of sampled prompts in a colliding LSH band", source="sample"),
    Feature("div_char_ngram_entropy", "bits", "Shannon entropy of the character 4-gram "
            "(UTF-8 byte) distribution on a fixed budget: the first 64 4-grams of each of the "
            "first 16 sampled distinct prompts (smallest prompt_hash first). Null when the "
            "account-day has fewer than 16 distinct prompts. The fixed budget makes it "
            "independent of volume and prompt length (at most log2(1024) = 10 bits).",
            "Templated prompts reuse the same character sequences: low entropy.",
            "-sum p log2 p over the budget's 4-gram counts", source="sample"),
    Feature("div_word_ngram_entropy", "bits", "Shannon entropy of the word (lower-cased, "
            "alphanumeric runs) distribution on a fixed budget: the first 16 words of each of "
            "the first 16 sampled distinct prompts; null below 16 distinct prompts (at most "
            "log2(256) = 8 bits).",
            "Same as the character entropy at the word level: narrow vocabularies mark templates.",
            "-sum p log2 p over the budget's word counts", source="sample"),
    # output harvesting
    Feature("hv_logprobs_share", "share 0-1", "Share of requests asking for logprobs or "
            "top_logprobs > 0.",
            "Token probabilities are soft labels for distillation; few applications need them.",
            "count(logprobs or top_logprobs > 0) / count(*)", _share("logprobs_n"), window=True),
    Feature("hv_top_logprobs_mean", "alternatives", "Mean top_logprobs requested (missing = 0).",
            "Asking for the maximum alternatives per token harvests the full distribution.",
            "avg(coalesce(top_logprobs, 0))", _share("top_logprobs_sum"), window=True),
    Feature("hv_n_gt1_share", "share 0-1", "Share of requests with n > 1 completions.",
            "Several samples per prompt build preference / rejection-sampling data.",
            "count(n > 1) / count(*)", _share("n_gt1"), window=True),
    Feature("hv_completions_per_request", "completions", "Mean completions requested (n, "
            "default 1).", "Context for hv_n_gt1_share: how many samples per prompt.",
            "avg(coalesce(n, 1))", _share("n_sum"), window=True),
    Feature("hv_max_tokens_mean", "tokens", "Mean max_tokens over requests that set it; null if "
            "none did.", "Harvesters ask for long outputs to capture whole reasoning traces.",
            "avg(max_tokens)", lambda p: ratio(p["max_tokens_sum"], p["max_tokens_n"]),
            window=True),
    Feature("hv_max_tokens_high_share", "share 0-1", "Share of requests with max_tokens >= 4096.",
            "Same as above, robust to a few outliers.", "count(max_tokens >= 4096) / count(*)",
            _share("max_tokens_high_n"), window=True),
    Feature("hv_output_input_ratio", "tokens/token", "Completion tokens / prompt tokens.",
            "Distillers send short prompts and take long answers.",
            "sum(completion_tokens) / sum(prompt_tokens)",
            lambda p: ratio(p["out_tok"], p["in_tok"]), window=True),
    Feature("hv_length_finish_share", "share 0-1", "Share of responses with a finish_reason that "
            "stopped at the length limit; null if no finish_reason.",
            "Pushing every answer to the token limit harvests maximal output.",
            "count(finish_reason = 'length') / count(finish_reason)",
            lambda p: ratio(p["length_n"], p["finish_n"]), window=True),
    Feature("hv_temperature_distinct", "values", "Distinct temperature values used that day.",
            "Temperature sweeps sample the teacher's distribution systematically.",
            "count(distinct temperature)", _col("temp_distinct")),
    Feature("hv_temperature_range", "temperature units", "max - min temperature; null if none "
            "set.", "Same signal as the distinct count, on a scale.",
            "max(temperature) - min(temperature)", lambda p: _f(p["temp_max"]) - _f(p["temp_min"])),
    Feature("hv_high_effort_share", "share 0-1", "Share of requests with reasoning_effort high "
            "(or xhigh / max).", "Maximal reasoning effort yields the longest traces to copy.",
            "count(reasoning_effort in (high, xhigh, max)) / count(*)", _share("high_effort_n"),
            window=True),
    Feature("hv_reasoning_token_share", "share 0-1", "usage.reasoning_tokens / completion tokens; "
            "null without completion tokens.", "Reasoning-heavy answers are the prized data.",
            "sum(reasoning_tokens) / sum(completion_tokens)",
            lambda p: ratio(p["reasoning_tok"], p["out_tok"]).clip(upper=1.0), window=True),
    Feature("hv_cot_lexicon_share", "share 0-1", "Share of prompts containing a chain-of-thought "
            "elicitation phrase from rules/lexicons/cot_phrases.txt (case-insensitive substring).",
            "Asking the model to expose its reasoning is how reasoning traces are harvested.",
            "count(prompt matches lexicon) / count(*)", _share("cot_lex_n"), window=True),
    Feature("hv_cot_classifier_share", "share 0-1", "Share of sampled distinct prompts (up to 32 "
            "per account-day, as div_near_dup_rate) that the packaged chain-of-thought "
            "elicitation classifier (hashing vectoriser + logistic regression, trained on the "
            "project's generated examples) scores >= 0.5. Standard error <= 0.09.",
            "Catches paraphrased elicitation that the fixed lexicon misses.",
            "mean(classifier(prompt) >= 0.5) over the sample", source="sample"),
    # infrastructure
    Feature("inf_distinct_ips", "addresses", "Distinct client IPs that day.",
            "Harvesters spread over proxies and cloud workers.", "count(distinct client_ip)",
            _col("ip_distinct")),
    Feature("inf_distinct_prefixes", "prefixes", "Distinct network prefixes (/24 IPv4, /48 IPv6).",
            "Many prefixes for one account is a proxy pool.", "count(distinct ip_prefix)",
            _col("prefix_distinct")),
    Feature("inf_shared_prefix_share", "share 0-1", "Share of requests from prefixes used by at "
            "least 3 accounts that day (heuristic for cloud / NAT egress rather than residential "
            "lines, which few accounts share).",
            "Harvesting runs on cloud workers shared by many (often sock-puppet) accounts.",
            "count(prefix has >= 3 accounts) / count(*)", _share("shared_prefix_n"), window=True),
    Feature("inf_distinct_user_agents", "user agents", "Distinct User-Agent strings that day.",
            "Rotating user agents is an evasion tactic.", "count(distinct user_agent)",
            _col("ua_distinct")),
    Feature("inf_script_ua_share", "share 0-1", "Share of requests whose User-Agent is a generic "
            "scripting HTTP library (rules/lexicons/script_user_agents.txt).",
            "Bulk jobs use raw HTTP clients; heuristic only, many back-ends do too.",
            "count(user_agent matches lexicon) / count(*)", _share("script_ua_n"), window=True),
    Feature("inf_distinct_api_keys", "keys", "Distinct API keys used that day.",
            "Key rotation spreads rate limits.", "count(distinct api_key_id)", _col("key_distinct")),
    Feature("inf_distinct_end_users", "end users", "Distinct end-user ids the account passed for "
            "its own users that day (request.user or safety_identifier, hashed at ingest); 0 "
            "when it passes none.",
            "Separates relays and platforms (many identified end users behind one account, a "
            "business to review with, not to cut off on a model score) from a single operator; "
            "a harvester rarely bothers to invent end users.",
            "count(distinct end_user_hash)", _col("end_user_distinct")),
    Feature("inf_account_age_days", "days", "Days from account_created_at to the end (24:00 UTC) "
            "of the day; null if unknown.",
            "Sock-puppet accounts are created shortly before heavy use.",
            "(date + 1 day - min(account_created_at)) / 1 day", account_age_days),
    Feature("inf_payment_shared_accounts", "accounts", "Other accounts active that day with the "
            "same payment fingerprint (0 when none or unknown).",
            "One payer behind many accounts is an operation splitting its volume.",
            "count(distinct other account_id with same payment_fingerprint)",
            _col("payment_shared_accounts")),
    # model-release behaviour
    Feature("rel_new_model_share", "share 0-1", "Share of requests on a model within 48 h of "
            "that model's first appearance anywhere in the lake.",
            "Distillers rush to harvest a new model as soon as it ships.",
            "count(ts < first_seen(model) + 48 h) / count(*)", _share("new_model_n"), window=True),
]

BY_NAME = {f.name: f for f in FEATURES}

# --- the account against its own history (``hist_``; features/history, detector.features.history)

#: Fewest baseline days with a value below which a history z-score is null.
HISTORY_MIN_DAYS = 5
#: Baseline windows (days before D, D excluded); the longest is how far back history reads.
HISTORY_WINDOWS = (7, 28)
#: Robust scale = max(MAD_SCALE x MAD, floor): MAD_SCALE makes the MAD a standard deviation
#: for normal data; the floor keeps a constant history from dividing by zero.
HISTORY_MAD_SCALE = 1.4826
#: Metric -> (floor of the robust scale, what it is per day): the z-scores' inputs.
HISTORY_METRICS: dict[str, tuple[float, str]] = {
    "requests": (0.1, "ln(1 + requests) (vol_requests)"),
    "output_input": (0.1, "ln((completion tokens + 1) / (prompt tokens + 1)) (the log of "
                          "hv_output_input_ratio, defined on days without prompt tokens)"),
    "length_share": (0.05, "hv_length_finish_share (responses stopped at the length limit / "
                           "responses with a finish_reason; days without a finish_reason have "
                           "no value)"),
    "word_entropy": (0.25, "div_word_ngram_entropy, bits (a topic-mix proxy: no per-account-day "
                           "topic vector exists when the feature stage runs; the embedding "
                           "centroids are written by the later embeddings stage)"),
}
_HISTORY_WHY = {
    "requests": "A long-standing heavy account is compared with itself: steady high volume stays "
                "near 0 whatever its size, while a harvesting job started on an established "
                "account, or a release-day surge, jumps by several units.",
    "output_input": "Harvesting switches an account to short prompts and long answers; an "
                    "application's ratio is stable from day to day.",
    "length_share": "Pushing answers to the token limit to capture whole traces, on an account "
                    "that did not before, is a change of purpose rather than of size.",
    "word_entropy": "A job sweeping a topic list widens an account's vocabulary abruptly "
                    "(positive); a generator template narrows it (negative); an application's "
                    "traffic keeps its mix.",
}


def _history_features() -> list[Feature]:
    out = []
    for metric, (floor, what) in HISTORY_METRICS.items():
        for w in HISTORY_WINDOWS:
            out.append(Feature(
                f"hist_{metric}_z{w}", "robust z (MAD units)",
                f"Robust z-score of today's {what} against the account's active days among the "
                f"{w} days before D: (today - median) / max({HISTORY_MAD_SCALE} x MAD, {floor}). "
                f"Positive = higher than the account's usual. Null with fewer than "
                f"{HISTORY_MIN_DAYS} baseline days holding a value, or when today has none (a "
                "day without traffic is not a zero: the baseline is the account's active days).",
                _HISTORY_WHY[metric],
                f"(x_D - median(x_b)) / max({HISTORY_MAD_SCALE} median(|x_b - median(x_b)|), "
                f"{floor}), b = active days in D-{w}..D-1", source="history"))
    for w in HISTORY_WINDOWS:
        out.append(Feature(
            f"hist_baseline_days_{w}", "days", f"Days with traffic among the {w} days before D "
            f"(0-{w}): the baseline behind the _z{w} scores (they are null under "
            f"{HISTORY_MIN_DAYS}).", "Context: how much history the scores rest on.",
            f"count(distinct date in D-{w}..D-1)", source="history"))
    out.append(Feature(
        "hist_days_since_first_seen", "days", "Days from the account's first day with traffic "
        "in the lake to D (0 on its first day). Counted within the lake: for an account already "
        "active on the lake's first stored day it is a lower bound (inf_account_age_days gives "
        "the creation date when the logs carry it).",
        "An account with no baseline cannot be compared with itself: a surge on an account's "
        "second day is not a surge in its second year.",
        "D - min(date with traffic)", source="history"))
    return out


#: The ``hist_`` family, stored in ``features/history`` (not in ``features/daily``).
HISTORY: list[Feature] = _history_features()

#: Features stored as int64 (whole counts); every other feature is float64.
INT_FEATURES = frozenset({
    "vol_requests", "vol_input_tokens", "vol_output_tokens", "vol_active_hours", "vol_peak_rpm",
    "vol_distinct_models", "hv_temperature_distinct", "inf_distinct_ips", "inf_distinct_prefixes",
    "inf_distinct_user_agents", "inf_distinct_api_keys", "inf_payment_shared_accounts",
    "inf_distinct_end_users", "hist_baseline_days_7", "hist_baseline_days_28",
    "hist_days_since_first_seen",
})


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
    """Every column name that rules may reference in ``account_features`` (besides cov_/clu_)."""
    return (set(KEY_COLUMNS) | set(daily_columns()) | set(weekly_columns()) | {"w7_days_active"}
            | set(history_columns()))


def is_known_column(name: str) -> bool:
    """True for catalog columns and for columns of the optional external tables (cov_, clu_)."""
    return name in known_columns() or name in EXTERNAL_COLUMNS or name.startswith(EXTERNAL_PREFIXES)


#: Line that ends the generated part of ``docs/features.md``; text after it is kept as is.
GENERATED_END = ("<!-- End of the generated catalog. The text below is written by hand and kept "
                 "when the catalog is regenerated. -->")


def render_markdown() -> str:
    """The generated part of ``docs/features.md`` (from :data:`FEATURES`), ending with
    :data:`GENERATED_END`."""
    lines = [
        "# Feature catalog",
        "",
        "<!-- Generated by `python -m detector.features.catalog`; do not edit by hand. "
        "tests/features/test_catalog.py fails when this file and the code disagree. -->",
        "",
        "Grain: one row per (`account_id`, `date`) in `features/daily/date=D/part-0.parquet`. "
        "Features marked *w7* also exist as `w7_<name>` in `features/weekly/date=D/part-0.parquet`: "
        "the same formula over the daily partial aggregates summed across the 7 days ending on D "
        "(`w7_days_active` counts the days with traffic). Population percentiles per feature per "
        "day are in `features/percentiles/date=D/part-0.parquet` (columns `feature`, `q`, `value`, "
        "`n_accounts`).",
        "",
        "Source *partials*: one Ibis definition executed on DuckDB (default) or Spark "
        "(`--engine spark`). Source *sample*: computed locally from a deterministic sample of "
        "distinct prompts per account-day (same result on either engine); the bound of the "
        "approximation is stated in the meaning.",
        "",
        "Source *history* (family `hist_`): the account-day against the account's own previous "
        "days, in `features/history/date=D/part-0.parquet`; one Ibis query (DuckDB or Spark) over "
        "the stored daily partials of the 28 days before D (and their `div_word_ngram_entropy`), "
        "never the raw requests. Robust z = (today - median of the baseline) / max(1.4826 x MAD "
        "of the baseline, floor), where the baseline is the account's active days among the 7 "
        f"(`_z7`) or 28 (`_z28`) days before D; null with fewer than {HISTORY_MIN_DAYS} baseline "
        "days holding a value, or when today has no value. Positive = above the account's usual. "
        "Not in the default model's feature list.",
        "",
    ]
    for prefix, family in FAMILIES.items():
        lines += [f"## {family} (`{prefix}_`)", "",
                  "| name | unit | grain | source | meaning | why it separates distillers | formula |",
                  "|---|---|---|---|---|---|---|"]
        for f in FEATURES + HISTORY:
            if f.name.startswith(prefix + "_"):
                grain = "account-day, w7" if f.window else "account-day"
                if f.source == "history":
                    grain = "account-day vs own prior days"
                cells = [f"`{f.name}`", f.unit, grain, f.source, f.meaning, f.why, f"`{f.formula}`"]
                lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        lines.append("")
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
