"""Decision policy: ordered outcomes allow < review < block; the strongest source wins.

Sources, per account-day:
- the model: score >= block threshold -> block, >= review threshold -> review. A model-only
  block is capped at review (``model_block_capped``) unless:
  - ``model_block_min_requests`` requests stand behind the score: the account's own that day
    or over the 7-day window its ``w7_*`` features read, or its cluster's that day (shares and
    ratios over a handful of requests are too noisy to cut a customer off on); or, down to
    ``thin_block_min_requests``, the score reaches ``thin_block_min_score`` (default
    ``strict_block_min_score``) over more than one burst, from the account's own networks
    rather than a shared one, on a day of few follow-ups (``thin_block_max_multiturn``)
    (``model_block_thin_evidence``); when the tier is on, a day under the floor
    backed by its week needs ``strict_block_min_score`` too (a week of a small app's ordinary
    days is not a harvesting job's evidence);
  - when the account's own day carries that evidence (outside a cluster), the day spreads
    beyond a single burst (``model_block_min_hour_entropy`` bits of hour-of-day entropy; such a
    day in one burst is reviewed by the model alone only at ``burst_review_min_score``: one
    sitting's evidence is a benchmark run's or a batch job's as often as a harvester's), and
    beyond one working session (``session_block_max_hour_entropy`` bits) or the score reaches
    ``session_block_min_score`` (default ``strict_block_min_score``; a benchmark run or a
    research group's session looks like an office-hours harvesting job); a
    day that compares models (the same questions to two models or more,
    ``comparison_max_top_model_share`` / ``comparison_max_prompt_ratio``) is reviewed by the
    model alone, like a single burst, only at ``burst_review_min_score``;
  - under ``model_block_max_multiturn`` of the day's requests continue a conversation
    (harvesting wants prompt-answer pairs; people, even heavy chat users, converse);
  - the account relays fewer than ``model_block_max_end_users`` distinct end-user ids (a
    platform serving identified users is a business to talk to, not to cut off on a score);
- rules: each acting rule (status test/stable) imposes its action and lifts the score to at least
  its score contribution; experimental rules are recorded as shadow hits and never act;
- corroboration: when ``corroborated_block_min_families`` signal families flag the same
  account-day on their own (each acting rule's family, the first word of its name, and the
  model's own review, after its guards), it is blocked, with the evidence floor, conversation and
  relay guards a model block meets (``corroborated_block``); several families' reviews of one
  day are independent evidence where one family's are not;
- cluster escalation: when most members of a cluster are flagged on a day, the rest of the
  cluster is flagged too (a hydra's clean-looking heads are caught with its body); when most
  are blocked, or every member is flagged and a good share blocked, or every member of a big
  enough cluster is flagged by an acting rule, the rest is blocked;
- returning actors (``detector.decide.returning``, after the above): a new account linked to
  previously blocked ones is at least reviewed (``at_least_review``), never blocked by the link;
- the allow-list (analyst-cleared accounts or orgs, with expiry) overrides all of them.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from detector.decide.policy_config import PolicyConfig

DECISIONS = ("allow", "review", "block")
RANK = {d: i for i, d in enumerate(DECISIONS)}

__all__ = ["DECISIONS", "RANK", "PolicyConfig", "apply_policy", "at_least_review", "numeric",
           "with_decisions"]


def _rule_table(hits: pd.DataFrame) -> pd.DataFrame:
    """Per account-day: strongest acting action, max acting score, acting and shadow rule names."""
    cols = ["account_id", "date", "rule_rank", "rule_score", "rule_hits", "shadow_hits"]
    if hits is None or hits.empty:
        return pd.DataFrame(columns=cols)
    h = hits.copy()
    h["date"] = pd.to_datetime(h["date"]).dt.date
    h["acting"] = ~h["shadow"].astype(bool)
    h["rank"] = np.where(h["acting"], h["action"].map(RANK).fillna(0), 0)
    h["score_c"] = np.where(h["acting"], pd.to_numeric(h["score"], errors="coerce").fillna(0.0), 0.0)
    grouped = h.groupby(["account_id", "date"], sort=False)
    out = pd.DataFrame({
        "rule_rank": grouped["rank"].max(),
        "rule_score": grouped["score_c"].max(),
        "rule_hits": grouped.apply(lambda g: sorted(g.loc[g["acting"], "rule_name"]), include_groups=False),
        "shadow_hits": grouped.apply(lambda g: sorted(g.loc[~g["acting"], "rule_name"]), include_groups=False),
    }).reset_index()
    return out[cols]


def _escalate_clusters(out: pd.DataFrame, cfg: PolicyConfig) -> pd.Series:
    """Rank imposed on each row by its cluster (0 when none)."""
    imposed = pd.Series(0, index=out.index)
    if "cluster_id" not in out.columns:
        return imposed
    in_cluster = _in_cluster(out["cluster_id"])
    if not in_cluster.any():
        return imposed
    sub = out.loc[in_cluster]
    g = sub.groupby(["cluster_id", "date"])["pre_rank"]
    size = g.transform("size")
    flagged = g.transform(lambda r: (r >= 1).mean())
    blocked = g.transform(lambda r: (r >= 2).mean())
    rank = np.where((size >= cfg.cluster_min_size) & (flagged >= cfg.cluster_review_share), 1, 0)
    rank = np.where((size >= cfg.cluster_block_min_size) & (blocked >= cfg.cluster_block_share), 2, rank)
    if cfg.cluster_flagged_block_share is not None:
        # every member flagged on its own evidence and a share of them blocked on it: one operator
        whole = (size >= cfg.cluster_min_size) & (flagged >= 1.0) & (
            blocked >= cfg.cluster_flagged_block_share)
        rank = np.where(whole, 2, rank)
    if cfg.cluster_rule_flagged_block_min_size is not None:
        # linked accounts each flagged by an extraction rule of its own: one harvesting fleet
        ruled = (sub["rule_rank"] >= 1).groupby([sub["cluster_id"], sub["date"]]).transform("all")
        rank = np.where((size >= cfg.cluster_rule_flagged_block_min_size) & ruled, 2, rank)
    imposed.loc[sub.index] = rank
    return imposed


def apply_policy(frame: pd.DataFrame, model_score: np.ndarray, hits: pd.DataFrame,
                 cfg: PolicyConfig, allow_accounts: set[str] = frozenset(),
                 allow_orgs: set[str] = frozenset()) -> pd.DataFrame:
    """Decide every account-day of ``frame`` (columns account_id, date, optional cluster_id, org_id).

    Returns account_id, date, cluster_id, model_score, score, decision, rule_hits, shadow_hits,
    sources (list of what raised the decision: 'model', rule names, 'cluster', 'allowlisted').
    """
    out = frame[["account_id", "date"]].copy()
    out["date"] = pd.to_datetime(out["date"]).dt.date
    out["cluster_id"] = frame["cluster_id"].values if "cluster_id" in frame.columns else None
    out["model_score"] = np.asarray(model_score, dtype=float)
    rules = _rule_table(hits)
    out = out.merge(rules, on=["account_id", "date"], how="left")
    out["rule_rank"] = out["rule_rank"].fillna(0).astype(int)
    out["rule_score"] = out["rule_score"].fillna(0.0).astype(float)
    for col in ("rule_hits", "shadow_hits"):
        out[col] = out[col].apply(lambda v: v if isinstance(v, list) else [])
    by_threshold = _threshold_rank(out["model_score"].to_numpy(), cfg)
    model_rank, thin = _model_rank(frame, by_threshold, out["model_score"].to_numpy(), cfg)
    capped = (by_threshold == 2) & (model_rank < 2)
    out["model_rank"] = model_rank
    own = np.maximum(model_rank, out["rule_rank"].to_numpy())
    corroborated = (own < 2) & _corroborated(frame, out["rule_hits"], model_rank, cfg)
    capped &= ~corroborated  # blocked after all: the marker would say the opposite
    out["pre_rank"] = np.where(corroborated, 2, own)
    out["cluster_rank"] = _escalate_clusters(out, cfg).to_numpy()
    final = np.maximum(out["pre_rank"].to_numpy(), out["cluster_rank"].to_numpy())
    out["score"] = np.maximum(out["model_score"], out["rule_score"])
    orgs = frame["org_id"].values if "org_id" in frame.columns else [None] * len(out)
    allowed = np.array([a in allow_accounts or (o is not None and o in allow_orgs)
                        for a, o in zip(out["account_id"], orgs, strict=True)], dtype=bool)
    final = np.where(allowed, 0, final)
    out["decision"] = [DECISIONS[r] for r in final]
    out["allowlisted"] = allowed
    out["sources"] = [
        _sources(m, rh, c, a, cap, th, co)
        for m, rh, c, a, cap, th, co in zip(out["model_rank"], out["rule_hits"],
                                            out["cluster_rank"] > out["pre_rank"], allowed,
                                            capped, thin & (model_rank == 2), corroborated,
                                            strict=True)
    ]
    return out.drop(columns=["rule_rank", "rule_score", "pre_rank"])


def _model_rank(frame: pd.DataFrame, rank: np.ndarray, score: np.ndarray, cfg: PolicyConfig
                ) -> tuple[np.ndarray, np.ndarray]:
    """Rank the model alone imposes: its threshold ``rank``, with blocks on thin evidence, on a
    single burst, on one working session under the session score, on a day of conversations, or
    of relays capped at review, and reviews of a single burst or a model comparison under
    ``burst_review_min_score`` dropped; and the rows whose block passed the thin-evidence bar
    instead of the evidence floor."""
    thin = np.zeros(len(rank), dtype=bool)
    spread = numeric(frame, "tim_hour_entropy")  # hour-of-day entropy; unknown: NaN, held
    if cfg.model_block_min_requests > 0 and "vol_requests" in frame.columns:
        day, volume = _evidence(frame)
        below = volume < cfg.model_block_min_requests
        shared = numeric(frame, "inf_shared_prefix_share", 0.0)  # unknown: not shared
        turns = numeric(frame, "div_multiturn_share", 0.0)  # unknown: no conversation
        thin = (rank == 2) & below & _thin_bar(volume, spread, shared, turns, score, cfg)
        rank = np.where((rank == 2) & below & ~thin, 1, rank)
        if cfg.thin_block_min_requests is not None:  # the day thin, the week full: strict too
            by_week = ~below & (day < cfg.model_block_min_requests)
            rank = np.where((rank == 2) & by_week & (score < cfg.strict_block_min_score), 1, rank)
    if "tim_hour_entropy" in frame.columns:
        own = _own_day(frame, cfg)
        if cfg.model_block_min_hour_entropy is not None:
            burst = own & (spread < cfg.model_block_min_hour_entropy)
            rank = np.where((rank == 2) & burst, 1, rank)
            if cfg.burst_review_min_score is not None:  # one sitting: review only when sure
                held = burst | (own & _comparison(frame, cfg))
                rank = np.where((rank == 1) & held & (score < cfg.burst_review_min_score), 0,
                                rank)
        if cfg.session_block_max_hour_entropy is not None:
            session = own & (spread < cfg.session_block_max_hour_entropy)
            bar = (cfg.strict_block_min_score if cfg.session_block_min_score is None
                   else cfg.session_block_min_score)
            rank = np.where((rank == 2) & session & (score < bar), 1, rank)
    if cfg.model_block_max_multiturn is not None and "div_multiturn_share" in frame.columns:
        turns = numeric(frame, "div_multiturn_share", 0.0)
        rank = np.where((rank == 2) & (turns >= cfg.model_block_max_multiturn), 1, rank)
    if cfg.model_block_max_end_users is not None and "inf_distinct_end_users" in frame.columns:
        users = numeric(frame, "inf_distinct_end_users", 0.0)
        rank = np.where((rank == 2) & (users >= cfg.model_block_max_end_users), 1, rank)
    return rank, thin


def _corroborated(frame: pd.DataFrame, rule_hits: pd.Series, rank: np.ndarray,
                  cfg: PolicyConfig) -> np.ndarray:
    """Rows that ``corroborated_block_min_families`` signal families flag on their own: the
    acting rules' families (a rule is named ``<family>_<what>``, ``detector.rules.loader``
    checks it; two rules of one family are one line of evidence, and so are the families of
    one ``corroborated_same_evidence`` group) and the model when its own
    ``rank`` (after its guards: a one-burst day's review dropped under the block score, a
    capped block kept as review) reaches review. The guards every model block meets hold
    these too: the evidence floor (``model_block_min_requests`` behind the day, its week or
    its cluster), conversations (``model_block_max_multiturn``) and relays
    (``model_block_max_end_users``)."""
    if cfg.corroborated_block_min_families is None:
        return np.zeros(len(frame), dtype=bool)
    line = {f: group[0] for group in cfg.corroborated_same_evidence for f in group}
    families = np.array([len({line.get(f, f) for f in (n.split("_", 1)[0] for n in names)})
                         for names in rule_hits], dtype=int) + (rank >= 1)
    ok = families >= cfg.corroborated_block_min_families
    if cfg.model_block_min_requests > 0:
        ok &= _evidence(frame)[1] >= cfg.model_block_min_requests
    if cfg.model_block_max_multiturn is not None:
        ok &= numeric(frame, "div_multiturn_share", 0.0) < cfg.model_block_max_multiturn
    if cfg.model_block_max_end_users is not None:
        ok &= numeric(frame, "inf_distinct_end_users", 0.0) < cfg.model_block_max_end_users
    return ok


def numeric(frame: pd.DataFrame, column: str, missing: float = np.nan) -> np.ndarray:
    """``column`` of ``frame`` as floats, ``missing`` for nulls, unparsable values and an
    absent column."""
    if column not in frame.columns:
        return np.full(len(frame), missing)
    values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)
    return np.where(np.isnan(values), missing, values)


def _thin_bar(volume: np.ndarray, spread: np.ndarray, shared: np.ndarray, turns: np.ndarray,
              score: np.ndarray, cfg: PolicyConfig) -> np.ndarray:
    """Rows under the evidence floor that may still be blocked by the model: at least
    ``thin_block_min_requests`` requests behind the score, a score of at least
    ``thin_block_min_score`` (``strict_block_min_score`` when unset), when
    ``model_block_min_hour_entropy`` is set a day spread beyond one burst (an unknown spread
    fails), when ``thin_block_max_shared_network`` is set a day sent under that share from
    networks other accounts use too (``shared``: ``inf_shared_prefix_share``; a campus or office
    NAT), and when
    ``thin_block_max_multiturn`` is set under that share of the day's requests continuing a
    conversation (``turns``: ``div_multiturn_share``; stricter than the conversation guard every
    model block meets). The other guards (conversations, relays) apply to these blocks as to
    any other."""
    if cfg.thin_block_min_requests is None:
        return np.zeros(len(volume), dtype=bool)
    bar = (cfg.strict_block_min_score if cfg.thin_block_min_score is None
           else cfg.thin_block_min_score)
    ok = (volume >= cfg.thin_block_min_requests) & (score >= bar)
    if cfg.model_block_min_hour_entropy is not None:
        ok &= spread >= cfg.model_block_min_hour_entropy  # NaN compares False
    if cfg.thin_block_max_shared_network is not None:
        ok &= shared < cfg.thin_block_max_shared_network
    if cfg.thin_block_max_multiturn is not None:
        ok &= turns < cfg.thin_block_max_multiturn
    return ok


def _comparison(frame: pd.DataFrame, cfg: PolicyConfig) -> np.ndarray:
    """Rows whose day compares models: two models or more, none with more than
    ``comparison_max_top_model_share`` of the requests, and at most
    ``comparison_max_prompt_ratio`` of the prompts distinct (the same questions sent to each:
    an evaluation harness's run); unknown values and an unset config: no."""
    if cfg.comparison_max_top_model_share is None or cfg.comparison_max_prompt_ratio is None:
        return np.zeros(len(frame), dtype=bool)
    return ((numeric(frame, "vol_distinct_models", 0.0) >= 2)
            & (numeric(frame, "vol_top_model_share", 1.0) <= cfg.comparison_max_top_model_share)
            & (numeric(frame, "div_distinct_prompt_ratio", 1.0)
               <= cfg.comparison_max_prompt_ratio))


def _own_day(frame: pd.DataFrame, cfg: PolicyConfig) -> np.ndarray:
    """Rows whose model block rests on the account's own day alone: the day holds the evidence
    floor and the account is in no cluster. The burst and session guards hold such a day when
    its hour-of-day entropy is known and under their bits (entropy is a spread, not a count,
    so they do not move with volume); a block resting on the week or a cluster is backed by
    more than the day and is not held there."""
    day = numeric(frame, "vol_requests", 0.0)
    alone = (~_in_cluster(frame["cluster_id"]).to_numpy() if "cluster_id" in frame.columns
             else np.ones(len(frame), dtype=bool))
    return alone & (day >= cfg.model_block_min_requests)


def _in_cluster(cluster_id: pd.Series) -> pd.Series:
    """Rows whose account is in a cluster that day (a null or empty id: none)."""
    return cluster_id.notna() & (cluster_id.astype(str) != "")


def _threshold_rank(score: np.ndarray, cfg: PolicyConfig) -> np.ndarray:
    return np.where(score >= cfg.block_threshold, 2, np.where(score >= cfg.review_threshold, 1, 0))


def _evidence(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(requests behind each row that day, :func:`_day_evidence`; and the most behind it that
    day or over the 7-day window its ``w7_*`` features read): what the evidence floor reads."""
    day = _day_evidence(frame)
    return day, np.maximum(day, numeric(frame, "w7_vol_requests", 0.0))


def _day_evidence(frame: pd.DataFrame) -> np.ndarray:
    """Requests behind each row's score that day: the account's own, or its cluster's when it
    is in one (a fleet of small accounts pools its evidence, as it pools its traffic)."""
    day = numeric(frame, "vol_requests", 0.0)
    if "cluster_id" not in frame.columns:
        return day
    cluster = frame["cluster_id"].astype(object).where(frame["cluster_id"].notna(), None)
    keyed = pd.DataFrame({"c": cluster, "d": frame["date"], "v": day})
    pooled = keyed.groupby(["c", "d"], dropna=True)["v"].transform("sum")
    return np.maximum(day, pooled.fillna(0).to_numpy())


def _sources(model_rank: int, rule_hits: list[str], by_cluster: bool, allowed: bool,
             capped: bool = False, thin: bool = False,
             corroborated: bool = False) -> list[str]:
    if allowed:
        return ["allowlisted"]
    src = list(rule_hits)
    if model_rank > 0:
        src.append("model")
    if capped:
        src.append("model_block_capped")  # the model alone would have blocked: analyst decides
    if thin:
        src.append("model_block_thin_evidence")  # blocked under the floor, at the stricter bar
    if corroborated:
        src.append("corroborated_block")  # several families' reviews of the day: a block
    if by_cluster:
        src.append("cluster_escalation")
    return src


def with_decisions(out: pd.DataFrame, rows: list[int],
                   change: Callable[[str, list[str]], tuple[str, list[str]]]) -> pd.DataFrame:
    """A copy of ``apply_policy``'s output with, at each position of ``rows``, the decision and
    sources that ``change(decision, sources)`` returns: the one way the later decide steps
    (relays, reruns, returning actors) amend a verdict."""
    out = out.copy()
    decisions = out["decision"].to_numpy(dtype=object).copy()
    sources = list(out["sources"])
    for pos in rows:
        decisions[pos], sources[pos] = change(decisions[pos], list(sources[pos]))
    out["decision"] = decisions
    out["sources"] = sources
    return out


def at_least_review(out: pd.DataFrame, rows: list[int], source: str) -> pd.DataFrame:
    """Raise the rows at positions ``rows`` of ``apply_policy``'s output to at least review
    and record ``source``; a block stays a block, an allow-listed row stays allowed. Used for
    evidence that may send an account to an analyst but never cut it off (returning actors)."""
    allowed = out["allowlisted"].to_numpy() if "allowlisted" in out.columns else None
    rows = [pos for pos in rows if allowed is None or not allowed[pos]]

    def change(decision: str, sources: list[str]) -> tuple[str, list[str]]:
        decision = "review" if RANK[decision] < RANK["review"] else decision
        return decision, sources if source in sources else [*sources, source]

    return with_decisions(out, rows, change)
