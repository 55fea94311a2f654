"""Relay end users: a relay's own end users who, judged alone, look like harvesters.

A relay or reseller passes its customers' end-user ids (``request.user``,
``safety_identifier``; ``end_user_hash`` in the lake). Judged as a whole, its day is its
customers' mix: a proxy that lets a few of its end users (or itself, under a few end-user ids)
harvest through it scores low when the harvesting is a fifth of its traffic, and the model-only
block is capped for relays anyway (``PolicyConfig.model_block_max_end_users``). This stage
reads each relay-day that is not blocked per end user:

- **candidates**: relay-days (at least ``model_block_max_end_users`` distinct end users), not
  blocked and not allow-listed, with any score;
- **streams**: each end user's requests that day (``relay_streams.stream_requests``, kind
  ``end_user``): at least ``relay_streams.stream_floor`` requests (the thin tier's floor, 10)
  and at most ``relay_streams.MAX_SHARE`` of the relay's day, the ``MAX_END_USERS`` largest per
  relay-day; each is featured as a pseudo-account and scored by the same classifier as in
  ``relay_streams`` (its own coverage statistics, population features against the real day);
- **harvesting end users**: streams scoring at or above the review threshold;
- **review** when the harvesting end users together sent at least the evidence floor
  (``PolicyConfig.model_block_min_requests``, 50) requests *and* at least ``MIN_SHARE`` of the
  relay's day: several end users each scoring as a review (an operation spread over a few
  ids), or one with the floor's requests on its own, in proportion to the relay's volume;
  and, where they hold at most ``relay_streams.MAX_SHARE`` of the day, their requests taken
  together differ from the rest's (:func:`differences`) or score as a block together (the
  busiest end users of a tutoring app score as reviews one by one by chance, and ask as its
  other users do);
- **block** when, besides, their requests taken together (one pseudo-account) score at or
  above the block threshold while the rest of the relay's day scores under review, and they
  hold at most ``relay_streams.MAX_SHARE`` of it: the contrast ``relay_streams`` asks of one
  stream, asked of the harvesting end users together (evidence about the relay's own
  harvesting traffic, never its volume); or, with the same contrast, when they score at or
  above the review threshold together, hold at least ``BLOCK_MIN_SHARE`` of the relay's
  day (a tenth: twice the review's share floor, five times the largest share benign relays'
  harvesting-scored end users reached on development homes), and their requests differ from
  the rest's as harvesting traffic does (:func:`differences`: chain-of-thought wording,
  logprobs, reasoning effort, single-turn requests, requested or returned output length). A
  joint score at review on a few dozen requests is partly their small number; the difference
  in the requests themselves is not.

The verdict's sources get ``relay_end_user_harvest`` (a block also loses
``model_block_capped``) and its explanation the end users (hashed id, requests, share, score;
the best ``LISTED``) with, where judged, their joint score, the rest's, and the differences
between their requests and the rest's (name -> [theirs, the rest's]).

Why both floors and not one end user's score: a relay's busiest end users are many small
samples, and with hundreds of them some score high by chance. On development homes of both
generators at 0.25x-10x, benign resellers' and apps' end users of 10-70 requests scored up to
0.96, and the only benign relay-days whose harvesting-scored end users passed 50 requests (65
and 70 requests, at 10x) held 1.5-1.8% of their day; the proxies' harvesting end users held
3-47% (median 24%). Evasion: a harvester spreading its requests over many end-user ids each
under 10 a day, or keeping the harvesting-scored ones under 50 requests or under 5% of the
relay's day, stays unseen here (the relay's own score, rules and clusters still act).

Cost: every relay-day not blocked is read, but only its end users of at least 10 requests and
at most ``MAX_END_USERS`` of them, so the featured rows are bounded by the relays' requests;
the joint and rest pseudo-accounts only for the relay-days reviewed here (a whole relay-day
each).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from detector.decide import relay_streams
from detector.decide.policy import PolicyConfig, at_least_review
from detector.lake.db import open_duckdb, request_files, sql_file_list
from detector.settings import Settings

REASON = "relay_end_user_harvest"

#: The most end users of one relay-day judged (the largest first): bounds the featured rows.
MAX_END_USERS = 64

#: The least share of the relay's day the harvesting end users hold together.
MIN_SHARE = 0.05

#: The least share of the relay's day the harvesting end users hold for a block on a joint
#: score under the block threshold (at or above review), with the rest of the day under
#: review. Several of a relay's end users, each scoring as a harvester, a tenth of its day
#: together and scoring as one, beside ordinary traffic: that is the relay's own harvesting
#: traffic, whatever its volume. On 13 development homes of both generators (0.5x-10x, one
#: and three days) the independent generator's proxies reached the review here on 91
#: relay-days, 73 left at review; 50 of those held 12-46% of their day with a joint score of
#: 0.56-0.79 (under the block threshold) and a rest under 0.47, and are blocked. No benign
#: relay-day of those homes (1,641) reached even the review's floors, and on earlier
#: development homes the benign relay-days whose harvesting-scored end users passed 50
#: requests held 1.5-1.8% of their day. The block also needs their requests to differ from
#: the rest's (:func:`differences`, ``MIN_SHARE_DIFFERENCE``). Evasion cost: a harvester
#: keeping its end users under a tenth of the relay's day, under review each, or asking as
#: the relay's other traffic asks, is reviewed (or left to the relay's own score).
BLOCK_MIN_SHARE = 0.10

#: Request-level shares in which harvesting end users' traffic differs from the relay's
#: other traffic (name, daily feature, whether the share is one minus the feature):
#: chain-of-thought wording, logprobs, high reasoning effort, single-turn requests.
SHARE_CONTRASTS = (("cot_wording", "hv_cot_lexicon_share", False),
                   ("logprobs", "hv_logprobs_share", False),
                   ("high_effort", "hv_high_effort_share", False),
                   ("single_turn", "div_multiturn_share", True))

#: Request-level sizes in which they differ (name, daily feature): requested output length,
#: output tokens per input token.
RATIO_CONTRASTS = (("max_tokens", "hv_max_tokens_mean"),
                   ("output_per_input", "hv_output_input_ratio"))

#: The least difference of a share in ``SHARE_CONTRASTS`` (joint minus rest) that counts, and
#: the least ratio of a size in ``RATIO_CONTRASTS`` (joint over rest). A block on the
#: tenth-of-the-day path needs one of them, and so does a review on end users judged together
#: unless they score as a block together (:func:`_evidence`): a joint score at review on a few
#: dozen requests is partly their small number (coverage statistics of a small sample read as
#: breadth), so the end users' requests must differ from the rest's as harvesting does, not
#: only score apart. On 13 development and 11 diagnosis homes of both generators (22,103
#: account-days), the 66 proxy relay-days that path blocked all differed in CoT wording and
#: single-turn requests (the largest share difference 0.66-1.0), 61 of them in output per
#: input token too, and so did every proxy relay-day reviewed on its end users but two
#: simulator proxies scoring 0.96-0.99 together; the three tutoring apps on the path (sim 10x,
#: seeds 9901-9902), whose students ask step-by-step questions like the rest of their users,
#: differed in nothing (share differences at most 0.03, ratios at most 1.23) and are allowed
#: (one was blocked, two reviewed); nothing else changed.
MIN_SHARE_DIFFERENCE = 0.25
MIN_RATIO = 2.0

#: The most end users listed in a verdict's explanation (the best-scoring first).
LISTED = 10

#: Pseudo-account suffixes of the harvesting end users together and of the rest of the day.
JOINT, REST = "~end-users", "~end-users~rest"


def candidates(out: pd.DataFrame, frame: pd.DataFrame, cfg: PolicyConfig) -> list[int]:
    """Positions of relay-days that are neither blocked nor allow-listed."""
    if cfg.model_block_max_end_users is None or "inf_distinct_end_users" not in frame.columns:
        return []
    users = pd.to_numeric(frame["inf_distinct_end_users"], errors="coerce").fillna(0).to_numpy()
    relay = users >= cfg.model_block_max_end_users
    open_ = (out["decision"] != "block").to_numpy() & ~out["allowlisted"].to_numpy(dtype=bool)
    return np.flatnonzero(relay & open_ & out["account_id"].notna().to_numpy()).tolist()


def _largest(req: pa.Table, info: dict[str, dict]) -> tuple[pa.Table, dict[str, dict]]:
    """At most ``MAX_END_USERS`` streams per relay: the largest (then by key)."""
    per: dict[str, list[tuple[int, str]]] = {}
    for pseudo, ev in info.items():
        per.setdefault(ev["account_id"], []).append((-ev["requests"], pseudo))
    keep = {p for streams in per.values() for _, p in sorted(streams)[:MAX_END_USERS]}
    if len(keep) == len(info):
        return req, info
    info = {p: ev for p, ev in info.items() if p in keep}
    return req.filter(pc.is_in(req["account_id"], pa.array(sorted(keep), pa.string()))), info


def judge(settings: Settings, frame: pd.DataFrame, out: pd.DataFrame, model,
          cfg: PolicyConfig) -> dict[int, dict]:
    """Position of a relay-day -> its harvesting end users, where they reach the floor."""
    by_day = relay_streams.per_day(out, candidates(out, frame, cfg))
    fs = None  # read once, for the first day with an end user to judge
    coverage = any(c.startswith("cov_") for c in frame.columns)
    found: dict[int, dict] = {}
    for day, accounts in sorted(by_day.items()):
        req, info = relay_streams.stream_requests(settings, day, sorted(accounts),
                                                  relay_streams.stream_floor(cfg),
                                                  kinds=("end_user",))
        if not info:
            continue
        req, info = _largest(req, info)
        fs = fs if fs is not None else relay_streams.model_first_seen(settings)
        scores = relay_streams.stream_scores(settings, req, day, fs, coverage, model,
                                             {p: ev["account_id"] for p, ev in info.items()})
        harvesting: dict[str, list[dict]] = {}
        for pseudo, ev in info.items():
            score = float(scores.get(pseudo, 0.0))
            if score >= cfg.review_threshold:
                harvesting.setdefault(ev["account_id"], []).append(
                    {"end_user": ev["stream"].removeprefix("eu:"), "requests": ev["requests"],
                     "share": ev["share"], "score": round(score, 6)})
        day_found: dict[str, dict] = {}
        for account, users in harvesting.items():
            total, share = sum(u["requests"] for u in users), sum(u["share"] for u in users)
            if total < cfg.model_block_min_requests or share < MIN_SHARE:
                continue
            users.sort(key=lambda u: (-u["score"], -u["requests"], u["end_user"]))
            day_found[account] = {"end_users": len(users), "requests": total,
                                  "share": round(share, 4), "listed": users[:LISTED],
                                  "block": False, "_users": [u["end_user"] for u in users]}
        _contrast(settings, day, day_found, fs, coverage, model, cfg)
        for account, ev in day_found.items():
            if _evidence(ev, cfg):
                found[accounts[account]] = {k: v for k, v in ev.items() if k != "_users"}
    return found


def _evidence(ev: dict, cfg: PolicyConfig) -> bool:
    """Whether a relay-day's harvesting end users stand as evidence: judged together
    (:func:`_contrast`), their requests must differ from the rest's (:func:`differences`) or
    score as a block together; end users who each score as a review by chance (small samples)
    and ask as the rest of the relay's users ask are not evidence about the relay. Those not
    judged together (more than ``relay_streams.MAX_SHARE`` of the day: nearly the whole relay)
    stand on their own scores."""
    if "score" not in ev:
        return True
    return bool(ev["differences"]) or ev["score"] >= cfg.block_threshold


def joint_requests(settings: Settings, day: str, users: dict[str, list[str]]) -> pa.Table:
    """The requests of ``day`` of each relay in ``users`` (relay -> end-user hashes), as two
    pseudo-accounts: ``<relay>~end-users`` (those end users' requests) and
    ``<relay>~end-users~rest`` (the rest of its day)."""
    files = request_files(settings, day)
    if not files or not users:
        return pa.table({})
    listed = sql_file_list(files)
    pairs = pd.DataFrame([(a, u) for a, us in users.items() for u in us],
                         columns=["dg_account", "dg_user"])
    con = open_duckdb()
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.register("dg_pairs", pairs)
        con.register("dg_relays", pd.DataFrame({"dg_account": sorted(users)}))
        req = con.sql(
            f"""SELECT r.* EXCLUDE (account_id),
                       r.account_id || CASE WHEN p.dg_user IS NULL THEN '{REST}'
                                            ELSE '{JOINT}' END AS account_id
                FROM read_parquet([{listed}], union_by_name = true) AS r
                LEFT JOIN dg_pairs AS p
                  ON p.dg_account = r.account_id AND p.dg_user = r.end_user_hash
                WHERE r.account_id IN (SELECT dg_account FROM dg_relays)""").to_arrow_table()
    finally:
        con.close()
    return req.drop(["date"]) if "date" in req.column_names else req


def _contrast(settings: Settings, day: str, day_found: dict[str, dict], fs: pa.Table,
              coverage: bool, model, cfg: PolicyConfig) -> None:
    """Score the harvesting end users of each relay in ``day_found`` together and the rest
    of its day (the relays whose end users hold at most ``relay_streams.MAX_SHARE`` of it);
    mark a block where the rest's score stays under review and the joint score reaches the
    block threshold, or the review threshold with at least ``BLOCK_MIN_SHARE`` of the day and
    requests that differ from the rest's (:func:`differences`)."""
    judged = {a: ev["_users"] for a, ev in day_found.items()
              if ev["share"] <= relay_streams.MAX_SHARE}
    if not judged:
        return
    req = joint_requests(settings, day, judged)
    if req.num_rows == 0:
        return
    parents = {f"{a}{suffix}": a for a in judged for suffix in (JOINT, REST)}
    rows = relay_streams.scored_features(settings, req, day, fs, coverage, model, parents)
    scores = rows["score"].astype(float).to_dict()
    for account in judged:
        joint, rest = scores.get(account + JOINT, 0.0), scores.get(account + REST, 0.0)
        ev = day_found[account]
        ev["score"], ev["rest_score"] = round(float(joint), 6), round(float(rest), 6)
        diff = (differences(rows.loc[account + JOINT], rows.loc[account + REST])
                if account + JOINT in rows.index and account + REST in rows.index else {})
        ev["differences"] = diff
        together = joint >= cfg.block_threshold or (joint >= cfg.review_threshold
                                                     and ev["share"] >= BLOCK_MIN_SHARE
                                                     and bool(diff))
        ev["block"] = bool(together and rest < cfg.review_threshold)


def number(value) -> float:
    """A feature value as a float, 0 where missing."""
    value = pd.to_numeric(value, errors="coerce")
    return 0.0 if pd.isna(value) else float(value)


def differences(joint: pd.Series, rest: pd.Series,
                shares: tuple[tuple[str, str, bool], ...] = SHARE_CONTRASTS,
                ratios: tuple[tuple[str, str], ...] = RATIO_CONTRASTS) -> dict[str, list[float]]:
    """How the harvesting end users' requests differ from the rest of the relay's day, in the
    ways harvesting traffic differs from the traffic it hides in: name -> [joint, rest] for
    each of ``shares`` (``SHARE_CONTRASTS``) where the joint share exceeds the rest's by at
    least ``MIN_SHARE_DIFFERENCE``, and each of ``ratios`` (``RATIO_CONTRASTS``) where the
    joint value is at least ``MIN_RATIO`` times the rest's. Empty when their requests look
    like the rest's."""
    found: dict[str, list[float]] = {}
    for name, column, flip in shares:
        if column not in joint.index or column not in rest.index:
            continue
        j, r = number(joint[column]), number(rest[column])
        if flip:
            j, r = 1.0 - j, 1.0 - r
        if j - r >= MIN_SHARE_DIFFERENCE:
            found[name] = [round(j, 4), round(r, 4)]
    for name, column in ratios:
        if column not in joint.index or column not in rest.index:
            continue
        j, r = number(joint[column]), number(rest[column])
        if j > 0 and j >= MIN_RATIO * r:
            found[name] = [round(j, 4), round(r, 4)]
    return found


def apply(out: pd.DataFrame, found: dict[int, dict]) -> pd.DataFrame:
    """Raise the relay-days in ``found`` to at least review, block those marked ``block``,
    and record the source."""
    return apply_found(out, found, REASON)


def apply_found(out: pd.DataFrame, found: dict[int, dict], source: str) -> pd.DataFrame:
    """Raise the rows at the positions of ``found`` to at least review with ``source``, and
    block those whose evidence is marked ``block`` (``relay_streams.block``)."""
    if not found:
        return out
    out = at_least_review(out, sorted(found), source)
    return relay_streams.block(out, sorted(p for p, ev in found.items() if ev["block"]), source)


def annotate(explanations: list[str], found: dict[int, dict]) -> list[str]:
    """Add the harvesting end users to each such relay-day's explanation JSON."""
    return relay_streams.add_evidence(explanations, found, "relay_end_users")
