"""Shared prompt templates: MinHash LSH over each account's template shingles.

An account's *template* (scaffold) is the wrapper text its prompts repeat: word 3-gram
shingles (lower-cased, split on spaces, the first ``max_tokens`` words of the first
``max_chars`` characters) that occur in at least two of its sampled prompts. Topic words vary from prompt to prompt and drop out; the
wrapper of a harvesting script stays. Shingles held by a large share of all accounts (stock
phrases) are dropped. Tokenising and counting run in DuckDB; signatures are computed with
numpy (universal hashing, one pass per permutation) and banded for LSH
(``detector.features.minhash``: ``permutation_signatures``, ``band_pairs``).
Accounts with identical signatures are grouped exactly; the rest go through LSH,
and each candidate's Jaccard is estimated from the signatures.

Grain: one row per unordered account pair (src < dst).
"""

from __future__ import annotations

from collections import defaultdict

import duckdb
import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from detector.clusters import dialect
from detector.clusters.keys import PAIR_COLUMNS
from detector.features.minhash import band_pairs, permutation_signatures

#: 60-bit hash (md5 prefix, ``dialect.hash63``) of the word 3-gram starting at token ``i`` of
#: list ``tok`` (DuckDB SQL).
SHINGLE_SQL = dialect.shingle("tok[i]", "tok[i + 1]", "tok[i + 2]")

#: Where an account's prompts are picked in the sampling order ``rk`` (a prompt hash's
#: ``dialect.hash63``; ties, two prompt hashes of one account with the same 60-bit md5 prefix,
#: do not occur in practice): DuckDB's top-n ``min_by`` (0.6x the time of a window there on
#: 3M pairs), a filtered ``row_number`` on Spark, which has no top-n ``min_by``. Slot: ``{sample}``.
_PICK = {
    "duckdb": """SELECT account_id, unnest(min_by(prompt_hash, rk, {sample})) AS prompt_hash
                 FROM r GROUP BY account_id""",
    "spark": """SELECT account_id, prompt_hash FROM (
                     SELECT account_id, prompt_hash,
                            row_number() OVER (PARTITION BY account_id ORDER BY rk, prompt_hash)
                                AS n FROM r)
                 WHERE n <= {sample}""",
}


def _sampled_sql(source: str, sample: int, max_chars: int, engine: str = "duckdb") -> str:
    """SQL: the ``sample`` distinct prompts of smallest ``rk`` (``dialect.hash63`` of
    prompt_hash) per account, with ``rk`` and the first ``max_chars`` characters of their text
    (column ``t``; the smallest such text when case variants share a prompt hash).

    Picked on (account, prompt hash) pairs first; only the picked prompts' texts are held in
    memory (a group-by carrying every distinct text of a busy day needs gigabytes).
    """
    pick = _PICK[dialect.check(engine)].format(sample=int(sample))
    return f"""
            WITH r AS (SELECT account_id, prompt_hash, {dialect.hash63('prompt_hash', engine)} AS rk
                       FROM (SELECT DISTINCT account_id, prompt_hash FROM {source}
                             WHERE prompt_text IS NOT NULL AND prompt_hash IS NOT NULL)),
            k AS ({pick})
            SELECT s.account_id, s.prompt_hash, {dialect.hash63('s.prompt_hash', engine)} AS rk,
                   min(left(s.prompt_text, {int(max_chars)})) AS t
            FROM {source} s JOIN k ON s.account_id = k.account_id AND s.prompt_hash = k.prompt_hash
            WHERE s.prompt_text IS NOT NULL
            GROUP BY s.account_id, s.prompt_hash"""


def _tokens_sql(max_tokens: int, engine: str = "duckdb") -> str:
    """SQL expression: the first ``max_tokens`` lower-cased, space-split words of ``t``."""
    return dialect.tokens("t", max_tokens, engine)


_SCAFFOLD_TAIL = """sc AS (SELECT account_id, sh FROM sh GROUP BY account_id, sh HAVING count(*) >= 2),
        df AS (SELECT sh FROM sc GROUP BY sh
               HAVING count(*) <= {max_accounts})
        SELECT account_id, sh FROM sc SEMI JOIN df USING (sh) ORDER BY account_id, sh"""


