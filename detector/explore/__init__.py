"""Read-only helpers for analyst notebooks, built on the stage functions.

Everything here reads what the pipeline wrote under a home folder and returns plain pandas
frames (or a networkx graph), so a notebook investigates an account, tunes a rule, compares
models or maps a cluster without writing SQL against internal folders. The one writer,
:func:`write_tuned_rule`, writes a rule file into a folder the caller names (never ``rules/``
unless asked to).

Modules: ``account`` (one account, or a few side by side), ``clusters``, ``tuning`` (rule
thresholds), ``models``; every public name is importable from ``detector.explore``.

Grains: ``account_activity`` one row per (time bucket) of one account; ``verdict_timeline`` one
row per evaluated day of one account; ``features_vs_population`` one row per feature of one
account-day; ``account_rule_hits`` one row per (date, rule) hit; ``sample_prompts`` one row per
sampled request; ``cluster_neighbours`` one row per (neighbour, edge type, window) edge;
``timing_series`` one row per time bucket, one column per account; ``threshold_sweep`` one row
per candidate threshold; ``model_comparison`` one row per model.
"""

from detector.explore.account import (
    account_activity,
    account_rule_hits,
    features_vs_population,
    latest_day,
    sample_prompts,
    timing_series,
    verdict_timeline,
)
from detector.explore.clusters import cluster_graph, cluster_neighbours
from detector.explore.models import model_comparison
from detector.explore.tuning import (
    retune_condition,
    rule_threshold,
    threshold_sweep,
    threshold_variant,
    write_tuned_rule,
)

__all__ = [
    "account_activity", "account_rule_hits", "cluster_graph", "cluster_neighbours",
    "features_vs_population", "latest_day", "model_comparison", "retune_condition",
    "rule_threshold", "sample_prompts", "threshold_sweep", "threshold_variant",
    "timing_series", "verdict_timeline", "write_tuned_rule",
]
