"""Synchronized activity: correlation of per-minute request counts between candidate pairs.

Accounts driven by one scheduler (bursts at the same minutes, or one stream load-balanced
round-robin over many accounts) have per-minute counts that rise and fall together. The
counts live in a sparse matrix (accounts x minutes of the window), so the Pearson
correlation of a pair is computed exactly from sparse sums without densifying.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
import pandas as pd
import scipy.sparse as sp

from detector.clusters.keys import PAIR_COLUMNS


@dataclass
class MinuteMatrix:
    """Per-minute request counts: row i is ``accounts[i]``, column j is minute ``start + j``."""

    accounts: list[str]
    matrix: sp.csr_matrix
    n_minutes: int

    @classmethod
    def from_counts(cls, counts: pd.DataFrame, start_minute: int, n_minutes: int) -> MinuteMatrix:
        """Build from rows (account_id, minute, c); minute is epoch minutes."""
        accounts = sorted(counts["account_id"].unique().tolist())
        row = pd.Index(accounts).get_indexer(counts["account_id"])
        col = (counts["minute"].to_numpy(np.int64) - start_minute).clip(0, n_minutes - 1)
        mat = sp.csr_matrix((counts["c"].to_numpy(np.float64), (row, col)),
                            shape=(len(accounts), n_minutes))
        mat.sum_duplicates()
        return cls(accounts, mat, n_minutes)

    def index(self) -> dict[str, int]:
        return {a: i for i, a in enumerate(self.accounts)}

    def active_minutes(self) -> np.ndarray:
        """Number of minutes with at least one request, per row."""
        return np.diff(self.matrix.indptr)

    def _hours(self) -> sp.csr_matrix:
        """Per-hour sums (accounts x hours of the window), cached."""
        if getattr(self, "_hour_cache", None) is None:
            n_hours = -(-self.n_minutes // 60)
            cols = np.arange(self.n_minutes) // 60
            g = sp.csr_matrix((np.ones(self.n_minutes), (np.arange(self.n_minutes), cols)),
                              shape=(self.n_minutes, n_hours))
            self._hour_cache = (self.matrix @ g).tocsr()
        return self._hour_cache

    @staticmethod
    def _rowdot(m: sp.csr_matrix, a: np.ndarray, b: np.ndarray,
                chunk: int = 8192) -> np.ndarray:
        """Dot product of rows a[k] and b[k], for each k; ``chunk`` pairs at a time (the
        gathered rows of busy accounts over a week would otherwise need gigabytes)."""
        if len(a) == 0:
            return np.zeros(0)
        return np.concatenate([
            np.asarray(m[a[k:k + chunk]].multiply(m[b[k:k + chunk]]).sum(axis=1)).ravel()
            for k in range(0, len(a), chunk)])

    def correlation(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Within-hour correlation of per-minute counts of rows ``a`` and ``b``.

        Each account's count is taken relative to its own mean for that hour of the window,
        so a shared daily rhythm (both busy in office hours) does not count as synchrony;
        minutes that rise and fall together inside the hour do. Exact, from sparse sums:
        sum r_a r_b = sum x_a x_b - sum_h S_a,h S_b,h / 60 (S = hourly sums).
        """
        m, h = self.matrix, self._hours()
        cov = self._rowdot(m, a, b) - self._rowdot(h, a, b) / 60.0
        va = self._rowdot(m, a, a) - self._rowdot(h, a, a) / 60.0
        vb = self._rowdot(m, b, b) - self._rowdot(h, b, b) / 60.0
        denom = np.sqrt(np.maximum(va, 0) * np.maximum(vb, 0))
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(denom > 1e-12, cov / denom, 0.0)


def timing_pairs(mm: MinuteMatrix, pairs: pd.DataFrame, min_corr: float, min_minutes: int,
                 lockstep: pd.DataFrame | None = None, max_lead: int = 2) -> pd.DataFrame:
    """Timing edges for candidate ``pairs`` (src, dst).

    Weight = the within-hour per-minute correlation (when >= ``min_corr``, both accounts
    active in ``min_minutes`` minutes), or 1 when the pair moves in lockstep (the running
    difference of their request counts never exceeds ``max_lead``: one load balancer
    feeding both in turn).
    """
    if pairs.empty:
        return pd.DataFrame(columns=PAIR_COLUMNS)
    out = pairs[["src", "dst"]].drop_duplicates().reset_index(drop=True)
    out["corr"] = np.nan
    idx = mm.index()
    active = mm.active_minutes()
    a = out["src"].map(idx)
    b = out["dst"].map(idx)
    ok = (a.notna() & b.notna()).to_numpy()
    if ok.any():
        a_i = a[ok].to_numpy(np.int64)
        b_i = b[ok].to_numpy(np.int64)
        enough = (active[a_i] >= min_minutes) & (active[b_i] >= min_minutes)
        corr = np.where(enough, mm.correlation(a_i, b_i), np.nan)
        out.loc[ok, "corr"] = corr
        out.loc[ok, "act_a"] = active[a_i]
        out.loc[ok, "act_b"] = active[b_i]
    if lockstep is not None and not lockstep.empty:
        out = out.merge(lockstep, on=["src", "dst"], how="left")
    else:
        out = out.assign(na=np.nan, nb=np.nan, max_lead=np.nan)
    return timing_frame(out, min_corr, max_lead)


