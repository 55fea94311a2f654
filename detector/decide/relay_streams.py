"""Relay sub-streams: a relay is blocked only on evidence about its own harvesting traffic.

The decision policy caps a model-only block at review for an account relaying many distinct
end users (``PolicyConfig.model_block_max_end_users``): its volume and mix are its customers',
not its own. A proxy that mixes a harvesting job into its customers' traffic is then reviewed
at best. This module looks *inside* such a capped relay-day for traffic that, on its own, the
classifier would block:

- **streams**: the day's requests of each capped relay are cut two ways: per end user
  (``end_user_hash``) and per request profile (model, temperature, logprobs, top_logprobs,
  system prompt, max_tokens as none / under 2048 / 2048 and more, single- or multi-turn: one
  harvesting script sends one profile, whatever end-user ids and client addresses it spreads
  its requests over);
- a stream is judged when it holds at least the model-only block's evidence floor
  (``PolicyConfig.model_block_min_requests``) in requests, or, with the thin-evidence tier on,
  at least ``thin_block_min_requests`` (its bar is then ``strict_block_min_score``, not the
  account thin tier's ``thin_block_min_score``: a stream's block also needs the rest of the
  relay's day to score under review, the contrast below), and at most ``MAX_SHARE`` of the relay's requests that day (a stream
  that is the whole relay is the relay, already judged and capped);
- each judged stream gets the daily features of a pseudo-account ``<account>~<stream>``
  (``detector.features.compute.bound_day_tables`` on the stream's requests; its ``w7_``
  columns are the day's own values, a stream has no stored window; the features measured
  against the day's other accounts, ``POPULATION_COLUMNS``, against the real day's accounts,
  never against the relay's other pseudo-accounts) and is scored by the same
  classifier, with its own coverage statistics (``cov_*``: its prompts sampled and embedded
  as the coverage stage does, against the day's population model; a harvesting job's topic
  sweep shows there even when its share of the relay's day is small); cluster and history
  features are absent (the classifier imputes);
- the rest of the relay's day beside a stream (its other requests) is featured and scored the
  same way, for the streams that reach their bar only (best first, at most ``MAX_RESTS`` per
  relay-day, stopping at the first whose rest scores under review);
- the relay-day is blocked when a stream scores at or above its bar (the block threshold, or
  the strict score under the floor) *and* the rest of the relay scores below the review
  threshold: harvesting concentrated in one stream of an
  otherwise ordinary relay. (A relay the model already scores as a block gives high scores to
  any large sample of its traffic; only the contrast says the stream is the relay's own
  harvesting.) The verdict's sources get ``relay_stream_harvest`` and its explanation the
  stream (kind, key, requests, share of the day, score, the rest's score), so the analyst sees
  which traffic decided it.

Cost: only relay-days the model would have blocked are read (a handful per day); the streams
hold at most twice their requests (a request is in its end user's and its profile's stream),
and each round of rests once more, so memory grows with the relays' requests, not with their
number of streams times their requests; the new-model features read the (model, first
request) table the features stage stored. Evasion:
harvesting spread over many profiles and end users each under the floor stays at review.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa

from detector.decide.policy import PolicyConfig, with_decisions
from detector.embeddings.adhoc import coverage_rows
from detector.features import catalog, engine, store
from detector.features.compute import all_request_files, bound_day_tables, first_seen
from detector.features.partials import SHARED_PREFIX_ACCOUNTS
from detector.lake.db import open_duckdb, request_files, sql_file_list
from detector.settings import Settings

REASON = "relay_stream_harvest"
REST = "~rest"
_IN_STREAM = ("((k.kind = 'end_user' AND r.dg_eu IS NOT DISTINCT FROM k.stream) "
              "OR (k.kind = 'profile' AND r.dg_pf = k.stream))")

#: The two ways a relay's day is cut into streams.
KINDS = ("end_user", "profile")

#: Profile columns: one harvesting script sends one profile.
PROFILE = ("model", "temperature", "logprobs", "top_logprobs", "system_hash")


#: A stream holding more of the relay's day than this is the relay itself, already judged.
MAX_SHARE = 0.8

#: The most streams of one relay-day judged against their rest (the best-scoring first): each
#: rest is the relay's whole day again, so this bounds the stage at a few times the relays'
#: requests, whatever their number of streams.
MAX_RESTS = 8

#: Daily features measured against the day's other accounts (``detector.features.partials``:
#: ``_prefixes``, ``_payment``). A relay's pseudo-accounts are featured together and carry
#: their relay's addresses and payment fingerprint, so among themselves every prefix and the
#: card would look shared; :func:`population_columns` measures them against the real day.
POPULATION_COLUMNS = ("inf_shared_prefix_share", "inf_payment_shared_accounts")


def candidates(out: pd.DataFrame, frame: pd.DataFrame, cfg: PolicyConfig) -> list[int]:
    """Positions of relay-days whose model-only block was capped for relaying end users."""
    if cfg.model_block_max_end_users is None or "inf_distinct_end_users" not in frame.columns:
        return []
    users = pd.to_numeric(frame["inf_distinct_end_users"], errors="coerce").fillna(0).to_numpy()
    capped = np.array(["model_block_capped" in s for s in out["sources"]], dtype=bool)
    relay = users >= cfg.model_block_max_end_users
    open_ = (out["decision"] != "block").to_numpy() & ~out["allowlisted"].to_numpy(dtype=bool)
    return np.flatnonzero(capped & relay & open_).tolist()


def _profile_sql() -> str:
    """A request's profile key: PROFILE, max_tokens as none / under 2048 / 2048 and more (a
    script drawing its cap from a few long values is one stream), single- or multi-turn."""
    cols = [f"coalesce(CAST({c} AS VARCHAR), '-')" for c in PROFILE]
    cols.append("CASE WHEN max_tokens IS NULL THEN '-' WHEN max_tokens < 2048 THEN 'short' "
                "ELSE 'long' END")
    cols.append("CAST(coalesce(n_user_turns, 1) > 1 AS VARCHAR)")
    return "'pf:' || substr(md5(concat_ws('|', " + ", ".join(cols) + ")), 1, 10)"


def stream_requests(settings: Settings, day: str, accounts: list[str],
                    min_requests: int, max_share: float = MAX_SHARE,
                    rests: list[str] | None = None,
                    kinds: tuple[str, ...] = KINDS) -> tuple[pa.Table, dict[str, dict]]:
    """The judged streams' requests of ``day`` (``account_id`` rewritten to
    ``<account>~<stream>``; a request may be in its end user's and its profile's stream, so at
    most twice the relays' requests) and, per stream, (account, kind, stream, requests, share
    of the account's day). With ``rests`` (stream pseudo-accounts), instead the rest of the
    relay's day beside each of those streams (``<account>~<stream>~rest``): a whole relay-day
    per stream, which is why only the streams that reach their bar are asked for. ``kinds``:
    the cuts to make (``KINDS``: per end user, per profile)."""
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown or not kinds:
        raise ValueError(f"kinds: expected a non-empty subset of {KINDS}, got {kinds!r}")
    files = request_files(settings, day)
    if not files or not accounts:
        return pa.table({}), {}
    listed = sql_file_list(files)
    con = open_duckdb()
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute(
            f"CREATE TEMP TABLE r AS SELECT *, 'eu:' || end_user_hash AS dg_eu, {_profile_sql()} "
            f"AS dg_pf FROM read_parquet([{listed}], union_by_name = true) "
            "WHERE account_id IN (SELECT unnest(?))", [accounts])
        keep = con.execute(
            """WITH tot AS (SELECT account_id, count(*) AS total FROM r GROUP BY 1),
                    s AS (SELECT account_id, 'end_user' AS kind, dg_eu AS stream, count(*) AS n
                          FROM r WHERE dg_eu IS NOT NULL GROUP BY ALL
                          UNION ALL
                          SELECT account_id, 'profile', dg_pf, count(*) FROM r GROUP BY ALL)
               SELECT s.*, s.n / tot.total AS share FROM s JOIN tot USING (account_id)
               WHERE s.n >= ? AND s.n <= ? * tot.total AND s.kind IN (SELECT unnest(?))
               ORDER BY 1, 3""",
            [min_requests, max_share, list(kinds)]).df()
        info = {f"{r.account_id}~{r.stream}": {"account_id": r.account_id, "kind": r.kind,
                                                "stream": r.stream, "requests": int(r.n),
                                                "share": round(float(r.share), 4)}
                for r in keep.itertuples(index=False)}
        if rests is not None:
            wanted = set(rests)
            keep = keep[[f"{a}~{st}" in wanted for a, st in zip(keep["account_id"],
                                                                   keep["stream"], strict=True)]]
        con.register("dg_keep", keep)
        side, suffix = ("NOT ", REST) if rests is not None else ("", "")
        req = con.sql(
            f"""SELECT r.* EXCLUDE (dg_eu, dg_pf, account_id),
                       k.account_id || '~' || k.stream || '{suffix}' AS account_id
                FROM r JOIN dg_keep k ON r.account_id = k.account_id
                WHERE {side}{_IN_STREAM}""").to_arrow_table()
    finally:
        con.close()
    if "date" in req.column_names:
        req = req.drop(["date"])
    return req, info


def population_columns(settings: Settings, day: str, req: pa.Table,
                       parents: dict[str, str]) -> pd.DataFrame:
    """``POPULATION_COLUMNS`` of the pseudo-accounts in ``req`` against the real accounts of
    ``day``: the share of a pseudo-account's requests from /24 prefixes that at least
    ``SHARED_PREFIX_ACCOUNTS`` real accounts used that day, and the other real accounts sharing
    its relay's (``parents``: pseudo-account -> account) payment fingerprints."""
    files = request_files(settings, day)
    listed = sql_file_list(files)
    con = open_duckdb()
    try:
        con.register("dg_req", req.select(["account_id", "ip_prefix"]))
        con.register("dg_parent", pd.DataFrame({"account_id": list(parents),
                                                "parent": list(parents.values())}))
        return con.execute(
            f"""WITH real AS (SELECT account_id, ip_prefix, payment_fingerprint
                              FROM read_parquet([{listed}], union_by_name = true)),
                    crowd AS (SELECT ip_prefix FROM real
                              WHERE ip_prefix IN (SELECT ip_prefix FROM dg_req)
                              GROUP BY 1 HAVING count(DISTINCT account_id) >= ?),
                    own AS (SELECT DISTINCT account_id, payment_fingerprint FROM real
                            WHERE payment_fingerprint IS NOT NULL
                              AND account_id IN (SELECT parent FROM dg_parent)),
                    pay AS (SELECT own.account_id AS parent,
                                   count(DISTINCT r.account_id) AS shared
                            FROM own JOIN real AS r
                              ON r.payment_fingerprint = own.payment_fingerprint
                             AND r.account_id <> own.account_id GROUP BY 1),
                    share AS (SELECT q.account_id, avg(CASE WHEN c.ip_prefix IS NULL THEN 0.0
                                                            ELSE 1.0 END) AS s
                              FROM dg_req AS q LEFT JOIN crowd AS c USING (ip_prefix)
                              GROUP BY 1)
               SELECT share.account_id, share.s AS inf_shared_prefix_share,
                      CAST(coalesce(pay.shared, 0) AS BIGINT) AS inf_payment_shared_accounts
               FROM share JOIN dg_parent AS p USING (account_id)
               LEFT JOIN pay ON pay.parent = p.parent ORDER BY 1""",
            [SHARED_PREFIX_ACCOUNTS]).df()
    finally:
        con.close()


