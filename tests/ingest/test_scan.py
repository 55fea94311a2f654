"""The compiled scanner equals the Python fast path on every line it accepts.

Contract (``detector/ingest/scan.py``): for every line the scanner accepts, ``orjson.loads``
reads a dict and ``fast_row`` returns a row equal, column by column, to the scanner's; lines it
declines go through Python, which decides. Checked on realistic traffic (the simulator), on
every hostile and odd case of the fast-path tests, on fuzzed records written by different JSON
encoders, on numbers and timestamps at their edges, and end to end through ``ingest_paths``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random

import numpy as np
import orjson
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from detector.ingest import idstore, ingest_paths, scan
from detector.ingest.fastpath import fast_row
from detector.ingest.normalize import Limits
from detector.ingest.tables import rows_to_table

from .ingest_helpers import lake_contents, record, write_jsonl
from .test_fastpath import COMMON, ODD, fuzzed_records, hostile_lines

# Without a compiler the scanner is optional and these tests skip; under CI it is required, so a
# compile failure or a stale build fails here instead of silently dropping the tests.
REQUIRED = bool(os.environ.get("CI"))
pytestmark = pytest.mark.skipif(not scan.AVAILABLE and not REQUIRED,
                                reason=f"scanner extension not usable: {scan.MISMATCH or 'not built'}")


def test_scanner_is_built_and_matches_the_declared_row():
    assert scan.AVAILABLE, f"compiled scanner not usable: {scan.MISMATCH or 'not built'}"
    assert scan.MISMATCH is None


def test_table_check_names_the_first_difference():
    good = list(scan.EXPECTED_COLUMNS)
    assert scan.table_mismatch(good) is None
    swapped = good[:]
    swapped[1], swapped[2] = swapped[2], swapped[1]
    assert "column 1" in scan.table_mismatch(swapped)
    assert "scanner 40" in scan.table_mismatch(good[:-1])
    assert "no COLUMNS table" in scan.table_mismatch(None)

LIMITS = Limits()
NAMES = [f.name for f in scan.ROW_FIELDS]


def python_row(line: bytes, limits: Limits = LIMITS) -> tuple | None:
    """What the Python fast path makes of ``line`` (None: declined or not an object)."""
    try:
        rec = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    if type(rec) is not dict:
        return None
    try:
        return fast_row(rec, limits)
    except Exception:  # noqa: BLE001 - parse._try_fast declines on any exception too
        return None


def check(lines: list[bytes], limits: Limits = LIMITS) -> int:
    """Assert the contract on ``lines``; the number of lines the scanner accepted."""
    table, accepted = scan.scan_lines(lines, limits)
    assert table.num_rows == len(accepted)
    assert list(accepted) == sorted(set(accepted.tolist()))
    rows = []
    for i in accepted.tolist():
        row = python_row(lines[i], limits)
        assert row is not None, f"scanner accepted a line Python declines: {lines[i][:300]!r}"
        rows.append(row)
    expected = rows_to_table(rows, [1] * len(rows), "", "").select(NAMES)
    for name in NAMES:
        want = expected.column(name).combine_chunks()
        got = table.column(name).combine_chunks()
        if not got.equals(want):
            w, g = want.to_pylist(), got.to_pylist()
            bad = next(k for k in range(len(w)) if w[k] != g[k])
            raise AssertionError((name, lines[accepted[bad]][:300], w[bad], g[bad]))
    return len(accepted)


def test_blake2b_equals_hashlib():
    rng = random.Random(1)
    for n in [*range(0, 300), 1023, 1024, 1025, 5000]:
        data = bytes(rng.randrange(256) for _ in range(n))
        assert scan.blake2b64(data) == hashlib.blake2b(data, digest_size=8).hexdigest(), n


def test_request_id_keys_equal_the_id_store_keys():
    ids = [f"req_{i}" for i in range(500)] + ["", "é" * 70, "x" * 300, "日本語"]
    table = pa.table({"request_id": pa.array(ids)}).slice(3)  # an array with an offset
    parsed = scan.ParsedBatch(table=table)
    assert np.array_equal(scan.request_id_keys(parsed), idstore.id_keys(ids[3:]))


def test_realistic_traffic_takes_the_scanner(tmp_path):
    from detector.simulate.engine import simulate

    simulate(tmp_path / "sim", accounts=60, days=1, seed=5)
    lines = []
    for path in sorted((tmp_path / "sim").glob("requests-*.jsonl")):
        lines += path.read_bytes().splitlines()
    limits = Limits(min_ts_us=0)
    accepted = check(lines, limits)
    assert accepted >= 0.95 * len(lines)  # else the scanner gives no speed on real shapes


@pytest.mark.parametrize("change", COMMON + ODD)
def test_common_and_odd_records_written_three_ways(change):
    rec = record(1, **change)
    for line in encodings(rec):
        check([line])


def test_hostile_lines():
    lines = hostile_lines()
    assert check(lines) >= 5
    check(lines[::-1])  # and in another order (buffers are reused between lines)


def encodings(rec: dict) -> list[bytes]:
    """``rec`` as orjson writes it, as ``json.dumps`` writes it (ASCII escapes, spaced
    separators) and with escaped slashes; lines Python cannot write are left out."""
    out = []
    for dump in (lambda r: orjson.dumps(r),
                 lambda r: json.dumps(r).encode(),
                 lambda r: json.dumps(r, ensure_ascii=False).replace("/", "\\/").encode(
                     "utf-8", "surrogatepass")):
        with contextlib.suppress(TypeError, ValueError, orjson.JSONEncodeError):
            out.append(dump(rec))
    return out


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fuzzed_records())
def test_fuzzed_records_written_three_ways(rec):
    check(encodings(rec))


NUMBER_TEXTS = ["0", "-0", "7", "-7", "123456789012345678", "1234567890123456789", "0.0",
                "-0.0", "0.000", "1.0", "1.50", "0.7", "0.70", "1e2", "1E2", "1.5e-3", "0.00001",
                "0.000001", "0.000012", "123456789012345.6", "1234567890123456.7",
                "999999999999999.0", "0.1234567890123456", "00", "01", "1.", ".5", "-", "+1",
                "1.0000000000000000000001", "3.141592653589793", "2.5"]


def with_number(rec: dict, path: tuple[str, ...], text: str) -> bytes:
    """``rec`` as JSON with the raw number ``text`` at ``path`` (written verbatim)."""
    node = rec
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = "__NUMBER__"
    return orjson.dumps(rec).replace(b'"__NUMBER__"', text.encode())


NUMBER_PATHS = [("request", k) for k in ("temperature", "top_p", "max_tokens", "seed", "n",
                                          "top_logprobs", "logprobs", "other")] + \
    [("latency_ms",), ("timestamp",), ("usage", "prompt_tokens"), ("response", "status"),
     ("request", "messages", 1, "content")]


@pytest.mark.parametrize("text", NUMBER_TEXTS)
def test_numbers_at_their_edges(text):
    check([with_number(record(3), path, text) for path in NUMBER_PATHS])


@settings(max_examples=300, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False),
       st.sampled_from(["orjson", "repr", "%.17g", "%.6f", "%.15g", "%.3f"]))
def test_floats_written_any_way(x, style):
    text = {"orjson": lambda v: orjson.dumps(v).decode(), "repr": repr}.get(
        style, lambda v: style % v)(x)
    if text in ("inf", "-inf", "nan"):
        return
    check([with_number(record(4), ("request", "temperature"), text),
           with_number(record(4), ("request", "other"), text)])


TIMESTAMPS = ["2026-11-27T13:45:12Z", "2026-11-27T13:45:12.5Z", "2026-11-27T13:45:12.123456Z",
              "2026-11-27T13:45:12.1234567Z", "2026-11-27T13:45:12+23:59",
              "2026-11-27T13:45:12+24:00", "2026-11-27T13:45:12-00:00",
              "2026-11-27T13:45:12+05:60", "2024-02-29T00:00:00Z", "2026-02-29T00:00:00Z",
              "2026-11-27T24:00:00Z", "2026-11-27T23:60:00Z", "2026-11-27T23:59:60Z",
              "0001-01-01T00:00:00Z", "0000-01-01T00:00:00Z", "2026-11-27 13:45:12Z",
              "2026-11-27t13:45:12z", "2026-11-27T13:45:12", "2026-11-27T13:45:12.Z",
              "2026-11-27T13:45:12+0530", "\u0662026-11-27T13:45:12Z", "2026-13-01T00:00:00Z",
              "2026-00-10T00:00:00Z", "2026-04-31T00:00:00Z", "2100-02-29T00:00:00Z",
              "2000-02-29T00:00:00Z", "1795787112123", 1795787112123, -1, 9_000_000_000_000_001]


@pytest.mark.parametrize("ts", TIMESTAMPS)
def test_timestamps_at_their_edges(ts):
    wide = Limits(min_ts_us=-(1 << 62), max_ts_us=1 << 62)
    for limits in (LIMITS, wide):
        check([orjson.dumps(record(5, timestamp=ts))], limits)
        check([orjson.dumps(record(5, account_created_at=ts))], limits)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=30), st.sampled_from(["content", "request_id", "user", "model"]))
def test_any_text_in_any_string_field(text, field):
    rec = record(6)
    if field == "content":
        rec["request"]["messages"][1]["content"] = text
    elif field == "user":
        rec["request"]["user"] = text
    else:
        rec[field] = text
    check(encodings(rec))


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=40), st.integers(0, 400))
def test_raw_bytes_spliced_into_a_line(junk, at):
    line = orjson.dumps(record(8))
    at = min(at, len(line))
    check([line[:at] + junk + line[at:], line[:at], junk])


def test_duplicate_keys_and_depth_are_declined():
    line = orjson.dumps(record(9))
    nested = b'{"a":' * 70 + b"1" + b"}" * 70
    lines = [line[:-1] + b',"request_id":"again"}',
             line.replace(b'"max_tokens":4096', b'"max_tokens":4096,"max_tokens":5'),
             line.replace(b'"max_tokens":4096', b'"max_tokens":4096,"deep":' + nested)]
    table, accepted = scan.scan_lines(lines, LIMITS)
    assert len(accepted) == 0
    check(lines)


@pytest.mark.parametrize("redelivered", [False, True])
def test_ingest_end_to_end_is_identical_with_and_without_the_scanner(tmp_path, monkeypatch,
                                                                     redelivered):
    from detector.settings import load_settings

    lines = hostile_lines() + [orjson.dumps(record(1000 + i)) for i in range(50)]
    path = write_jsonl(tmp_path / "mixed.jsonl", lines)
    paths = [path, write_jsonl(tmp_path / "again.jsonl", lines[-60:])] if redelivered else [path]
    with_home = load_settings(tmp_path / "with")
    got = ingest_paths(with_home, paths, progress=False, workers=1)
    monkeypatch.setattr(scan, "ENABLED", False)
    without_home = load_settings(tmp_path / "without")
    want = ingest_paths(without_home, paths, progress=False, workers=1)
    assert (got.read, got.accepted, got.duplicates, got.quarantined) == \
        (want.read, want.accepted, want.duplicates, want.quarantined)
    assert lake_contents(with_home) == lake_contents(without_home)
    assert got.accepted > 50


ESCAPES = ["\\udc00", "\\ud800", "\\ud800\\u0041", "\\ud83d\\ude00", "\\ud83d", "\\ud83dx",
           "\\u00e9", "\\u00E9", "\\u0000", "\\u001f", "\\u001F", "\\u007f", "\\/", "\\b\\f",
           "\\n\\r\\t", "\\\"\\\\", "\\x41", "\\u12", "\\uZZZZ", "\\", "\\U0041"]


@pytest.mark.parametrize("escape", ESCAPES)
def test_escapes_in_request_and_top_level_strings(escape):
    line = orjson.dumps(record(10))
    raw = escape.encode()
    check([line.replace(b"Explain", b"Ex" + raw + b"plain"),      # request_json, prompt
           line.replace(b"acct_0042", b"acct" + raw + b"_0042"),  # top-level id
           line.replace(b'"stop"', b'"st' + raw + b'op"'),        # response_json
           line.replace(b'"role":"user"', b'"ro' + raw + b'le":"user"')])  # a key


METADATA = [None, {}, {"team": "x"}, {"_ingest": "user data"}, "a string", [1, "b", None], 5,
            2.5, True, {"nested": {"k": ["é", "\u0001"], "n": None}}]


@pytest.mark.parametrize("meta", METADATA)
def test_metadata_of_any_type_takes_the_scanner(meta):
    lines = encodings(record(11, metadata=meta))
    assert check(lines) == len(lines)