def scaffold_rows(con: duckdb.DuckDBPyConnection, source: str, sample: int, max_chars: int,
                  max_accounts: int, max_tokens: int = 48) -> pd.DataFrame:
    """Rows (account_id, sh) of every account's scaffold, from the requests in ``source``.

    ``sample`` distinct prompts per account are read (chosen by prompt hash, deterministic).
    A shingle is in the scaffold when it appears in >= 2 of them; it is popular (a stock phrase,
    a widely used app's wrapper), dropped, when more than ``max_accounts`` accounts have it:
    the same fan-out cap as every other blocking key. ``sh`` is a 60-bit
    hash of the shingle text (``SHINGLE_SQL``).
    """
    return con.execute(f"""
        WITH p AS ({_sampled_sql(source, sample, max_chars)}),
        tok AS (SELECT account_id, prompt_hash, {_tokens_sql(max_tokens)} AS tok FROM p),
        sh AS (SELECT DISTINCT account_id, prompt_hash, {SHINGLE_SQL} AS sh
               FROM (SELECT account_id, prompt_hash, tok,
                            unnest(range(1, len(tok) - 1)) AS i FROM tok)),
        {_SCAFFOLD_TAIL.format(max_accounts=int(max_accounts))}
    """).df()


def sample_sql(source: str, sample: int, max_chars: int, max_tokens: int = 48,
               engine: str = "duckdb") -> str:
    """SQL (DuckDB or Spark, ``engine``): per account, its ``sample`` prompts of smallest
    ``rk`` (as in ``scaffold_rows``), one row each: account_id, prompt_hash, ``rk`` (BIGINT,
    ``dialect.hash63`` of prompt_hash: the sampling order) and ``shingles`` = sorted distinct
    shingle hashes as a BIGINT list (empty for prompts under three words, which still take a
    sample slot).

    The sample of a union of days is the ``sample`` smallest ``rk`` of the days' samples,
    which is what makes a window of cached days exact (``scaffold_rows_from_samples``).
    """
    tok = _tokens_sql(max_tokens, engine)
    return f"""
        SELECT account_id, prompt_hash, rk, {dialect.shingles('tok', engine)} AS shingles
        FROM (SELECT account_id, prompt_hash, rk, {tok} AS tok
              FROM ({_sampled_sql(source, sample, max_chars, engine)}) p) q"""


def scaffold_rows_from_samples(con: duckdb.DuckDBPyConnection, source: str, sample: int,
                               max_accounts: int) -> pa.Table:
    """``scaffold_rows`` over a window, from per-day samples (rows of ``sample_sql``) in
    ``source``: the ``sample`` smallest-``rk`` distinct prompts per account across the days,
    then the same scaffold and popularity rules. Same rows as ``scaffold_rows`` on the raw
    requests of those days, as an Arrow table (a row per account and shingle: a pandas frame
    would hold a Python string per row).

    Three statements, each result a temporary table: the window's sample, each account's
    scaffold (shingles in two or more of its prompts), then the popularity rule. One query
    holding the sample's window, the shingle rows and their aggregate at once ran out of a
    capped DuckDB memory on 100k accounts, where each step alone fits and spills."""
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _scaffold_p AS
        SELECT account_id, prompt_hash, any_value(rk) AS rk, any_value(shingles) AS shingles
        FROM {source} GROUP BY account_id, prompt_hash
        QUALIFY row_number() OVER (PARTITION BY account_id ORDER BY any_value(rk))
                <= {int(sample)}""")
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _scaffold_sc AS
        SELECT account_id, sh
        FROM (SELECT account_id, prompt_hash, CAST(unnest(shingles) AS BIGINT) AS sh
              FROM _scaffold_p)
        GROUP BY account_id, sh HAVING count(*) >= 2""")
    con.execute("DROP TABLE _scaffold_p")
    out = con.sql(f"""
        WITH df AS (SELECT sh FROM _scaffold_sc GROUP BY sh HAVING count(*) <= {int(max_accounts)})
        SELECT account_id, sh FROM _scaffold_sc SEMI JOIN df USING (sh) ORDER BY account_id, sh
    """).to_arrow_table()
    con.execute("DROP TABLE _scaffold_sc")
    return out


def scaffold_sets(rows: pd.DataFrame | pa.Table) -> dict[str, np.ndarray]:
    """Account -> sorted array of its scaffold shingles (rows sorted by account)."""
    if isinstance(rows, pa.Table):
        if rows.num_rows == 0:
            return {}
        acct_col = rows.column("account_id").combine_chunks()
        sh = rows.column("sh").to_numpy().astype(np.int64)
        changed = pc.not_equal(acct_col.slice(1), acct_col.slice(0, len(acct_col) - 1))
        cut = np.flatnonzero(changed.to_numpy(zero_copy_only=False)) + 1
        starts = np.concatenate([[0], cut])
        names = acct_col.take(pa.array(starts)).to_pylist()
        return dict(zip(names, np.split(sh, cut), strict=True))
    if rows.empty:
        return {}
    acct = rows["account_id"].to_numpy()
    sh = rows["sh"].to_numpy(np.int64)
    cut = np.flatnonzero(acct[1:] != acct[:-1]) + 1
    starts = np.concatenate([[0], cut])
    return {acct[s]: part for s, part in zip(starts, np.split(sh, cut), strict=True)}