def stream_features(settings: Settings, req: pa.Table, day: str, fs: pa.Table,
                    coverage: bool = True, parents: dict[str, str] | None = None
                    ) -> pd.DataFrame:
    """Daily features of the pseudo-accounts in ``req`` (DuckDB: small by construction), with
    each ``w7_`` column set to the day's own value, (``parents``: pseudo-account -> account)
    ``POPULATION_COLUMNS`` measured against the real day (:func:`population_columns`), and
    (``coverage``) their ``cov_*`` coverage statistics against the day's population model
    (:func:`detector.embeddings.adhoc.coverage_rows`)."""
    eng = engine.connect(settings, "duckdb")
    try:
        eng.bind_arrow("dg_first_seen", fs)
        eng.bind_arrow("dg_day", req)
        _, daily = bound_day_tables(eng, day)
    finally:
        eng.close()
    df = daily.to_pandas()
    if parents:
        pop = population_columns(settings, day, req, parents).set_index("account_id")
        for c in POPULATION_COLUMNS:
            if c in df.columns:
                df[c] = df["account_id"].map(pop[c]).astype(df[c].dtype)
    if coverage:
        df = df.merge(coverage_rows(settings, req, day), on="account_id", how="left")
    for w in catalog.weekly_columns():
        base = w[len("w7_"):]
        if base in df.columns:
            df[w] = df[base]
    df["w7_days_active"] = 1
    return df


