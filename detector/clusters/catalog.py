"""Feature catalog of the cluster stage: the ``clu_*`` columns of ``features/cluster``.

Rows exist for every account active on the day. Accounts in no cluster have ``cluster_id``
null, ``clu_size`` 1, ``clu_degree`` 0 and every other ``clu_*`` column null.
"""

from __future__ import annotations

COLUMNS: list[dict[str, str]] = [
    {"name": "cluster_id", "unit": "id", "meaning": "Stable id of the account's cluster (null when none).",
     "why": "Ties an account to the coordinated group it belongs to; shown in verdicts."},
    {"name": "clu_size", "unit": "accounts", "meaning": "Members of the cluster (1 when in none).",
     "why": "Campaigns spread traffic over many accounts, each clean on its own."},
    {"name": "clu_degree", "unit": "accounts", "meaning": "Accounts this one is linked to.",
     "why": "How central the account is in its group."},
    {"name": "clu_member_share", "unit": "fraction", "meaning": "Share of the cluster's requests of the day made by this account.",
     "why": "Load-balanced members each carry a small, even share."},
    {"name": "clu_total_requests", "unit": "requests/day", "meaning": "Requests of all members on the day.",
     "why": "The harvest volume of the whole group, hidden when split over accounts."},
    {"name": "clu_total_output_tokens", "unit": "tokens/day", "meaning": "Completion tokens of all members on the day.",
     "why": "Output harvested by the group."},
    {"name": "clu_total_prompt_tokens", "unit": "tokens/day", "meaning": "Prompt tokens of all members on the day.",
     "why": "Input volume of the group."},
    {"name": "clu_distinct_ips", "unit": "addresses", "meaning": "Distinct client addresses used by members on the day.",
     "why": "Proxy pools rotate many addresses over few accounts."},
    {"name": "clu_template_overlap", "unit": "jaccard 0-1", "meaning": "Mean Jaccard of members' prompt-template scaffolds.",
     "why": "One harvesting script sends the same wrapper text from every account."},
    {"name": "clu_timing_sync", "unit": "correlation -1..1", "meaning": "Mean correlation of members' per-minute request counts.",
     "why": "One scheduler drives all accounts at once or round-robin."},
    {"name": "clu_shared_payment", "unit": "fraction", "meaning": "Share of members sharing a payment instrument with another member.",
     "why": "Shared payment is the strongest sign of common control."},
    {"name": "clu_shared_network", "unit": "fraction", "meaning": "Share of members sharing an address or prefix (same hour) with another member.",
     "why": "Shared infrastructure, corroborated by other evidence."},
    {"name": "clu_new_account_share", "unit": "fraction", "meaning": "Share of members created within 30 days of the day.",
     "why": "Campaigns register fresh accounts in bulk."},
    {"name": "clu_creation_span_h", "unit": "hours", "meaning": "Hours between the first and last member's creation.",
     "why": "Bulk registration packs creation times together."},
    {"name": "clu_coverage", "unit": "fraction", "meaning": "Distinct prompts of the union of members / their requests.",
     "why": "Harvesters rarely repeat a prompt across the group: the union covers ground."},
    {"name": "clu_prompt_overlap", "unit": "fraction", "meaning": "1 - distinct union prompts / sum of members' distinct prompts.",
     "why": "Near 0 when members split a topic list between them (coordinated coverage)."},
    {"name": "clu_centroid_spread", "unit": "cosine distance", "meaning": "Mean cosine distance between members' embedding centroids, centred on the day's mean centroid (null without embeddings).",
     "why": "Members covering disjoint topics on purpose sit far apart."},
    {"name": "clu_density", "unit": "fraction", "meaning": "Linked member pairs / all member pairs.",
     "why": "Tight groups are linked all round, chance groups by a chain."},
    {"name": "clu_edge_types", "unit": "count", "meaning": "Distinct edge types seen between members.",
     "why": "More independent kinds of evidence, more confidence."},
    {"name": "clu_mean_link_score", "unit": "score 0-6", "meaning": "Mean summed family weight of the member links.",
     "why": "How strong the evidence binding the group is."},
    {"name": "clu_age_days", "unit": "days", "meaning": "Days since the cluster id was first seen.",
     "why": "Persistent groups are campaigns, one-day groups may be chance."},
]

#: Per-account columns (the rest are cluster-level, repeated on every member).
ACCOUNT_COLUMNS = ("clu_degree", "clu_member_share")
