"""Order-independent sums (``detector/clusters/exact.py``): the SQL (DuckDB) and numpy spellings
give the correctly rounded fixed-point sum, and a pair's key weight summed over many shared
keys is the same bits whatever DuckDB's thread count and the order of the rows (a plain double
sum of the same terms is not)."""

from __future__ import annotations

from fractions import Fraction
from math import floor

import duckdb
import numpy as np
import pandas as pd

from detector.clusters import exact, keys

KEYS = 150_000  # more rows than one DuckDB row group: several threads add the terms


def _reference(values: np.ndarray) -> float:
    """The double nearest to the sum of floor(x * 2^60) / 2^60, in exact rational arithmetic."""
    return float(Fraction(sum(floor(Fraction(float(x)) * 2**60) for x in values), 2**60))


def test_sql_and_numpy_give_the_correctly_rounded_fixed_point_sum():
    rng = np.random.default_rng(5)
    values = np.concatenate([rng.uniform(-1, 1, 3000), rng.uniform(0, 1e-6, 50),
                             [1.0, -1.0, 0.0, 2.0**-60, 0.1, -0.3, 1 / 3]])
    want = _reference(values)
    hi, lo = exact.parts(values)
    assert (lo >= 0).all() and (lo < 2**30).all()
    got_numpy = float(exact.total(hi.sum(), lo.sum()))
    con = duckdb.connect()
    con.register("v", pd.DataFrame({"x": values}))
    got_sql = con.execute(f"SELECT {exact.sum_sql('x')} FROM v").fetchone()[0]
    con.close()
    assert got_numpy.hex() == want.hex() and got_sql.hex() == want.hex()
    assert abs(want - float(np.sum(values))) < 1e-12  # truncation to 2^-60 per term only


def _pair_weight(frame: pd.DataFrame, threads: int) -> float:
    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    con.register("t0", frame)
    con.execute("CREATE TABLE t AS SELECT * FROM t0")
    pairs = keys.key_pairs(con, "ip", "SELECT key, slot, account_id, factor FROM t", 6,
                           weigh="factor", normalize=True)
    con.close()
    assert len(pairs) == 1
    return float(pairs["weight"].iloc[0])


def test_key_weight_is_the_same_bits_whatever_threads_and_row_order():
    rng = np.random.default_rng(0)
    fa, fb = rng.uniform(0.01, 1, KEYS), rng.uniform(0.01, 1, KEYS)
    frame = pd.DataFrame({"key": [f"k{i}" for i in range(KEYS)] * 2, "slot": 0,
                          "account_id": ["a"] * KEYS + ["b"] * KEYS,
                          "factor": np.concatenate([fa, fb])})
    terms = np.minimum(fa, fb)  # each shared key weighs the smaller factor
    # the terms are order-sensitive as doubles: a plain sum changes with the order
    assert len({float(sum(terms[rng.permutation(KEYS)])) for _ in range(4)}) > 1
    want = _pair_weight(frame, 1)
    for threads, seed in ((4, 1), (4, 2), (2, 3)):
        got = _pair_weight(frame.sample(frac=1.0, random_state=seed), threads)
        assert got.hex() == want.hex(), (threads, seed)
    assert want == float(exact.total(*(p.sum() for p in exact.parts(terms)))) / KEYS
