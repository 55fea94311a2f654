"""The derive functions of the feature formulas (:mod:`detector.features.catalog`): each reads
a partials frame (one row per account-day, or per account over a window, with the columns of
:mod:`detector.features.partials`) and returns one value per row, null where it is undefined."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

#: The partials' request counts per UTC hour of day.
HOURS = [f"h{h:02d}" for h in range(24)]
#: Length of the account's apparent night (``tim_night_share``), in hours.
NIGHT_HOURS = 6

Derive = Callable[[pd.DataFrame], pd.Series]


def as_float(s: pd.Series) -> pd.Series:
    """``s`` as float64, null where it is not a number."""
    return pd.to_numeric(s, errors="coerce").astype("float64")


def ratio(num: pd.Series, den: pd.Series) -> pd.Series:
    """num / den as float, null where den is 0 or null."""
    n, d = as_float(num), as_float(den)
    return (n / d.where(d > 0)).astype("float64")


def hour_matrix(p: pd.DataFrame) -> np.ndarray:
    """(rows, 24) float matrix of request counts per UTC hour of day."""
    return p[HOURS].to_numpy(dtype="float64", na_value=0.0)


def hour_entropy(p: pd.DataFrame) -> pd.Series:
    """Shannon entropy (bits) of the hour-of-day histogram; 0 for a single hour, max log2(24)."""
    h = hour_matrix(p)
    tot = h.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.where(tot > 0, h / tot, 0.0)
        ent = -np.where(q > 0, q * np.log2(np.where(q > 0, q, 1.0)), 0.0).sum(axis=1)
    ent = np.where(tot[:, 0] > 0, ent, np.nan) + 0.0
    return pd.Series(ent, index=p.index)


#: Share of the day's requests the busy window holds (``tim_busy_window_hours``), in tenths.
BUSY_WINDOW_TENTHS = 9


def busy_window(p: pd.DataFrame) -> pd.Series:
    """Hours of the shortest circular run of UTC hours holding at least 90% of the requests
    (exact integer comparison: 10 x requests in the run >= 9 x requests); null without any."""
    h = hour_matrix(p)
    tot = h.sum(axis=1)
    cum = np.concatenate([np.zeros((len(h), 1)), np.cumsum(np.hstack([h, h]), axis=1)], axis=1)
    hours = np.full(len(h), np.nan)
    for width in range(24, 0, -1):  # the shortest width that reaches the share wins
        best = (cum[:, width:width + 24] - cum[:, :24]).max(axis=1)
        hours = np.where(10 * best >= BUSY_WINDOW_TENTHS * tot, width, hours)
    return pd.Series(np.where(tot > 0, hours, np.nan), index=p.index)


def quietest_window(p: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """For each row: (start UTC hour, request count) of the quietest 6-hour circular window.

    Ties go to the earliest start hour. This window is taken as the account's night: the
    apparent timezone puts local 00:00-06:00 there.
    """
    h = hour_matrix(p)
    sums = np.stack([np.roll(h, -s, axis=1)[:, :NIGHT_HOURS].sum(axis=1) for s in range(24)], axis=1)
    start = sums.argmin(axis=1) if len(h) else np.zeros(0, dtype=int)
    return start, sums[np.arange(len(h)), start]


def night_share(p: pd.DataFrame) -> pd.Series:
    _, quiet = quietest_window(p)
    return ratio(pd.Series(quiet, index=p.index), p["n"])


def utc_offset(p: pd.DataFrame) -> pd.Series:
    start, _ = quietest_window(p)
    off = (-start) % 24
    off = np.where(off > 12, off - 24, off).astype("float64")
    return pd.Series(np.where(as_float(p["n"]).to_numpy() > 0, off, np.nan), index=p.index)


def gap_cv(p: pd.DataFrame) -> pd.Series:
    mean = ratio(p["gap_ms_sum"], p["gap_n"])
    var = (ratio(p["gap_ms_sq"], p["gap_n"]) - mean**2).clip(lower=0)
    cv = np.sqrt(var) / mean.where(mean > 0)
    return cv.where(as_float(p["gap_n"]) >= 2)


def burstiness(p: pd.DataFrame) -> pd.Series:
    cv = gap_cv(p)
    return (cv - 1) / (cv + 1)


def account_age_days(p: pd.DataFrame) -> pd.Series:
    """Days from account creation to the end (24:00 UTC) of ``date``; null if unknown."""
    end = pd.to_datetime(p["date"]).dt.tz_localize(None) + pd.Timedelta(days=1)
    created = pd.to_datetime(p["created_min"], utc=True).dt.tz_localize(None)
    age = (end - created).dt.total_seconds() / 86400.0
    return age.clip(lower=0).astype("float64")


def count_of(name: str) -> Derive:
    """The partials column ``name`` as it is (a count or a sum)."""
    return lambda p: as_float(p[name])


def share_of(name: str, den: str = "n") -> Derive:
    """The partials column ``name`` over ``den`` (by default the day's requests)."""
    return lambda p: ratio(p[name], p[den])
