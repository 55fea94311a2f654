"""Tunable parameters of the account graph and its clustering (one frozen, validated dataclass).

They live in the settings layer so that ``Settings.clusters`` can carry them: every field is
settable from ``detector.toml`` (a ``[clusters]`` table) and from the environment
(``DETECTOR_CLUSTERS__<FIELD>``, e.g. ``DETECTOR_CLUSTERS__TEMPLATE_NUM_PERM=128``; tuples as
JSON, ``DETECTOR_CLUSTERS__WINDOWS='[1, 7, 28]'``); see docs/clusters.md. ``detector.clusters``
re-exports the class as ``detector.clusters.params.ClusterParams``.

Defaults are set from first principles (what a shared address or fingerprint means), never
fitted on evaluation traffic. Every count is in accounts, every duration in seconds.
"""

from __future__ import annotations

from pydantic import ConfigDict, ValidationInfo, field_validator
from pydantic.dataclasses import dataclass


@dataclass(frozen=True, config=ConfigDict(extra="forbid"))
class ClusterParams:
    """Parameters of ``detector.clusters.compute``.

    windows: look-back windows in days; edges from each are kept and the strongest wins.
    max_key_accounts: fan-out cap of a blocking key; a key (address, fingerprint, template,
        creation bucket) shared by more accounts is *popular* and yields no pair edges
        (a payment instrument above the cap yields star edges to one hub instead).
    ip_slot_s: two accounts share an address only when both used it in the same slot.
    prefix_factor: weight of a shared /24 (/48) relative to a shared address.
    generic_ua_factor: weight of a client fingerprint whose user agent is a stock library.
    fingerprint_min_share: a profile counts for an account when it carries this share of its
        requests.
    template_sample: prompts sampled per account (deterministically, by prompt hash).
    template_max_chars: only this many leading characters of a prompt are shingled.
    template_threshold: MinHash LSH Jaccard threshold on template shingle sets.
    template_num_perm: MinHash permutations.
    timing_min_corr: minimum Pearson correlation of per-minute counts for a timing edge.
    timing_min_minutes: an account needs this many active minutes to be timed by correlation
        (the lockstep test has its own floor): two short runs that start in the same few
        minutes, such as two benchmark runs of a public question set, correlate by
        coincidence; a shared controller keeps it up over half an hour or more.
    lockstep_min_events: an account needs this many requests in the window to be tested for
        round-robin lockstep; lockstep_max_events bounds the cost (busier accounts are not
        tested); lockstep_max_lead: largest running count difference still called lockstep.
    creation_bucket_s: accounts created in the same bucket are candidates.
    embedding_min_cos: centroid cosine similarity where an embedding edge starts.
    family_min_weight: a family counts towards corroboration from this weight on.
    link_min_families: distinct evidence families needed for a link (payment aside).
    link_min_score: minimum summed family weight of a link.
    min_cluster_size: smallest group of accounts reported as a cluster.
    louvain_min_size: components at least this big are split by Louvain communities.
    louvain_max_density: components at least this dense (linked pairs / all pairs) stay whole.
    merge_min_density: Louvain communities linked by this share of their possible pairs merge.
    louvain_resolution: Louvain resolution (higher gives smaller communities).
    carry_min_jaccard: membership overlap at which a cluster keeps yesterday's id.
    carry_lookback_days: how far back to look for a previous clustering.
    new_account_days: an account younger than this (days) counts as new.
    min_edge_weight: a blocking key (or pair) lighter than this makes no edge: with
        sqrt(2/m) weighting an address shared by more than 88 accounts, a stock-library
        profile shared by more than 5; keeps the work bounded (a key costs m^2/2 pairs).
    store_min_score: typed edges of pairs scoring below this are not stored.
    seed: random seed (Louvain, MinHash) so runs are reproducible.
    window_cache: merge each window from per-day cached ingredients (``daycache``: keys,
        prompt samples with shingles, minute counts under ``clusters/cache/``) instead of
        re-reading and re-shingling the window's raw requests; same edges, each day read once.
    sweep_enabled: run the set-level search for low-and-slow groups (``sweeps.py``);
        experimental, off by default (on `train` it added more benign account-days than
        low-and-slow ones, see docs/clusters.md).
    campaign_enabled: after ``decide``, run the same search among accounts flagged in the
        look-back window (``campaigns.py``): campaigns are shown, never fed back into scores.
    campaign_partition / campaign_min_group_surprise: the campaign pass's ``sweep_partition``
        and ``sweep_min_group_surprise`` (its candidates are ~1-2% of accounts, so fewer
        chance groups are tested; 15 nats and "signed" were chosen on the `train` scenario).
    sweep_min_topics / sweep_max_openings: an account is a candidate with this many distinct
        opening prompts (first user turns) in the window (busier accounts are for the
        per-account detectors); at most ``sweep_sample`` of them are used per account.
    sweep_min_cached: share of the openings the embedding cache must hold for the search
        to run (it needs the coverage stage's vectors).
    sweep_remove_pcs: top principal directions of the opening-prompt vectors projected out
        (shared phrasing) before topic cells are formed.
    sweep_tau: cosine (after the removal) at which two openings are on one topic.
    sweep_block: about this many openings per k-means block; openings are compared only
        inside a block.
    sweep_region: about this many openings per topic region (coarser k-means cells) whose
        base match rate gives the expected overlap of two accounts.
    sweep_overlap_ratio: share of the chance overlap that members of one group are assumed
        to keep (topic matching is noisy): the pair evidence is the log-likelihood ratio of
        Poisson(ratio * expected) against Poisson(expected).
    sweep_max_scale: largest per-account correction of the expected overlap (an account
        meeting more partners than its regions' base rate predicts).
    sweep_min_group: smallest group reported.
    sweep_partition: how candidate groups are cut from the evidence graph: "louvain" (communities
        of the positive-LLR graph) or "signed" (greedy merging by summed LLR, evidence against
        a pair included; components above ``sweeps.SIGNED_MAX_NODES`` fall back to Louvain).
    sweep_min_group_surprise: -ln P(Poisson(expected inside) <= matches inside) a group needs.
    sweep_null_draws / sweep_max_null_share: random same-size sets drawn from the group's
        neighbourhood; a group is kept when at most this share of them is as surprising.
    """

    windows: tuple[int, ...] = (1, 7)
    max_key_accounts: int = 200
    ip_slot_s: int = 3600
    prefix_factor: float = 0.5
    generic_ua_factor: float = 0.25
    fingerprint_min_share: float = 0.2
    template_sample: int = 8
    template_max_chars: int = 400
    template_threshold: float = 0.5
    template_num_perm: int = 64
    timing_min_corr: float = 0.5
    timing_min_minutes: int = 30
    lockstep_min_events: int = 24
    lockstep_max_events: int = 20000
    lockstep_max_lead: int = 2
    creation_bucket_s: int = 3600
    embedding_min_cos: float = 0.85
    family_min_weight: float = 0.3
    link_min_families: int = 2
    link_min_score: float = 1.0
    min_cluster_size: int = 2
    louvain_min_size: int = 8
    louvain_max_density: float = 0.5
    merge_min_density: float = 0.1
    louvain_resolution: float = 1.0
    carry_min_jaccard: float = 0.5
    carry_lookback_days: int = 7
    new_account_days: int = 30
    min_edge_weight: float = 0.15
    store_min_score: float = 0.3
    seed: int = 0
    window_cache: bool = True
    sweep_enabled: bool = False
    campaign_enabled: bool = True
    campaign_partition: str = "signed"
    campaign_min_group_surprise: float = 15.0
    sweep_min_topics: int = 8
    sweep_max_openings: int = 400
    sweep_sample: int = 64
    sweep_min_cached: float = 0.9
    sweep_tau: float = 0.7
    sweep_block: int = 64
    sweep_region: int = 128
    sweep_remove_pcs: int = 20
    sweep_overlap_ratio: float = 0.25
    sweep_max_scale: float = 4.0
    sweep_min_group: int = 3
    sweep_partition: str = "louvain"
    sweep_min_group_surprise: float = 25.0
    sweep_null_draws: int = 200
    sweep_max_null_share: float = 0.01

    @field_validator("max_key_accounts", "min_cluster_size")
    @classmethod
    def _at_least_two(cls, value: int, info: ValidationInfo) -> int:
        if value < 2:
            raise ValueError(f"{info.field_name}: expected an integer >= 2, got {value!r}")
        return value

    @field_validator("windows")
    @classmethod
    def _day_counts(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not value or any(w < 1 for w in value):
            raise ValueError(f"windows: expected day counts >= 1, got {value!r}")
        return value

    @field_validator("template_threshold", "carry_min_jaccard", "family_min_weight",
                     "fingerprint_min_share")
    @classmethod
    def _share(cls, value: float, info: ValidationInfo) -> float:
        if not 0.0 < value <= 1.0:
            raise ValueError(f"{info.field_name}: expected a number in (0, 1], got {value!r}")
        return value

    @field_validator("sweep_partition", "campaign_partition")
    @classmethod
    def _partition(cls, value: str, info: ValidationInfo) -> str:
        if value not in ("louvain", "signed"):
            raise ValueError(f"{info.field_name}: expected 'louvain' or 'signed', got {value!r}")
        return value