def judge(settings: Settings, frame: pd.DataFrame, out: pd.DataFrame, model,
          cfg: PolicyConfig) -> dict[int, dict]:
    """Position of a capped relay-day -> its strongest stream scoring >= the block threshold."""
    by_day = per_day(out, candidates(out, frame, cfg))
    if not by_day:
        return {}
    fs = model_first_seen(settings)
    found: dict[int, dict] = {}
    coverage = any(c.startswith("cov_") for c in frame.columns)
    for day, accounts in sorted(by_day.items()):
        req, info = stream_requests(settings, day, sorted(accounts), stream_floor(cfg))
        if not info:
            continue
        scores = stream_scores(settings, req, day, fs, coverage, model,
                               {pseudo: ev["account_id"] for pseudo, ev in info.items()})
        # a stream blocks its relay only with the best score that reaches its bar while the
        # rest scores under review: the rests of the passing streams, best first per relay (on
        # equal scores the larger stream), one stream per relay per round (each rest is a
        # whole relay-day)
        passing: dict[str, list[tuple[float, int, int, str]]] = {}
        for i, (pseudo, ev) in enumerate(info.items()):
            if scores.get(pseudo, 0.0) >= _stream_bar(ev["requests"], cfg):
                passing.setdefault(ev["account_id"], []).append(
                    (-scores[pseudo], -ev["requests"], i, pseudo))
        queue = {a: [q[-1] for q in sorted(qs)][:MAX_RESTS] for a, qs in passing.items()}

        def contrast(pseudo: str, rest: pd.Series | None, info=info,
                     scores=scores) -> dict | None:
            r = 0.0 if rest is None else float(rest["score"])
            if r >= cfg.review_threshold:
                return None
            return {**info[pseudo], "score": round(float(scores[pseudo]), 6),
                    "rest_score": round(r, 6)}

        decided = judge_rests(settings, day, info, queue, stream_floor(cfg), fs, coverage,
                              model, contrast)
        for ev in decided.values():
            found[accounts[ev["account_id"]]] = ev
    return found


