"""Stable cluster ids: derived from the members, carried over while membership persists.

A new cluster's id is ``c_`` + the first 12 hex digits of the BLAKE2b hash of its sorted
member ids. When a previous day's cluster overlaps it with Jaccard >= ``min_jaccard``, the
previous id is kept instead (greedy, best overlap first, each old id used at most once). A new
cluster never takes an id that one of the previous day's clusters holds.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict

import pandas as pd


def derive_id(members: list[str]) -> str:
    """Deterministic id of a member set (order does not matter)."""
    digest = hashlib.blake2b("\n".join(sorted(members)).encode("utf-8"), digest_size=16)
    return "c_" + digest.hexdigest()[:12]


def _fresh(members: list[str], derived: str, taken: set[str]) -> str:
    """The derived id, or a salted variant when an existing cluster already holds it (a group
    may reappear with the exact members an id was once derived from, after that id moved on)."""
    cid, salt = derived, 0
    while cid in taken:
        salt += 1
        cid = derive_id([*members, f"#{salt}"])
    return cid


def assign_ids(groups: list[list[str]], previous: pd.DataFrame | None,
               min_jaccard: float) -> pd.DataFrame:
    """Id per group: carried over from ``previous`` (cluster_id, account_id) when possible.

    Returns one row per group: index (position in ``groups``), cluster_id, derived_id,
    previous_cluster_id (None when new), jaccard (overlap with it, None when new).
    """
    derived = [derive_id(g) for g in groups]
    matches: list[tuple[float, int, str]] = []
    if previous is not None and not previous.empty:
        old_members: dict[str, set[str]] = defaultdict(set)
        for cid, acct in zip(previous["cluster_id"], previous["account_id"], strict=True):
            old_members[cid].add(acct)
        owner: dict[str, list[str]] = defaultdict(list)
        for cid, accts in old_members.items():
            for a in accts:
                owner[a].append(cid)
        for i, g in enumerate(groups):
            seen = {cid for a in g for cid in owner.get(a, ())}
            for cid in seen:
                old = old_members[cid]
                inter = len(old.intersection(g))
                jac = inter / (len(old) + len(g) - inter)
                if jac >= min_jaccard:
                    matches.append((jac, i, cid))
    chosen: dict[int, tuple[str, float]] = {}
    used: set[str] = set()
    for jac, i, cid in sorted(matches, key=lambda t: (-t[0], t[1], t[2])):
        if i in chosen or cid in used:
            continue
        chosen[i] = (cid, jac)
        used.add(cid)
    taken = set(used) | (set(previous["cluster_id"]) if previous is not None else set())
    rows = []
    for i, d in enumerate(derived):
        prev, jac = chosen.get(i, (None, None))
        cid = prev or _fresh(groups[i], d, taken)
        taken.add(cid)
        rows.append({"index": i, "cluster_id": cid, "derived_id": d,
                     "previous_cluster_id": prev, "jaccard": jac})
    out = pd.DataFrame(rows, columns=["index", "cluster_id", "derived_id",
                                      "previous_cluster_id", "jaccard"])
    out["previous_cluster_id"] = pd.Series([r["previous_cluster_id"] for r in rows], dtype=object)
    return out
