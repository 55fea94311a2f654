"""Relay request profiles: one harvesting script sends one profile, whatever end-user ids it
spreads its requests over.

``relay_end_users`` reads a relay's day per end user. A proxy whose harvesting job spreads its
requests over a few end-user ids of under 10 requests a day each (or over its customers' ids)
is not seen there. This stage reads every relay-day still not blocked after the relay streams
and end users, cut per request profile (``relay_streams.stream_requests``, kind ``profile``:
model, temperature, logprobs, top_logprobs, system prompt, max_tokens as none / under 2048 /
2048 and more, single- or multi-turn):

- **streams**: profiles of at least the evidence floor's requests
  (``PolicyConfig.model_block_min_requests``, 50), at least ``relay_end_users.MIN_SHARE`` (5%)
  and at most ``relay_streams.MAX_SHARE`` (80%) of the relay's day; each is featured as a
  pseudo-account and scored by the same classifier as the relay streams
  (``relay_streams.scored_features``);
- **candidates**: streams that ask for reasoning on at least
  ``relay_end_users.MIN_SHARE_DIFFERENCE`` of their requests (chain-of-thought wording or high
  reasoning effort) and either score at or above the review threshold or hold at least
  ``relay_end_users.BLOCK_MIN_SHARE`` of the day, best first, at most
  ``relay_streams.MAX_RESTS`` per relay-day;
- **harvesting profile**: the first candidate whose requests ask for reasoning where the rest
  of the relay's day does not (:func:`elicits`: a share of requests with chain-of-thought
  wording or high reasoning effort at least ``MIN_SHARE_DIFFERENCE`` above the rest's);
- **review** on a harvesting profile, with source ``relay_profile_harvest``; **block** when,
  besides, the rest of the relay's day scores under review and the profile holds at least
  ``relay_end_users.BLOCK_MIN_SHARE`` of the day (a tenth) or scores at or above the block
  threshold: the contrast ``relay_end_users`` asks of a relay's harvesting end users, asked of
  one profile of its requests (evidence about the relay's own harvesting traffic, never its
  volume);
- **review only** on a harvesting profile scoring under review when it is sent by a few
  end-user ids (:func:`concentration`: at least ``MIN_CONCENTRATION`` times the rest's requests
  per end user): a tenth of the relay's day or more asking for reasoning where the rest does
  not, from a handful of ids, is a harvesting job sent through the relay whatever the
  classifier makes of the profile alone. It never blocks: chain-of-thought wording and a few
  busy ids are what a tutoring customer behind a reseller sends too, and a block would cut off
  the relay's other traffic. The evidence gives the two rates (``concentration``).

Why only reasoning elicitation and not the other differences ``relay_end_users`` counts: a
profile is cut on its model, sampling, logprobs, system prompt, requested length and turn
count, so it differs from the rest of the day in those by construction; and a long-form
customer's answers are long, so output per input token says little about one profile. What the
requests ask for is not in the cut. On 13 development and 11 diagnosis homes of both
generators (22,103 account-days, 0.5x-10x, one and three days), 252 benign relay profiles of
50 requests or more (5% of their day or more, on 127 relay-days) scored at or above review;
they differed from their rest in single turns (238), output per input token (10) or requested
length (4), none in asking for reasoning. Re-deciding those homes blocked 84 proxy relay-days
of the independent generator (27 allowed and 57 reviewed before; 3 more stayed at review, their
rest scoring as one) and changed nothing else: their harvesting profiles asked step by step on 44-100% of their
requests (median 100%) against at most 7% for the rest of the day, and held 14-50% of it.
Evasion: a harvester that spreads its requests over several profiles each under 50 requests
or 5% of the relay's day, or that does not ask for reasoning (a logprob or plain-answer
harvest), or whose profile scores under review and is under a tenth of the day or sent as
densely as the rest of it, is not seen here (the relay's own score, its streams, end users,
rules and clusters still act).

Cost: every relay-day not blocked is read once more (``relay_end_users`` reads it per end
user); the profiles of 50 or more requests are featured (at most the relays' requests), and
the rest of the relay's day only for the candidates (a whole relay-day each, at most
``MAX_RESTS`` per relay-day, one per round).
"""