def signatures(sets: dict[str, np.ndarray], num_perm: int, seed: int) -> dict[str, np.ndarray]:
    """MinHash signature (uint64 array of ``num_perm``) per account
    (``detector.features.minhash.permutation_signatures``)."""
    if not sets:
        return {}
    accounts = list(sets)
    lens = np.fromiter((len(sets[a]) for a in accounts), dtype=np.int64, count=len(accounts))
    out = permutation_signatures(np.concatenate([sets[a] for a in accounts]), lens, num_perm,
                                 seed)
    return dict(zip(accounts, out, strict=True))


def template_pairs(sets: dict[str, np.ndarray], threshold: float, num_perm: int, seed: int,
                   cap: int) -> pd.DataFrame:
    """Pairs of accounts whose scaffolds have Jaccard >= ``threshold`` (estimated).

    Identical scaffolds form groups whose members are all linked (a group larger than ``cap``
    is a stock template and yields nothing); one representative per group goes into the LSH
    index. A query answering more than ``cap`` candidates keeps the ``cap``
    most similar.
    """
    if len(sets) < 2:
        return pd.DataFrame(columns=PAIR_COLUMNS)
    sigs = signatures(sets, num_perm, seed)
    groups: dict[bytes, list[str]] = defaultdict(list)
    for acct in sorted(sigs):
        groups[sigs[acct].tobytes()].append(acct)
    rows: list[tuple[str, str, float, dict]] = []
    reps: list[str] = []
    for members in groups.values():
        reps.append(members[0])
        if len(members) > cap:
            continue
        ev = {"jaccard": 1.0, "identical_group": len(members),
              "shingles": int(len(sets[members[0]]))}
        rows += [(a, b, 1.0, ev) for i, a in enumerate(members) for b in members[i + 1:]]
    rows += _lsh_pairs(reps, sigs, groups, threshold, num_perm, cap, sets)
    return pair_frame(rows)


def pair_frame(rows: list[tuple[str, str, float, dict]]) -> pd.DataFrame:
    """Template edges (``PAIR_COLUMNS``) from (account, account, weight, evidence) rows: each
    pair ordered src < dst, the strongest row per pair, evidence as JSON (``orjson``)."""
    df = pd.DataFrame(rows, columns=["src", "dst", "weight", "evidence"])
    if df.empty:
        return pd.DataFrame(columns=PAIR_COLUMNS)
    swap = df["src"] > df["dst"]
    df.loc[swap, ["src", "dst"]] = df.loc[swap, ["dst", "src"]].to_numpy()
    df = df.sort_values("weight", ascending=False).drop_duplicates(["src", "dst"])
    df["edge_type"] = "template"
    df["evidence"] = [orjson.dumps(e).decode() for e in df["evidence"]]
    return df[PAIR_COLUMNS].reset_index(drop=True)


def _lsh_pairs(reps: list[str], sigs: dict[str, np.ndarray], groups: dict[bytes, list[str]],
               threshold: float, num_perm: int, cap: int,
               sets: dict[str, np.ndarray]) -> list[tuple[str, str, float, dict]]:
    """Candidate pairs among group representatives, expanded back to every group member."""
    if len(reps) < 2:
        return []
    matrix = np.vstack([sigs[a] for a in reps])
    cands_of: dict[str, list[str]] = defaultdict(list)
    for i, j in band_pairs(matrix, threshold).tolist():
        lo, hi = sorted((reps[i], reps[j]))
        cands_of[lo].append(hi)
    index = {a: i for i, a in enumerate(reps)}
    members = {a: groups[sigs[a].tobytes()] for a in reps}
    out: list[tuple[str, str, float, dict]] = []
    for acct in reps:
        cands = sorted(cands_of.get(acct, ()))
        if not cands:
            continue
        idx = np.fromiter((index[c] for c in cands), dtype=np.int64, count=len(cands))
        jac = (matrix[idx] == matrix[index[acct]]).mean(axis=1)
        order = np.argsort(-jac, kind="stable")[:cap]
        for j in order:
            if jac[j] < threshold:
                break
            other = cands[j]
            ev = {"jaccard": round(float(jac[j]), 3), "shingles": int(len(sets[acct])),
                  "other_shingles": int(len(sets[other]))}
            for a in members[acct][: cap]:
                out += [(a, b, float(jac[j]), ev) for b in members[other][: cap]]
    return out
