"""The clusters stage's engine-neutral SQL spellings, on DuckDB (Spark: tests/scale)."""

from __future__ import annotations

import hashlib

import duckdb
import pytest

from detector.clusters import dialect

#: Texts whose hashes both engines must agree on: empty, quotes, backslashes, non-ASCII.
TRICKY = ["", " ", "abc", "it's a \"quoted\" 'text'", "back\\slash \\n", "café ☕ naïve",
          "İSTANBUL ΟΔΟΣ", "e\u0301\u0303 combining", "🙂🙃 emoji", "中文 文本 測試", "\t\ttabs"]


def reference_hash63(text: str) -> int:
    """The first 15 hex digits of md5 of the UTF-8 bytes, as an integer."""
    return int(hashlib.md5(text.encode("utf-8")).hexdigest()[:15], 16)


def test_hash63_is_the_md5_prefix_on_duckdb():
    con = duckdb.connect()
    got = [r[0] for r in con.execute(
        f"SELECT {dialect.hash63('s')} FROM unnest($t) WITH ORDINALITY AS u(s, i) ORDER BY i",
        {"t": TRICKY}).fetchall()]
    assert got == [reference_hash63(t) for t in TRICKY]
    assert all(0 <= h < 2 ** 60 for h in got)
    assert con.execute(f"SELECT {dialect.hash63('NULL::VARCHAR')}").fetchone()[0] is None


def test_slot_is_the_floor_of_epoch_microseconds():
    con = duckdb.connect()
    got = con.execute(f"""SELECT {dialect.slot("TIMESTAMPTZ '2026-01-01 00:59:59.999999+00'", 3600)},
                                 {dialect.slot("TIMESTAMPTZ '2026-01-01 01:00:00+00'", 3600)},
                                 {dialect.slot("TIMESTAMPTZ '1969-12-31 23:59:59+00'", 60)}
                          """).fetchone()
    assert got == (1767225600 // 3600, 1767225600 // 3600 + 1, -1)


def test_shingles_of_short_texts_are_empty_and_sorted_otherwise():
    con = duckdb.connect()
    sql = (f"SELECT {dialect.shingles(dialect.tokens('t', 48))} "
           "FROM (SELECT $t AS t)")
    assert con.execute(sql, {"t": "two words"}).fetchone()[0] == []
    got = con.execute(sql, {"t": "A b  c D b c"}).fetchone()[0]
    want = sorted({reference_hash63(s) for s in ("a b c", "b c d", "c d b", "d b c")})
    assert got == want


def test_unknown_engine_and_unsafe_pattern_are_refused():
    with pytest.raises(ValueError, match="expected one of"):
        dialect.hash63("s", "sqlite")
    with pytest.raises(ValueError, match="no quote"):
        dialect.regexp("s", "it's")
