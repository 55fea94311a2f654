"""The cluster stage's columns (``cluster_id`` and ``clu_*``; ``features/cluster``).

Rows exist for every account active on the day. Accounts in no cluster have ``cluster_id``
null, ``clu_size`` 1, ``clu_degree`` 0 and every other ``clu_*`` column null. Stored order:
this list's order.
"""

from __future__ import annotations

from detector.columns.model import Column

HIGHER, LOWER = "higher", "lower"


def _c(name: str, dtype: str, unit: str, direction: str | None, label: str, meaning: str,
       why: str) -> Column:
    return Column(name, "clu", dtype, unit, direction, label, meaning, why)


F = "float64"
CLUSTER: list[Column] = [
    _c("cluster_id", "string", "id", None, "Cluster",
       "Stable id of the account's cluster (null when none).",
       "Ties an account to the coordinated group it belongs to; shown in verdicts."),
    _c("clu_size", "int64", "accounts", HIGHER, "Cluster members",
       "Members of the cluster (1 when in none).",
       "Campaigns spread traffic over many accounts, each clean on its own."),
    _c("clu_degree", "int64", "accounts", HIGHER, "Linked accounts",
       "Accounts this one is linked to.", "How central the account is in its group."),
    _c("clu_member_share", F, "fraction", None, "Account's share of the cluster's requests",
       "Share of the cluster's requests of the day made by this account.",
       "Load-balanced members each carry a small, even share."),
    _c("clu_total_requests", F, "requests/day", HIGHER, "Cluster requests",
       "Requests of all members on the day.",
       "The harvest volume of the whole group, hidden when split over accounts."),
    _c("clu_total_output_tokens", F, "tokens/day", HIGHER, "Cluster output tokens",
       "Completion tokens of all members on the day.", "Output harvested by the group."),
    _c("clu_total_prompt_tokens", F, "tokens/day", None, "Cluster prompt tokens",
       "Prompt tokens of all members on the day.", "Input volume of the group."),
    _c("clu_distinct_ips", F, "addresses", HIGHER, "Cluster client addresses",
       "Distinct client addresses used by members on the day.",
       "Proxy pools rotate many addresses over few accounts."),
    _c("clu_template_overlap", F, "jaccard 0-1", HIGHER, "Shared prompt templates",
       "Mean Jaccard of members' prompt-template scaffolds.",
       "One harvesting script sends the same wrapper text from every account."),
    _c("clu_timing_sync", F, "correlation -1..1", HIGHER, "Synchronised timing",
       "Mean correlation of members' per-minute request counts.",
       "One scheduler drives all accounts at once or round-robin."),
    _c("clu_shared_payment", F, "fraction", HIGHER, "Members sharing a payment",
       "Share of members sharing a payment instrument with another member.",
       "Shared payment is the strongest sign of common control."),
    _c("clu_shared_network", F, "fraction", HIGHER, "Members sharing a network",
       "Share of members sharing an address or prefix (same hour) with another member.",
       "Shared infrastructure, corroborated by other evidence."),
    _c("clu_new_account_share", F, "fraction", HIGHER, "New accounts in the cluster",
       "Share of members created within 30 days of the day.",
       "Campaigns register fresh accounts in bulk."),
    _c("clu_creation_span_h", F, "hours", LOWER, "Span of the members' creation",
       "Hours between the first and last member's creation.",
       "Bulk registration packs creation times together."),
    _c("clu_coverage", F, "fraction", HIGHER, "Distinct prompts across the cluster",
       "Distinct prompts of the union of members / their requests.",
       "Harvesters rarely repeat a prompt across the group: the union covers ground."),
    _c("clu_prompt_overlap", F, "fraction", LOWER, "Prompts repeated between members",
       "1 - distinct union prompts / sum of members' distinct prompts.",
       "Near 0 when members split a topic list between them (coordinated coverage)."),
    _c("clu_centroid_spread", F, "cosine distance", HIGHER, "Topic spread between members",
       "Mean cosine distance between members' embedding centroids, centred on the day's mean "
       "centroid (null without embeddings).",
       "Members covering disjoint topics on purpose sit far apart."),
    _c("clu_density", F, "fraction", HIGHER, "Cluster density",
       "Linked member pairs / all member pairs.",
       "Tight groups are linked all round, chance groups by a chain."),
    _c("clu_edge_types", F, "count", HIGHER, "Kinds of link evidence",
       "Distinct edge types seen between members.",
       "More independent kinds of evidence, more confidence."),
    _c("clu_mean_link_score", F, "score 0-6", HIGHER, "Mean link strength",
       "Mean summed family weight of the member links.",
       "How strong the evidence binding the group is."),
    _c("clu_age_days", F, "days", HIGHER, "Cluster age",
       "Days since the cluster id was first seen.",
       "Persistent groups are campaigns, one-day groups may be chance."),
]

#: Per-account columns (the rest are cluster-level, repeated on every member).
ACCOUNT_COLUMNS = ("clu_degree", "clu_member_share")