def timing_frame(out: pd.DataFrame, min_corr: float, max_lead: int) -> pd.DataFrame:
    """Timing edges (``PAIR_COLUMNS``) from one row per pair: src, dst, corr (NaN: not
    computed), act_a, act_b (active minutes), and the lockstep test's na, nb, max_lead (NaN:
    not tested); see :func:`timing_pairs`."""
    w_corr = np.where(out["corr"].fillna(-1) >= min_corr, out["corr"].fillna(0), 0.0)
    w_lock = np.where(out["max_lead"].fillna(np.inf) <= max_lead, 1.0, 0.0)
    out["weight"] = np.clip(np.maximum(w_corr, w_lock), 0, 1)
    out = out[out["weight"] > 0].reset_index(drop=True)
    out["edge_type"] = "timing"
    out["evidence"] = [orjson.dumps(_timing_evidence(row)).decode()
                       for row in out.itertuples(index=False)]
    return out[PAIR_COLUMNS]


def _timing_evidence(row: Any) -> dict:
    ev: dict = {}
    if not np.isnan(row.corr):
        ev["minute_corr"] = round(float(row.corr), 3)
        ev["active_minutes"] = [int(row.act_a), int(row.act_b)]
    if not np.isnan(row.max_lead):
        ev.update({"requests": [int(row.na), int(row.nb)], "max_lead": int(row.max_lead)})
    return ev


def mean_pair_correlation(mm: MinuteMatrix, members: list[str], max_pairs: int = 2000,
                          seed: int = 0) -> float | None:
    """Mean correlation over member pairs (a deterministic sample of at most max_pairs)."""
    idx = mm.index()
    rows = np.array(sorted(idx[m] for m in members if m in idx), dtype=np.int64)
    if rows.size < 2:
        return None
    i, j = np.triu_indices(rows.size, k=1)
    if i.size > max_pairs:
        pick = np.random.default_rng(seed).choice(i.size, max_pairs, replace=False)
        i, j = i[pick], j[pick]
    return float(np.mean(mm.correlation(rows[i], rows[j])))


def lockstep_stats(mm: MinuteMatrix, pairs: pd.DataFrame, min_events: int, max_events: int,
                   max_lead: int, chunk: int = 20000) -> pd.DataFrame:
    """Lockstep test of candidate pairs from the per-minute counts.

    ``lead`` is how many more requests one account has made than the other so far. A load
    balancer handing requests to its accounts in turn keeps |lead| at 1 or 2 all day; for
    independent callers it wanders like a random walk (staying within +-2 for 24+ requests
    each has odds below 1 in 300). The lead is checked at every hour boundary first
    (vectorised), then at every minute for the pairs that pass. Only pairs where both accounts
    made between ``min_events`` and ``max_events`` requests, within 20% of each other, are
    tested. Returns src, dst, na, nb, max_lead (minute resolution) for the tested pairs.
    """
    cols = ["src", "dst", "na", "nb", "max_lead"]
    if pairs.empty or not mm.accounts:
        return pd.DataFrame(columns=cols)
    idx = mm.index()
    a = pairs["src"].map(idx)
    b = pairs["dst"].map(idx)
    ok = (a.notna() & b.notna()).to_numpy()
    a_i, b_i = a[ok].to_numpy(np.int64), b[ok].to_numpy(np.int64)
    total = np.asarray(mm.matrix.sum(axis=1)).ravel()
    na, nb = total[a_i], total[b_i]
    keep = ((np.minimum(na, nb) >= min_events) & (np.maximum(na, nb) <= max_events)
            & (np.minimum(na, nb) >= 0.8 * np.maximum(na, nb)))
    a_i, b_i = a_i[keep], b_i[keep]
    if a_i.size == 0:
        return pd.DataFrame(columns=cols)
    rows = np.unique(np.concatenate([a_i, b_i]))
    pos = np.searchsorted(rows, np.arange(len(mm.accounts)))
    hourly = np.cumsum(mm._hours()[rows].toarray(), axis=1)
    lead_h = np.concatenate([
        np.abs(hourly[pos[a_i[k:k + chunk]]] - hourly[pos[b_i[k:k + chunk]]]).max(axis=1)
        for k in range(0, a_i.size, chunk)])
    a_i, b_i = a_i[lead_h <= max_lead], b_i[lead_h <= max_lead]
    m = mm.matrix
    leads = np.empty(a_i.size)
    for k, (x, y) in enumerate(zip(a_i, b_i, strict=True)):
        cx, cy = m.indices[m.indptr[x]:m.indptr[x + 1]], m.indices[m.indptr[y]:m.indptr[y + 1]]
        c = np.concatenate([cx, cy])
        v = np.concatenate([m.data[m.indptr[x]:m.indptr[x + 1]],
                            -m.data[m.indptr[y]:m.indptr[y + 1]]])
        order = np.argsort(c, kind="stable")
        c, v = c[order], v[order]
        starts = np.flatnonzero(np.concatenate([[True], c[1:] != c[:-1]]))
        leads[k] = np.abs(np.cumsum(np.add.reduceat(v, starts))).max()
    return pd.DataFrame({"src": [mm.accounts[i] for i in a_i],
                         "dst": [mm.accounts[i] for i in b_i],
                         "na": total[a_i], "nb": total[b_i], "max_lead": leads})[cols]