def judge_rests(settings: Settings, day: str, info: dict[str, dict],
                queue: dict[str, list[str]], min_requests: int, fs: pa.Table, coverage: bool,
                model, contrast, kinds: tuple[str, ...] = KINDS) -> dict[str, dict]:
    """Judge candidate streams against the rest of their relay's day, in rounds: ``queue``
    (relay -> its candidate streams, best first; emptied) gives one stream per relay a round
    (each rest is a whole relay-day), whose rest (``stream_requests`` with ``rests``, the same
    ``min_requests`` and ``kinds`` as ``info``'s streams) is featured and scored
    (:func:`scored_features`). ``contrast(stream, rest row or None)`` returns the stream's
    evidence when it decides its relay (which ends that relay's queue), else None. Returns
    relay -> the deciding stream's evidence."""
    decided: dict[str, dict] = {}
    while queue:
        batch = [qs.pop(0) for qs in queue.values()]
        relays = sorted({info[pseudo]["account_id"] for pseudo in batch})
        rest_req, _ = stream_requests(settings, day, relays, min_requests, rests=batch,
                                      kinds=kinds)
        rest = scored_features(settings, rest_req, day, fs, coverage, model,
                               {pseudo + REST: info[pseudo]["account_id"] for pseudo in batch})
        for pseudo in batch:
            key, relay = pseudo + REST, info[pseudo]["account_id"]
            ev = contrast(pseudo, rest.loc[key] if key in rest.index else None)
            if ev is not None:
                decided[relay] = ev
                queue[relay] = []
        queue = {a: qs for a, qs in queue.items() if qs}
    return decided


