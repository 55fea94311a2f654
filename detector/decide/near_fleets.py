"""Near fleets: accounts that share a network and a prompt scaffold without being linked, each
sending a harvesting request profile.

A cluster link needs a payment instrument or two evidence families of weight 0.3 or more
(``ClusterParams.family_min_weight``). A key's weight falls with the number of accounts holding
it (``clusters.params.popularity_weight``), so a /24 prefix shared by five accounts or more
weighs under 0.3: a fleet of aged accounts, one address each in one /24, sharing a harvest
system prompt and its wrappers, is never linked, and each member's day alone (a few dozen
requests) scores from allow to review. This step reads each day's account graph
(``clusters.store``, table ``edges``) for such groups:

- **members**: account-days with a harvesting request profile of their own (:func:`members`):
  at least ``MIN_REQUESTS`` requests, at least ``MIN_ELICITATION`` of them asking for reasoning
  (chain-of-thought wording or high reasoning effort) and at least ``MIN_LONG`` asking for
  long answers (``hv_max_tokens_high_share``), at most ``MAX_MULTITURN`` continuing a
  conversation, at least ``MIN_DISTINCT`` of the prompts distinct, and at least
  ``MIN_OUTPUT_INPUT`` output tokens per input token: reasoning traces harvested one question
  each. A coding agent asks for reasoning and long outputs too, but re-sends its loop's prompts
  and reads more than it writes; a benchmark run repeats its questions per model;
- **near pairs**: two members sharing a prompt scaffold (a ``template`` edge of at least
  ``MIN_TEMPLATE``) and a network key (an ``ip`` or ``prefix`` edge of any weight), linked or
  not; a **near fleet** is a connected group of at least ``MIN_SIZE`` members;
- **review** every member of a near fleet, with source ``near_fleet``; **block** every member
  when the fleet has at least ``BLOCK_MIN_SIZE`` members, at least ``BLOCK_FLAGGED_SHARE`` of
  them flagged on their own evidence before this step (model, rules, clusters), and none passes
  the relay cap's distinct end users (``PolicyConfig.model_block_max_end_users``: a platform
  serving identified users is a business to talk to). The block is the cluster escalation's
  (``CLUSTER_RULE_FLAGGED_BLOCK_MIN_SIZE``, five members) on weaker links, so it asks for both
  the harvesting profile of every member and the flags of half of them.

On 13 development and 11 diagnosis homes of both generators (22,103 account-days, 0.5x-10x,
one and three days) no benign account-day belonged to a group of three accounts or more
sharing a scaffold and a network, even with every member threshold loosened (reasoning 0.4,
any requested length, distinct prompts 0.5, half the turns, output per input 1, scaffold 0.3);
the 43 benign account-days with the member profile were tutoring apps (34) and benchmark runs
(9), each alone in the graph. The groups found were hydra fleets: the independent generator's
aged sleepers (4-10 accounts a day, none blocked before) and linked fleets already blocked.
Re-deciding those homes changed 184 account-days, all aged sleepers (121 reviews and 18 allows
blocked, 45 allows reviewed), and nothing else. Hard negative not in either generator: a tutoring company running five or more
accounts without end-user ids from one /24 under one system prompt, half of them flagged; its
accounts would be blocked together.

Evasion: a fleet whose members each keep one trait under its bar (a quarter of the requests
without reasoning wording, multi-turn wrappers, repeated prompts), that varies its scaffold per
account, or that spreads over /24s, is not seen here (the members' own scores, rules and
clusters still act).

Cost: one read of each day's edge table and a pass over the member rows.
"""

from __future__ import annotations

import operator

import networkx as nx
import numpy as np
import pandas as pd

from detector.clusters import store
from detector.decide import relay_end_users, relay_streams
from detector.decide.policy import PolicyConfig, numeric
from detector.settings import Settings

REASON = "near_fleet"
MIN_REQUESTS = 10
MIN_ELICITATION = 0.8
MIN_LONG = 0.8
MAX_MULTITURN = 0.1
MIN_DISTINCT = 0.9
MIN_OUTPUT_INPUT = 4.0
MIN_TEMPLATE = 0.5
MIN_SIZE = 3
BLOCK_MIN_SIZE = 5
BLOCK_FLAGGED_SHARE = 0.5
#: Members named in the evidence (the group's size is always given).
LISTED = 20
#: The member bars other than asking for reasoning: (feature, comparison, bar); an absent or
#: null feature reads 0 (so a missing count or share fails, missing turns are none). The
#: comparisons work on arrays and on Spark columns alike.
BARS = (("vol_requests", operator.ge, MIN_REQUESTS),
        ("hv_max_tokens_high_share", operator.ge, MIN_LONG),
        ("div_multiturn_share", operator.le, MAX_MULTITURN),
        ("div_distinct_prompt_ratio", operator.ge, MIN_DISTINCT),
        ("hv_output_input_ratio", operator.ge, MIN_OUTPUT_INPUT))
