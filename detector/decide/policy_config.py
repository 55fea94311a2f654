"""The decision policy's settings (``PolicyConfig``): thresholds, escalations and the guards a
model-only decision meets, each validated with its name. ``detector.decide.policy`` applies
them (and re-exports the class); ``detector.decide.scoring`` builds the default one from the
model card and its documented constants.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from detector.rules.rule import FAMILIES


@dataclass(frozen=True)
class PolicyConfig:
    review_threshold: float
    block_threshold: float
    cluster_min_size: int = 3
    cluster_review_share: float = 0.5
    cluster_block_min_size: int = 5
    cluster_block_share: float = 0.8
    cluster_flagged_block_share: float | None = None
    cluster_rule_flagged_block_min_size: int | None = None
    model_block_min_requests: int = 0
    model_block_min_hour_entropy: float | None = None
    model_block_max_end_users: int | None = None
    model_block_max_multiturn: float | None = None
    thin_block_min_requests: int | None = None
    thin_block_max_shared_network: float | None = None
    session_block_max_hour_entropy: float | None = None
    session_block_min_score: float | None = None
    strict_block_min_score: float = 1.0
    thin_block_min_score: float | None = None
    thin_block_max_multiturn: float | None = None
    burst_review_min_score: float | None = None
    comparison_max_top_model_share: float | None = None
    comparison_max_prompt_ratio: float | None = None
    corroborated_block_min_families: int | None = None
    corroborated_same_evidence: tuple[tuple[str, ...], ...] = ()

    def __post_init__(self) -> None:
        if not 0.0 <= self.review_threshold <= self.block_threshold <= 1.0 + 1e-9:
            raise ValueError(
                "thresholds: expected 0 <= review_threshold <= block_threshold <= 1, got "
                f"review={self.review_threshold!r}, block={self.block_threshold!r}")
        if self.model_block_min_requests < 0:
            raise ValueError("model_block_min_requests: expected a count >= 0, got "
                             f"{self.model_block_min_requests!r}")
        t = self.thin_block_min_requests
        if t is not None and not 0 < t <= self.model_block_min_requests:
            raise ValueError("thin_block_min_requests: expected None or a count in "
                             f"(0, model_block_min_requests={self.model_block_min_requests}], "
                             f"got {t!r}")
        strict = t is not None or self.session_block_max_hour_entropy is not None
        if strict and not self.block_threshold <= self.strict_block_min_score <= 1.0 + 1e-9:
            raise ValueError("strict_block_min_score: expected a score in [block_threshold, 1], "
                             f"got {self.strict_block_min_score!r}")
        b = self.thin_block_min_score
        if b is not None and not self.strict_block_min_score <= b <= 1.0 + 1e-9:
            raise ValueError("thin_block_min_score: expected None or a score in "
                             f"[strict_block_min_score={self.strict_block_min_score}, 1], "
                             f"got {b!r}")
        b = self.session_block_min_score
        if b is not None and (self.session_block_max_hour_entropy is None
                              or not self.strict_block_min_score <= b <= 1.0 + 1e-9):
            raise ValueError("session_block_min_score: expected None, or a score in "
                             f"[strict_block_min_score={self.strict_block_min_score}, 1] with "
                             f"session_block_max_hour_entropy set, got {b!r}")
        for name in ("thin_block_max_shared_network", "thin_block_max_multiturn",
                     "cluster_flagged_block_share", "model_block_max_multiturn",
                     "comparison_max_top_model_share", "comparison_max_prompt_ratio"):
            n = getattr(self, name)
            if n is not None and not 0.0 < n <= 1.0:
                raise ValueError(f"{name}: expected a share in (0, 1] or None, got {n!r}")
        e = self.session_block_max_hour_entropy
        if e is not None and not (self.model_block_min_hour_entropy or 0.0) <= e <= np.log2(24):
            raise ValueError("session_block_max_hour_entropy: expected bits in "
                             "[model_block_min_hour_entropy, log2(24)] or None, got "
                             f"{e!r}")
        b = self.burst_review_min_score
        if b is not None and (self.model_block_min_hour_entropy is None
                              or not self.review_threshold <= b <= 1.0 + 1e-9):
            raise ValueError("burst_review_min_score: expected None, or a score in "
                             "[review_threshold, 1] with model_block_min_hour_entropy set, got "
                             f"{b!r}")
        if (self.comparison_max_top_model_share is None) != (
                self.comparison_max_prompt_ratio is None):
            raise ValueError("comparison_max_top_model_share, comparison_max_prompt_ratio: "
                             "expected both set or both None, got "
                             f"{self.comparison_max_top_model_share!r}, "
                             f"{self.comparison_max_prompt_ratio!r}")
        r = self.cluster_rule_flagged_block_min_size
        if r is not None and (isinstance(r, bool) or not isinstance(r, int) or r < 2):
            raise ValueError("cluster_rule_flagged_block_min_size: expected None or a count >= 2, "
                             f"got {r!r}")
        c = self.corroborated_block_min_families
        if c is not None and (isinstance(c, bool) or not isinstance(c, int) or c < 2):
            raise ValueError("corroborated_block_min_families: expected None or a count >= 2 "
                             f"(one family alone is that family's own review), got {c!r}")
        seen: set[str] = set()
        for group in self.corroborated_same_evidence:
            ok = (isinstance(group, tuple) and len(group) >= 2 and len(set(group)) == len(group)
                  and all(isinstance(f, str) and f in FAMILIES for f in group)
                  and not seen & set(group))
            if not ok:
                raise ValueError("corroborated_same_evidence: expected disjoint tuples of two or "
                                 f"more distinct family names of {FAMILIES} (families counted "
                                 "as one line of evidence), got "
                                 f"{self.corroborated_same_evidence!r}")
            seen |= set(group)
        h = self.model_block_min_hour_entropy
        if h is not None and not 0.0 <= h <= np.log2(24):
            raise ValueError("model_block_min_hour_entropy: expected bits in [0, log2(24)] or "
                             f"None, got {h!r}")
