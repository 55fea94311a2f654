"""Topic coverage (``cov_*``; ``features/coverage``, written by the embeddings stage).

Grain of every column: one value per (account_id, date), computed over the account-day's
sample of at most K distinct prompts. Columns that need two prompts (or five, for
``cov_prada_stat``) are null below that. Stored order: this list's order.
"""

from __future__ import annotations

from detector.columns.model import Column

HIGHER, LOWER = "higher", "lower"


def _c(name: str, dtype: str, unit: str, direction: str | None, label: str, meaning: str,
       why: str, *, volume: bool = False) -> Column:
    return Column(name, "cov", dtype, unit, direction, label, meaning, why, volume=volume)


COVERAGE: list[Column] = [
    _c("cov_n_distinct", "int64", "prompts", None, "Distinct prompts",
       "Distinct non-empty prompts (by prompt hash) the account sent that day.",
       "Context for every other cov_ column: how much the sample stands for.", volume=True),
    _c("cov_n_sampled", "int32", "prompts", None, "Prompts embedded",
       "Prompts embedded for the account-day: min(cov_n_distinct, K), stratified over the day.",
       "Statistics from few prompts are noisy; rules should require a minimum.", volume=True),
    _c("cov_topics_hit", "float64", "topics", HIGHER, "Topics reached",
       "Distinct codebook topics (mini-batch k-means over the population) the sample falls "
       "into.", "Distillers sweep many topics on purpose; apps and people stay in a few.",
       volume=True),
    _c("cov_codebook_coverage", "float64", "ratio", HIGHER, "Topic breadth against a random draw",
       "Topics hit divided by the topics a random population sample of the same size would hit "
       "(sum_j 1 - (1 - p_j)^n). 1 = as broad as the population mix; > 1 broader.",
       "Systematic coverage beats even a random draw from everyone's traffic; real users are "
       "far narrower (well below 1)."),
    _c("cov_topic_entropy", "float64", "bits", HIGHER, "Topic entropy",
       "Shannon entropy of the account's topic histogram.",
       "High entropy = prompts spread evenly over many topics, the shape of a coverage sweep."),
    _c("cov_js_divergence", "float64", "0-1 (base-2 JS)", None,
       "Topic mix unlike the population's",
       "Jensen-Shannon divergence between the account's topic mix and the population topic "
       "mix.",
       "Low for accounts that mirror the whole population (a sweep), high for a focused app; "
       "also high for a sweep of a topic set unlike normal traffic. Noisy for small samples."),
    _c("cov_dispersion", "float64", "cosine distance (0-2)", HIGHER, "Spread of the prompts",
       "Mean pairwise cosine distance between the sampled prompts.",
       "Broad harvesting spreads prompts over the space; a product's traffic is tight."),
    _c("cov_nn_dist_mean", "float64", "cosine distance", HIGHER,
       "Distance to the nearest other prompt",
       "Mean over prompts of the cosine distance to the nearest other sampled prompt.",
       "Sweeps keep prompts apart (high); templated or repetitive use gives near neighbours."),
    _c("cov_nn_dist_std", "float64", "cosine distance", LOWER,
       "Spread of the nearest-prompt distances",
       "Standard deviation of those nearest-neighbour distances.",
       "A regular grid-like sweep has unusually uniform spacing (low spread)."),
    _c("cov_similar_share", "float64", "fraction", HIGHER, "Prompts with a near twin",
       "Share of prompts whose nearest neighbour is at least 0.9 cosine-similar (SEAT-style "
       "similar pairs; threshold = embedding_similar_threshold).",
       "Paraphrase / template-filling harvests produce many near-duplicate pairs."),
    _c("cov_prada_stat", "float64", "W (0-1)", LOWER, "Normality of prompt distances (PRADA)",
       "PRADA normality statistic: Shapiro-Francia W of each prompt's distance to its nearest "
       "earlier prompt (arrival order). Null below 5 prompts.",
       "PRADA flags extraction when W falls below a threshold: synthetic query streams do not "
       "give the near-normal distance distribution of natural traffic."),
    _c("cov_mmd", "float64", "squared MMD", HIGHER, "Distance from benign traffic (MMD)",
       "Unbiased squared maximum mean discrepancy (Gaussian kernel, median-heuristic width) "
       "between the account's prompts and the benign reference sample.",
       "The 2026 MMD extraction detector: attacker windows differ from benign traffic in "
       "distribution even when each prompt looks normal."),
    _c("cov_mmd_ratio", "float64", "ratio", HIGHER, "MMD against its threshold",
       "cov_mmd divided by its permutation threshold for the same sample size (> 1 = exceeds).",
       "Comparable across sample sizes, unlike cov_mmd itself."),
    _c("cov_mmd_exceeds", "bool", "flag", HIGHER, "MMD above its threshold",
       "cov_mmd is above the (1 - alpha) quantile of its permutation null (alpha = 0.01).",
       "A calibrated yes/no for rules; narrow benign apps also exceed, so combine it with "
       "breadth (coverage, entropy)."),
]
