"""Sums of doubles that do not depend on the order of their terms, one definition for DuckDB,
Spark SQL and numpy.

A double sum depends on the order its terms are added in, which DuckDB's threads and Spark's
partitions do not fix (the same day could give weights a last bit apart from one run to the
next, or between the engines). Here each term ``x`` becomes the integer ``floor(x * 2^60)``,
held as two BIGINTs, ``hi = floor(x * 2^30)`` and ``lo = floor((x * 2^30 - hi) * 2^30)`` (in
[0, 2^30)), computed with exact double operations (a product by a power of two, ``floor``,
the difference of a double and its floor); the integers are summed exactly, in any order, and
the total is the double nearest to ``sum(hi) * 2^-30 + sum(lo) * 2^-60``: both parts are exact
doubles (integers under 2^53 scaled by powers of two) and one IEEE addition rounds their exact
sum. So the result is the correctly rounded fixed-point sum, bit for bit the same on every
engine, with each term truncated to a multiple of 2^-60 (about 8.7e-19).

Valid while ``sum(|hi|)`` and ``sum(lo)`` stay under 2^53: for terms of magnitude at most 1 (key
weights, centroid coordinates), fewer than 2^23 (8.4M) terms per sum.
"""

from __future__ import annotations

import numpy as np

#: 2^30 and 2^60 as doubles (exact), spelled alike for DuckDB and Spark SQL.
P30 = "CAST(1073741824 AS DOUBLE)"
P60 = "CAST(1152921504606846976 AS DOUBLE)"


def hi_sql(x: str) -> str:
    """SQL (DuckDB and Spark): BIGINT ``floor(x * 2^30)``."""
    return f"CAST(floor(({x}) * {P30}) AS BIGINT)"


def lo_sql(x: str) -> str:
    """SQL (DuckDB and Spark): BIGINT ``floor((x * 2^30 - floor(x * 2^30)) * 2^30)``."""
    return f"CAST(floor((({x}) * {P30} - floor(({x}) * {P30})) * {P30}) AS BIGINT)"


def total_sql(hi_sum: str, lo_sum: str) -> str:
    """SQL (DuckDB and Spark): the DOUBLE total of summed ``hi`` and ``lo`` parts."""
    return (f"(CAST(CAST({hi_sum} AS BIGINT) AS DOUBLE) / {P30} "
            f"+ CAST(CAST({lo_sum} AS BIGINT) AS DOUBLE) / {P60})")


def sum_sql(x: str) -> str:
    """SQL aggregate (DuckDB and Spark): the order-independent DOUBLE sum of ``x``."""
    return total_sql(f"sum({hi_sql(x)})", f"sum({lo_sql(x)})")


def parts(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """numpy: the int64 ``hi`` and ``lo`` parts of every element of ``x`` (any float dtype;
    float32 widens to float64 exactly)."""
    y = np.asarray(x, dtype=np.float64) * 1073741824.0
    hi = np.floor(y)
    lo = np.floor((y - hi) * 1073741824.0)
    return hi.astype(np.int64), lo.astype(np.int64)


def total(hi_sum: np.ndarray | int, lo_sum: np.ndarray | int) -> np.ndarray:
    """numpy: the float64 totals of summed parts (as :func:`total_sql`)."""
    return (np.asarray(hi_sum, dtype=np.int64).astype(np.float64) / 1073741824.0
            + np.asarray(lo_sum, dtype=np.int64).astype(np.float64) / 1152921504606846976.0)
