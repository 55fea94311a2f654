"""The account against its own history (``hist_``; ``features/history``): robust z-scores of a
few daily metrics against the account's own previous active days, and the baseline behind them.

The constants are part of the columns' definition (their names and meanings); the computation
is :mod:`detector.features.history`.
"""

from __future__ import annotations

from detector.columns.model import Column

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
_WHY = {
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
#: Metric -> (label stem, direction of suspicion).
_LABEL = {
    "requests": ("Requests", "higher"),
    "output_input": ("Output per input token", "higher"),
    "length_share": ("Answers cut at the length limit", "higher"),
    "word_entropy": ("Word variety of prompts", None),
}


def _history() -> list[Column]:
    out = []
    for metric, (floor, what) in HISTORY_METRICS.items():
        stem, direction = _LABEL[metric]
        for w in HISTORY_WINDOWS:
            out.append(Column(
                f"hist_{metric}_z{w}", "hist", "float64", "robust z (MAD units)", direction,
                f"{stem} against the account's previous {w} days",
                f"Robust z-score of today's {what} against the account's active days among the "
                f"{w} days before D: (today - median) / max({HISTORY_MAD_SCALE} x MAD, {floor}). "
                f"Positive = higher than the account's usual. Null with fewer than "
                f"{HISTORY_MIN_DAYS} baseline days holding a value, or when today has none (a "
                "day without traffic is not a zero: the baseline is the account's active days).",
                _WHY[metric]))
    for w in HISTORY_WINDOWS:
        out.append(Column(
            f"hist_baseline_days_{w}", "hist", "int64", "days", None,
            f"Active days among the previous {w}",
            f"Days with traffic among the {w} days before D (0-{w}): the baseline behind the "
            f"_z{w} scores (they are null under {HISTORY_MIN_DAYS}).",
            "Context: how much history the scores rest on."))
    out.append(Column(
        "hist_days_since_first_seen", "hist", "int64", "days", None, "Days since first seen",
        "Days from the account's first day with traffic in the lake to D (0 on its first day). "
        "Counted within the lake: for an account already active on the lake's first stored day "
        "it is a lower bound (inf_account_age_days gives the creation date when the logs carry "
        "it).",
        "An account with no baseline cannot be compared with itself: a surge on an account's "
        "second day is not a surge in its second year."))
    return out


#: The ``hist_`` columns in their stored order.
HISTORY: list[Column] = _history()