#: Asking for reasoning: either share at least ``MIN_ELICITATION``.
ELICITATION = ("hv_cot_lexicon_share", "hv_high_effort_share")
#: The features :func:`members` reads (with ``spark_policy.DRIVER_COLUMNS``' others they come
#: back with each Spark verdict row).
PROFILE = (*ELICITATION, *(column for column, _, _ in BARS))
NETWORK_EDGES = ("ip", "prefix")


def members(frame: pd.DataFrame) -> np.ndarray:
    """Whether each account-day of ``frame`` has the members' harvesting request profile."""
    ok = np.maximum(*(numeric(frame, c, 0.0) for c in ELICITATION)) >= MIN_ELICITATION
    for column, op, bar in BARS:
        ok &= op(numeric(frame, column, 0.0), bar)
    return ok


def spark_members(columns: set[str]):
    """:func:`members` as a Spark column over a frame with ``columns`` (``on_spark``'s driver
    rows keep every member, allowed or not)."""
    from pyspark.sql import functions as F

    def value(name: str):  # null and NaN read as 0, as ``numeric`` reads them
        if name not in columns:
            return F.lit(0.0)
        return F.coalesce(F.nanvl(F.col(name).cast("double"), F.lit(0.0)), F.lit(0.0))

    ok = F.greatest(*(value(c) for c in ELICITATION)) >= MIN_ELICITATION
    for column, op, bar in BARS:
        ok = ok & op(value(column), bar)
    return ok


def near_pairs(edges: pd.DataFrame, accounts: set[str]) -> pd.DataFrame:
    """(src, dst, template, network) of the pairs of ``accounts`` with a template edge of at
    least ``MIN_TEMPLATE`` and an ip or prefix edge (their largest weights)."""
    e = edges[edges["src"].isin(accounts) & edges["dst"].isin(accounts)]
    template = (e[e["edge_type"] == "template"].groupby(["src", "dst"])["weight"].max()
                .rename("template"))
    network = (e[e["edge_type"].isin(NETWORK_EDGES)].groupby(["src", "dst"])["weight"].max()
               .rename("network"))
    pairs = pd.concat([template, network], axis=1, join="inner").reset_index()
    return pairs[(pairs["template"] >= MIN_TEMPLATE) & (pairs["network"] > 0)]


def judge(settings: Settings, frame: pd.DataFrame, out: pd.DataFrame,
          cfg: PolicyConfig) -> dict[int, dict]:
    """Position in ``out`` -> evidence (``block``: whether to block) of every member of a near
    fleet, allow-listed rows left out; ``frame``: the features of ``out``'s rows."""
    member = (members(frame) & out["account_id"].notna().to_numpy()
              & ~out["allowlisted"].to_numpy(dtype=bool))
    if not member.any():
        return {}
    days = frame["date"].astype(str).str[:10].to_numpy()
    users = numeric(frame, "inf_distinct_end_users", 0.0)
    requests = numeric(frame, "vol_requests", 0.0)
    cap = cfg.model_block_max_end_users
    found: dict[int, dict] = {}
    for day in sorted(set(days[member])):
        edges = store.read(settings, day, "edges")
        if edges is None or edges.empty:
            continue
        at = {out["account_id"].iat[p]: int(p) for p in np.flatnonzero(member & (days == day))}
        pairs = near_pairs(edges, set(at))
        graph = nx.Graph()
        graph.add_edges_from(zip(pairs["src"], pairs["dst"], strict=True))
        for group in nx.connected_components(graph):
            if len(group) < MIN_SIZE:
                continue
            names = sorted(group)
            pos = [at[a] for a in names]
            flagged = float(np.mean([out["decision"].iat[p] != "allow" for p in pos]))
            relays = int(sum(cap is not None and users[p] >= cap for p in pos))
            inside = pairs[pairs["src"].isin(group) & pairs["dst"].isin(group)]
            ev = {"size": len(names), "members": names[:LISTED],
                  "requests": int(requests[pos].sum()),
                  "flagged_share": round(flagged, 4), "relays": relays,
                  "pairs": len(inside),
                  "template_median": round(float(inside["template"].median()), 4),
                  "network_median": round(float(inside["network"].median()), 4),
                  "block": bool(len(names) >= BLOCK_MIN_SIZE and flagged >= BLOCK_FLAGGED_SHARE
                                and relays == 0)}
            for p in pos:
                found[p] = ev
    return found


def apply(out: pd.DataFrame, found: dict[int, dict]) -> pd.DataFrame:
    """Raise the members in ``found`` to at least review, block those marked ``block``, and
    record the source (as ``relay_end_users.apply``)."""
    return relay_end_users.apply_found(out, found, REASON)


def annotate(explanations: list[str], found: dict[int, dict]) -> list[str]:
    """Add the near fleet to each member's explanation JSON."""
    return relay_streams.add_evidence(explanations, found, "near_fleet")