from __future__ import annotations

import math

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from detector.decide import relay_end_users, relay_streams
from detector.decide.policy import PolicyConfig
from detector.settings import Settings

REASON = "relay_profile_harvest"

#: The shares in which a harvesting profile's requests differ from the rest of the relay's
#: day: asking for reasoning (chain-of-thought wording, high reasoning effort); the other
#: contrasts of ``relay_end_users`` are part of the profile cut or of a long-form product.
ELICITATION = tuple(c for c in relay_end_users.SHARE_CONTRASTS
                    if c[0] in ("cot_wording", "high_effort"))

#: The least ratio of a profile's requests per end user to the rest of its relay's day's for
#: a review on a profile scoring under review (:func:`concentration`). On 13 development and
#: 11 diagnosis homes of both generators (22,103 account-days, 0.5x-10x, one and three days),
#: the 3,650 benign relay profiles of 50 requests and 5% of their day or more (1,084
#: relay-days) were sent at most 1.03 times as densely as their rest (median 0.53: a profile
#: is a slice of the same users), and none asked for reasoning 0.25 above its rest; the
#: independent generator's proxies' harvesting profiles that did, scoring under review and
#: holding a tenth of the day or more (221 relay-days), were sent by 3-156 end-user ids
#: (median 9), 0.3-88 times as densely as their rest (median 7.5), 199 of them at least twice.
#: Re-deciding those homes reviewed 96 proxy relay-days that were allowed and changed nothing
#: else. Not seen: a harvest spread over as many ids as the relay's own users, or sent in a
#: profile the relay's users share (asking for reasoning on 58-81% of it).
MIN_CONCENTRATION = 2.0

#: Request columns that describe a profile in the explanation (its key is a hash).
DESCRIBED = ("model", "temperature", "logprobs", "top_logprobs", "system_hash", "max_tokens",
             "n_user_turns")


def candidates(out: pd.DataFrame, frame: pd.DataFrame, cfg: PolicyConfig) -> list[int]:
    """Positions of relay-days that are neither blocked nor allow-listed (as
    ``relay_end_users.candidates``, read after its blocks)."""
    return relay_end_users.candidates(out, frame, cfg)


def asks_for_reasoning(row: pd.Series) -> bool:
    """Whether at least ``MIN_SHARE_DIFFERENCE`` of a stream's requests ask for reasoning: a
    difference of that size from any rest needs it."""
    return any(relay_end_users.number(row.get(column)) >= relay_end_users.MIN_SHARE_DIFFERENCE
               for _, column, _ in ELICITATION)


def elicits(stream: pd.Series, rest: pd.Series) -> dict[str, list[float]]:
    """Name -> [the profile's share, the rest's] of each ``ELICITATION`` share where the
    profile's exceeds the rest's by at least ``MIN_SHARE_DIFFERENCE``; empty when the profile
    asks for reasoning as the rest of the relay's day does."""
    return relay_end_users.differences(stream, rest, shares=ELICITATION, ratios=())


def per_end_user(row: pd.Series) -> float:
    """Requests per distinct end user of a stream or rest (NaN without end-user ids)."""
    users = relay_end_users.number(row.get("inf_distinct_end_users"))
    requests = relay_end_users.number(row.get("vol_requests"))
    return requests / users if users > 0 else float("nan")


def concentration(stream: pd.Series, rest: pd.Series) -> list[float]:
    """[the profile's requests per end user, the rest's] where the profile's are at least
    ``MIN_CONCENTRATION`` times the rest's: a few ids sending it; empty otherwise (or without
    end-user ids on either side)."""
    mine, theirs = per_end_user(stream), per_end_user(rest)
    if math.isnan(mine) or math.isnan(theirs) or mine < MIN_CONCENTRATION * theirs:
        return []
    return [round(mine, 3), round(theirs, 3)]


