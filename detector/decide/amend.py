"""The steps after the policy, in order: each amends verdicts with evidence one row cannot show.

Both engines run them on the driver, on the verdict rows they hold (``scoring.score_frame`` on
DuckDB, ``on_spark.write_verdicts`` on Spark), so the order and the evidence are the same:

1. ``reruns``: a model-only block on a day that re-asks a quarter of the account's own earlier
   prompts is held at review;
2. ``relay_streams``: a relay the relay cap held at review is blocked when one stream of its
   own traffic scores as a block against an ordinary rest;
3. ``relay_end_users``: a relay-day not blocked whose own end users look like harvesters is
   reviewed (or blocked, with the contrast);
4. ``relay_profiles``: a relay-day still not blocked with one request profile that asks for
   reasoning where the rest does not, scoring as a review, is reviewed (or blocked, with the
   contrast);
5. ``near_fleets``: accounts sharing a network and a prompt scaffold without a cluster link,
   each with a harvesting request profile, are reviewed (or blocked, five or more with half
   of them flagged on their own);
6. ``returning``: a new account linked to previously blocked ones is reviewed.

Each step's evidence goes to the verdict's explanation JSON under its own key
(:func:`annotate`).
"""

from __future__ import annotations

from collections.abc import Callable

import duckdb
import pandas as pd

from detector.decide import (
    near_fleets,
    relay_end_users,
    relay_profiles,
    relay_streams,
    reruns,
    returning,
)
from detector.decide.policy import PolicyConfig, at_least_review
from detector.settings import Settings

#: One step's evidence: its annotate function and position -> evidence.
Evidence = tuple[Callable[[list[str], dict[int, dict]], list[str]], dict[int, dict]]


def run(settings: Settings, con: duckdb.DuckDBPyConnection, frame: pd.DataFrame,
        out: pd.DataFrame, model, cfg: PolicyConfig) -> tuple[pd.DataFrame, list[Evidence]]:
    """``out`` (the policy's verdicts of ``frame``'s account-days, same positions) amended by
    every step in order, and each step's evidence (positions of ``out``)."""
    rerun = reruns.judge(settings, out)
    out = reruns.apply(out, rerun)
    streams = relay_streams.judge(settings, frame, out, model, cfg)
    out = relay_streams.apply(out, streams)
    users = relay_end_users.judge(settings, frame, out, model, cfg)
    out = relay_end_users.apply(out, users)
    profiles = relay_profiles.judge(settings, frame, out, model, cfg)
    out = relay_profiles.apply(out, profiles)
    fleets = near_fleets.judge(settings, frame, out, cfg)
    out = near_fleets.apply(out, fleets)
    links = returning.link(settings, con, frame, out)
    out = at_least_review(out, sorted(links), returning.REASON)
    return out, [(returning.annotate, links), (reruns.annotate, rerun),
                 (relay_streams.annotate, streams), (relay_end_users.annotate, users),
                 (relay_profiles.annotate, profiles), (near_fleets.annotate, fleets)]


def annotate(explanations: list[str], evidence: list[Evidence],
             positions: list[int] | None = None) -> list[str]:
    """``explanations`` with every step's evidence added. ``positions``: the position in
    ``out`` of each explanation (default: the same positions)."""
    texts = list(explanations)
    for step, found in evidence:
        if positions is not None:
            found = {k: found[i] for k, i in enumerate(positions) if i in found}
        texts = step(texts, found)
    return texts
