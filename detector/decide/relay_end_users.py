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
- the relay-day goes to **review** (never block: an end user's traffic is the relay's
  customer's, and blocking the relay is a business decision) when its harvesting end users
  together sent at least the evidence floor (``PolicyConfig.model_block_min_requests``, 50)
  requests: several end users each scoring as a review (an operation spread over a few ids),
  or one with the floor's requests on its own. The verdict's sources get
  ``relay_end_user_harvest`` and its explanation the end users (hashed id, requests, score).

Why the floor and not one end user's score: a relay's busiest end users are many small
samples, and with hundreds of them one scores high by chance (on development homes, resellers'
end users of 10-15 requests scored up to 0.96); no benign relay-day there had harvesting-scored
end users totalling more than 28 requests. Evasion: a harvester spreading its requests over
many end-user ids each under 10 a day, or keeping the harvesting-scored ones under 50 requests
together, stays unseen here (the relay's own score, rules and clusters still act).

Cost: every relay-day not blocked is read, but only its end users of at least 10 requests and
at most ``MAX_END_USERS`` of them, so the featured rows are bounded by the relays' requests.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from detector.decide import relay_streams
from detector.decide.policy import PolicyConfig, at_least_review
from detector.settings import Settings

REASON = "relay_end_user_harvest"

#: The most end users of one relay-day judged (the largest first): bounds the featured rows.
MAX_END_USERS = 64

#: The most end users listed in a verdict's explanation (the best-scoring first).
LISTED = 10


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
    pos = candidates(out, frame, cfg)
    if not pos:
        return {}
    by_day: dict[str, dict[str, int]] = {}
    for p in pos:
        day = str(pd.Timestamp(out["date"].iloc[p]).date())
        by_day.setdefault(day, {})[out["account_id"].iloc[p]] = p
    fs = relay_streams.model_first_seen(settings)
    coverage = any(c.startswith("cov_") for c in frame.columns)
    found: dict[int, dict] = {}
    for day, accounts in sorted(by_day.items()):
        req, info = relay_streams.stream_requests(settings, day, sorted(accounts),
                                                  relay_streams.stream_floor(cfg),
                                                  kinds=("end_user",))
        if not info:
            continue
        req, info = _largest(req, info)
        scores = relay_streams.stream_scores(settings, req, day, fs, coverage, model,
                                             {p: ev["account_id"] for p, ev in info.items()})
        harvesting: dict[str, list[dict]] = {}
        for pseudo, ev in info.items():
            score = float(scores.get(pseudo, 0.0))
            if score >= cfg.review_threshold:
                harvesting.setdefault(ev["account_id"], []).append(
                    {"end_user": ev["stream"].removeprefix("eu:"), "requests": ev["requests"],
                     "share": ev["share"], "score": round(score, 6)})
        for account, users in harvesting.items():
            total = sum(u["requests"] for u in users)
            if total < cfg.model_block_min_requests:
                continue
            users.sort(key=lambda u: (-u["score"], -u["requests"], u["end_user"]))
            found[accounts[account]] = {
                "end_users": len(users), "requests": total,
                "share": round(sum(u["share"] for u in users), 4), "listed": users[:LISTED]}
    return found


def apply(out: pd.DataFrame, found: dict[int, dict]) -> pd.DataFrame:
    """Raise the relay-days in ``found`` to at least review and record the source."""
    return at_least_review(out, sorted(found), REASON) if found else out


def annotate(explanations: list[str], found: dict[int, dict]) -> list[str]:
    """Add the harvesting end users to each such relay-day's explanation JSON."""
    if not found:
        return explanations
    res = list(explanations)
    for p, ev in found.items():
        doc = json.loads(res[p]) if res[p] else {}
        doc["relay_end_users"] = ev
        res[p] = json.dumps(doc, sort_keys=True)
    return res