def per_day(out: pd.DataFrame, positions: list[int]) -> dict[str, dict[str, int]]:
    """Day (ISO) -> account -> position, for the rows of ``out`` at ``positions``."""
    by_day: dict[str, dict[str, int]] = {}
    for p in positions:
        day = str(pd.Timestamp(out["date"].iloc[p]).date())
        by_day.setdefault(day, {})[out["account_id"].iloc[p]] = p
    return by_day


def model_first_seen(settings: Settings) -> pa.Table:
    """The (model, first request) table the new-model features read: the features run's, or
    (a home featured before that table existed) read from the lake once."""
    fs = store.read_model_first_seen(settings)
    if fs is None:
        eng = engine.connect(settings, "duckdb")
        try:
            fs = first_seen(eng, all_request_files(settings))
        finally:
            eng.close()
    return fs


def stream_scores(settings: Settings, req: pa.Table, day: str, fs: pa.Table, coverage: bool,
                  model, parents: dict[str, str]) -> dict[str, float]:
    """The classifier's score of each pseudo-account in ``req`` (``parents``: pseudo-account
    -> relay)."""
    rows = scored_features(settings, req, day, fs, coverage, model, parents)
    return rows["score"].astype(float).to_dict()


def scored_features(settings: Settings, req: pa.Table, day: str, fs: pa.Table, coverage: bool,
                    model, parents: dict[str, str]) -> pd.DataFrame:
    """The daily features of each pseudo-account in ``req`` (:func:`stream_features`) with
    the classifier's ``score``, indexed by pseudo-account (``parents``: pseudo-account ->
    relay); empty when ``req`` has no rows."""
    if req.num_rows == 0:
        return pd.DataFrame({"score": pd.Series(dtype="float64")},
                            index=pd.Index([], name="account_id"))
    feats = stream_features(settings, req, day, fs, coverage=coverage, parents=parents)
    feats["score"] = model.predict_proba(feats)[:, 1]
    return feats.set_index("account_id")


def stream_floor(cfg: PolicyConfig) -> int:
    """The fewest requests a judged stream holds: the thin tier's floor when it is on."""
    return cfg.thin_block_min_requests or cfg.model_block_min_requests


def _stream_bar(requests: int, cfg: PolicyConfig) -> float:
    """The score a stream of ``requests`` needs: the block threshold at the evidence floor,
    the strict score under it (a stream of 10-49 requests is thin evidence, as a day is; the
    contrast with the rest of the relay's day stands beside it)."""
    if requests >= cfg.model_block_min_requests:
        return cfg.block_threshold
    return cfg.strict_block_min_score


def apply(out: pd.DataFrame, found: dict[int, dict]) -> pd.DataFrame:
    """Block the relay-days in ``found`` and record the source."""
    return block(out, list(found), REASON)


def block(out: pd.DataFrame, rows: list[int], source: str) -> pd.DataFrame:
    """Block the rows at positions ``rows`` on a relay's own traffic: ``model_block_capped``
    (the cap that held them at review) gives way to ``source``, recorded once, last."""
    if not rows:
        return out
    return with_decisions(out, rows, lambda _, sources: (
        "block", [s for s in sources if s not in ("model_block_capped", source)] + [source]))

def annotate(explanations: list[str], found: dict[int, dict]) -> list[str]:
    """Add the deciding stream to each blocked relay-day's explanation JSON."""
    return add_evidence(explanations, found, "relay_stream", drop=("account_id", "date"))


def add_evidence(explanations: list[str], found: dict[int, dict], key: str,
                 drop: tuple[str, ...] = ()) -> list[str]:
    """``explanations`` (explanation JSON texts) with ``found[p]`` (less its ``drop`` keys)
    under ``key`` at each position ``p``."""
    if not found:
        return explanations
    res = list(explanations)
    for p, ev in found.items():
        doc = json.loads(res[p]) if res[p] else {}
        doc[key] = {k: v for k, v in ev.items() if k not in drop}
        res[p] = json.dumps(doc, sort_keys=True)
    return res