def describe(req: pa.Table, pseudo: str) -> dict:
    """The ``DESCRIBED`` values of one profile stream (its first request: every request of a
    profile shares them, ``max_tokens`` up to its bucket and ``n_user_turns`` up to single- or
    multi-turn)."""
    one = req.filter(pc.equal(req["account_id"], pseudo)).slice(0, 1).to_pylist()
    if not one:
        return {}
    return {c: one[0].get(c) for c in DESCRIBED if c in one[0]}


def judge(settings: Settings, frame: pd.DataFrame, out: pd.DataFrame, model,
          cfg: PolicyConfig) -> dict[int, dict]:
    """Position of a relay-day -> its harvesting profile (with ``block`` set where the
    contrast holds)."""
    by_day = relay_streams.per_day(out, candidates(out, frame, cfg))
    fs = None  # read once, for the first day with a profile to judge
    coverage = any(c.startswith("cov_") for c in frame.columns)
    found: dict[int, dict] = {}
    for day, accounts in sorted(by_day.items()):
        req, info = relay_streams.stream_requests(settings, day, sorted(accounts),
                                                  cfg.model_block_min_requests,
                                                  kinds=("profile",))
        info = {p: ev for p, ev in info.items() if ev["share"] >= relay_end_users.MIN_SHARE}
        if not info:
            continue
        req = req.filter(pc.is_in(req["account_id"], pa.array(sorted(info), pa.string())))
        fs = fs if fs is not None else relay_streams.model_first_seen(settings)
        rows = relay_streams.scored_features(settings, req, day, fs, coverage, model,
                                             {p: ev["account_id"] for p, ev in info.items()})
        queue: dict[str, list[str]] = {}
        scores = rows["score"].astype(float).to_dict()
        for pseudo, ev in sorted(info.items(), key=lambda kv: (-scores.get(kv[0], 0.0),
                                                               -kv[1]["requests"], kv[0])):
            if asks_for_reasoning(rows.loc[pseudo]) and (
                    scores.get(pseudo, 0.0) >= cfg.review_threshold
                    or ev["share"] >= relay_end_users.BLOCK_MIN_SHARE):
                queue.setdefault(ev["account_id"], []).append(pseudo)
        queue = {a: qs[:relay_streams.MAX_RESTS] for a, qs in queue.items()}

        def contrast(pseudo: str, rest: pd.Series | None, info=info, rows=rows,
                     scores=scores, req=req) -> dict | None:
            diff = elicits(rows.loc[pseudo], rest) if rest is not None else {}
            if not diff:
                return None
            ev, score, rest_score = info[pseudo], scores[pseudo], float(rest["score"])
            if score < cfg.review_threshold:  # a review on its senders' concentration alone
                rates = concentration(rows.loc[pseudo], rest)
                if not rates:
                    return None
                verdict = {"concentration": rates, "block": False}
            else:
                verdict = {"block": bool(rest_score < cfg.review_threshold and (
                    ev["share"] >= relay_end_users.BLOCK_MIN_SHARE
                    or score >= cfg.block_threshold))}
            return {"profile": ev["stream"], "requests": ev["requests"], "share": ev["share"],
                    "score": round(score, 6), "rest_score": round(rest_score, 6),
                    "differences": diff, "described": describe(req, pseudo)} | verdict

        decided = relay_streams.judge_rests(settings, day, info, queue,
                                            cfg.model_block_min_requests, fs, coverage, model,
                                            contrast, kinds=("profile",))
        for relay, ev in decided.items():
            found[accounts[relay]] = ev
    return found


def apply(out: pd.DataFrame, found: dict[int, dict]) -> pd.DataFrame:
    """Raise the relay-days in ``found`` to at least review, block those marked ``block``,
    and record the source (as ``relay_end_users.apply``)."""
    return relay_end_users.apply_found(out, found, REASON)


def annotate(explanations: list[str], found: dict[int, dict]) -> list[str]:
    """Add the harvesting profile to each such relay-day's explanation JSON."""
    return relay_streams.add_evidence(explanations, found, "relay_profile")
