"""The fast path equals the full normaliser: same rows, same quarantine, same counts.

``fast_row`` may decline a record (None: ``normalize`` then decides), but whatever it returns
must be exactly ``normalize(rec, limits, [])``. Checked on hand-made odd records, on fuzzed
records, line by line on every hostile case, and end to end through ``ingest_paths``.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from detector.ingest import ingest_paths
from detector.ingest import parse as parse_mod
from detector.ingest.fastpath import cached_ip_prefix, fast_prompt_hash, fast_row
from detector.ingest.ipnet import ip_prefix
from detector.ingest.normalize import BadRecord, Limits, normalize, prompt_hash
from detector.ingest.parse import parse_batch
from detector.ingest.sources import LineBatch
from detector.ingest.tables import ROW_FIELDS

from .ingest_helpers import BASE, lake_contents, record, write_jsonl

LIMITS = Limits()
NAMES = [f.name for f in ROW_FIELDS]


def reference(rec: object, limits: Limits = LIMITS) -> tuple | str:
    """What the full normaliser makes of ``rec``: a row, or the bad reason."""
    try:
        return normalize(rec, limits, [])  # type: ignore[arg-type]
    except BadRecord as exc:
        return str(exc)
    except Exception as exc:  # noqa: BLE001 - unprocessable in the pipeline
        return f"unprocessable: {type(exc).__name__}"


def assert_equivalent(rec: object, limits: Limits = LIMITS) -> tuple | None:
    try:
        fast = fast_row(rec, limits)  # type: ignore[arg-type]
    except Exception:  # noqa: BLE001 - the pipeline then asks normalize (parse._try_fast)
        fast = None
    if fast is not None:
        ref = reference(rec, limits)
        assert isinstance(ref, tuple), (rec, ref)
        assert len(fast) == len(NAMES)
        for name, a, b in zip(NAMES, fast, ref, strict=True):
            assert a == b and type(a) is type(b), (name, a, b)
    return fast


def test_spec_example_takes_the_fast_path_with_hand_computed_values():
    row = assert_equivalent(record(7))
    assert row is not None
    got = dict(zip(NAMES, row, strict=True))
    assert got["ts"] == 1_795_787_112_123_000  # 2026-11-27T13:45:12.123Z
    assert got["ip_prefix"] == "203.0.113.0/24"
    assert got["prompt_hash"] == hashlib.blake2b(
        b"explain step by step how you would solve: 17 * 23", digest_size=8).hexdigest()
    assert (got["max_tokens"], got["temperature"], got["logprobs"], got["top_logprobs"]) == \
        (4096, 0.7, True, 20)
    assert got["request_json"] == orjson.dumps(BASE["request"]).decode()
    assert got["metadata_json"] is None


#: Shapes seen in real traffic: each must take the fast path (else it gives no speed).
COMMON = [
    {},
    {"timestamp": 1_795_787_112_123},
    {"timestamp": "2026-11-25T18:04:18.488+05:30"},
    {"timestamp": "2026-11-25T18:04:18Z", "response": None, "usage": None},
    {"client_ip": "2a01:cb00:26fc:e513:1995:7c40:51a3:1746"},
    {"request": {"input": "Return JSON with keys name", "max_output_tokens": 300}},
    {"request": {"prompt": "Once upon a time", "max_tokens": 16, "logprobs": 5}},
    {"request": {"messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
                 "reasoning": {"effort": "high"}, "max_completion_tokens": 100}},
    {"request": {"messages": [{"role": "developer", "content": "be brief"},
                              {"role": "user", "content": "a"},
                              {"role": "assistant", "content": None, "tool_calls": []},
                              {"role": "user", "content": "b\n\tc"}],
                 "tools": [{"type": "function"}], "response_format": {"type": "json_object"},
                 "stream": True, "seed": 3, "n": 2, "user": "eu_1"}},
    {"response": {"status": 200, "finish_reason": "length", "output_text": "héllo"}},
    {"usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3,
               "completion_tokens_details": {"reasoning_tokens": 7}}},
    {"usage": {"input_tokens": 1, "output_tokens": 2, "reasoning_tokens": 0}},
    {"metadata": {"team": "x"}, "extra_field": [1, 2]},
    {"latency_ms": 181.2},
    {"request": {"messages": [{"role": "user", "content": "Zoë  says\u00a0hi İ"}]}},
]


@pytest.mark.parametrize("change", COMMON)
def test_common_shapes_take_the_fast_path(change):
    assert assert_equivalent(record(1, **change)) is not None


ODD = [
    {"request_id": ""}, {"request_id": "  "}, {"request_id": 5}, {"request_id": "x" * 1025},
    {"account_id": None}, {"timestamp": None}, {"timestamp": True}, {"timestamp": 1.5e12},
    {"timestamp": "2026-11-27 13:45:12Z"}, {"timestamp": "2026-11-27t13:45:12z"},
    {"timestamp": "2026-11-27T13:45:12"}, {"timestamp": "2026-11-27"},
    {"timestamp": "1795787112123"}, {"timestamp": "2026-02-30T00:00:00Z"},
    {"timestamp": "2026-11-27T13:45:12.1234567Z"}, {"timestamp": "3026-01-01T00:00:00Z"},
    {"timestamp": "9999-12-31T23:59:59-23:59"}, {"timestamp": 2**63},
    {"request": None}, {"request": []}, {"request": {}}, {"request": {"messages": []}},
    {"request": {"messages": "hi"}}, {"request": {"messages": [1, "a", None]}},
    {"request": {"messages": [{"content": "no role"}]}},
    {"request": {"messages": [{"role": "", "content": "x"}, {"role": None, "content": "y"}]}},
    {"request": {"messages": [{"role": 1, "content": "x"}]}},
    {"request": {"messages": [{"type": "message", "content": "x"}]}},
    {"request": {"messages": [{"role": "user", "content": [{"type": "image_url"}, "x",
                                                            [[{"text": {"value": "v"}}]]]}]}},
    {"request": {"prompt": [1, 2, 3]}}, {"request": {"input": [{"type": "input_text",
                                                                "text": "t"}]}},
    {"request": {"messages": [{"role": "user", "content": "x"}], "instructions": "sys"}},
    {"request": {"messages": [{"role": "user", "content": "x"}], "max_tokens": "12",
                 "temperature": "0.5", "top_p": True, "n": 2.0, "logprobs": "true",
                 "top_logprobs": -1, "stream": 1, "seed": 2**70, "reasoning_effort": 3,
                 "response_format": "json", "text": {"format": {"type": "json_schema"}}}},
    {"request": {"messages": [{"role": "user", "content": "x"}], "max_tokens": None,
                 "max_completion_tokens": True, "max_output_tokens": 2**64 - 1,
                 "logprobs": 0, "temperature": float("nan"), "top_p": float("inf")}},
    {"org_id": 3}, {"model": ["m"]}, {"client_ip": ""}, {"client_ip": "010.1.1.1"},
    {"client_ip": "1.2.3.4:80"}, {"client_ip": "::ffff:1.2.3.4"}, {"client_ip": "٣.1.1.1"},
    {"client_ip": "256.1.1.1"}, {"client_ip": "1.2.3"},
    {"latency_ms": True}, {"latency_ms": "5"}, {"latency_ms": float("nan")},
    {"latency_ms": 10**400}, {"latency_ms": 2**64},
    {"response": []}, {"response": {"status": "200", "choices": [{"finish_reason": "stop",
                                                                  "message": {"content": "ab"}}]}},
    {"response": {"status": 5000, "status_code": 201}}, {"response": {"output_text": 3}},
    {"usage": []}, {"usage": {"prompt_tokens": 1.0}}, {"usage": {"prompt_tokens": 1.5}},
    {"usage": {"prompt_tokens": "1"}}, {"usage": {"prompt_tokens": True}},
    {"usage": {"prompt_tokens": None, "input_tokens": 4}},
    {"usage": {"completion_tokens": 2**63}},
    {"usage": {"output_tokens_details": {"reasoning_tokens": "9"}}},
    {"account_created_at": "yesterday"}, {"account_created_at": 1.5},
    {"account_created_at": "2026-11-20T08:00:00"}, {"account_created_at": False},
    {"account_created_at": 1_795_161_600_000},
    {"metadata": "not an object"}, {"metadata": {"_ingest": "user data"}},
]


@pytest.mark.parametrize("change", ODD)
def test_odd_and_bad_records_are_equivalent_or_declined(change):
    assert_equivalent(record(1, **change))


def test_privacy_mode_is_equivalent():
    limits = Limits(redact_bodies=True)
    for change in [{}, *COMMON[5:9]]:
        assert assert_equivalent(record(1, **change), limits) is not None


def test_window_limits_are_honoured():
    narrow = Limits(min_ts_us=0, max_ts_us=1_000_000)
    assert fast_row(record(1), narrow) is None  # out of range: normalize quarantines it
    assert reference(record(1), narrow).startswith("timestamp_out_of_range")


json_scalars = st.none() | st.booleans() | st.integers(-2**65, 2**65) | st.floats() \
    | st.text(max_size=12)
json_values = st.recursive(json_scalars, lambda c: st.lists(c, max_size=3)
                           | st.dictionaries(st.text(max_size=6), c, max_size=3), max_leaves=12)
PARAMS = ["max_tokens", "max_completion_tokens", "max_output_tokens", "temperature", "top_p",
          "n", "logprobs", "top_logprobs", "stream", "seed", "reasoning_effort", "reasoning",
          "response_format", "text", "tools", "functions", "instructions", "prompt", "input"]
TOP = ["request_id", "timestamp", "account_id", "org_id", "client_ip", "response", "usage",
       "latency_ms", "metadata", "account_created_at", "model", "unknown"]
texts = st.text(alphabet=st.sampled_from(list("aZ é\t\n\r\x0b\x0c\x1c\x1f\x85\xa0İΣ\u2028")),
                max_size=12)


@st.composite
def fuzzed_records(draw) -> dict:
    """The spec example with top-level fields, request params and messages fuzzed."""
    rec = copy.deepcopy(BASE)
    for key in draw(st.lists(st.sampled_from(TOP), max_size=3)):
        if draw(st.booleans()):
            rec[key] = draw(json_values)
        else:
            rec.pop(key, None)
    req = rec["request"] if isinstance(rec.get("request"), dict) else {}
    for key in draw(st.lists(st.sampled_from(PARAMS), max_size=4)):
        req[key] = draw(json_values)
    if draw(st.booleans()):
        req["messages"] = draw(st.lists(st.fixed_dictionaries(
            {"role": st.sampled_from(["user", "system", "developer", "assistant", "", 1]),
             "content": texts | json_values}), max_size=3))
    if draw(st.booleans()):
        rec["usage"] = draw(st.dictionaries(
            st.sampled_from(["prompt_tokens", "input_tokens", "completion_tokens",
                             "output_tokens", "reasoning_tokens", "completion_tokens_details"]),
            json_scalars | st.dictionaries(st.just("reasoning_tokens"), json_scalars),
            max_size=3))
    if draw(st.booleans()):
        rec["timestamp"] = draw(st.sampled_from([
            "2026-11-27T13:45:12.1Z", "2026-11-27T13:45:12+14:00", "2026-13-01T00:00:00Z",
            "2026-11-27T13:45:12.123456-00:30", 1_795_787_112_123, -5, 2**64 - 1]))
    if draw(st.booleans()):
        rec["client_ip"] = draw(st.sampled_from(["1.2.3.4", "01.2.3.4", "1.2.3.255", "::1",
                                                 "1.2.3.4.5", " 1.2.3.4", "fe80::1%eth0"]))
    return rec


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fuzzed_records())
def test_fuzzed_records_are_equivalent(rec):
    assert_equivalent(rec)


@settings(max_examples=300, deadline=None)
@given(texts | st.text(max_size=40))
def test_fast_prompt_hash_equals_prompt_hash(text):
    assert fast_prompt_hash(text) == prompt_hash(text)


@pytest.mark.parametrize("text", ["", " ", "a  b", " a", "a ", "a\x1cb", "A\tB\nC",
                                  "x\x00y", "hello world", "İstanbul", "a\u2028b", "a\x85b"])
def test_fast_prompt_hash_edge_cases(text):
    assert fast_prompt_hash(text) == prompt_hash(text)


@pytest.mark.parametrize("ip", ["203.0.113.7", "0.0.0.0", "255.255.255.255", "256.0.0.1",
                                "01.2.3.4", "1.2.3", "1.2.3.4.5", "2001:db8::1",
                                "203.0.113.7:443", "x", "1.2.3.04"])
def test_cached_ip_prefix_equals_ip_prefix(ip):
    assert cached_ip_prefix(ip) == ip_prefix(ip)
    assert cached_ip_prefix(ip) == ip_prefix(ip)  # second call: from the cache


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(["10.1.2", "192.168.0", "1.2.3", "01.2.3", "1.2", "a.b.c",
                                 "2001:db8::1", "256.1.1", "1.2.3.4"]), min_size=1, max_size=6),
       st.lists(st.sampled_from(["0", "7", "255", "256", "04", "", " 1", "1:443", "٣", "x"]),
                min_size=1, max_size=6))
def test_cached_ip_prefix_after_its_head_is_cached(heads, lasts):
    """A /24 head cached as valid must not make an invalid address look valid."""
    for head in heads:
        for last in lasts:
            ip = f"{head}.{last}"
            assert cached_ip_prefix(ip) == ip_prefix(ip), ip


def hostile_lines() -> list[bytes]:
    """Every hostile case of the ingest tests, plus common shapes, as raw lines."""
    good = [json.dumps(record(i, **c), ensure_ascii=False).encode("utf-8", "surrogatepass")
            for i, c in enumerate(COMMON + ODD)]  # NaN, 2**70... make some lines invalid
    surrogate = json.dumps(record(900, request={"messages": [
        {"role": "user", "content": "a\ud800b"}]})).encode("utf-8", "surrogatepass")
    return [
        *good,
        good[0],  # a duplicate line
        b'{"request_id": "x", oops}',
        orjson.dumps(record(901)).replace(b"Explain", b"Expl\xff\xfein"),
        surrogate,
        orjson.dumps(record(902)).replace(b"Explain", b"Expl\x00ain"),
        b"\xef\xbb\xbf" + orjson.dumps(record(903)),
        orjson.dumps(record(904)) + b"\r",
        b"  " + orjson.dumps(record(905)) + b"\x0c",
        b"", b"   ", b"\x00" * 8, b"[1,2]", b"42", b'"s"', b"null", b"1e400",
        b'{"request_id":"r","a":' + b"[" * 2000 + b"]" * 2000 + b"}",
        b'{"a":1,"a":2}',
        orjson.dumps(record(906))[:-1] + b',"request_id":"dup-key"}',
        orjson.dumps(record(907))[:40],  # truncated last line
    ]


def _batch_fields(parsed) -> tuple:
    return (parsed.rows, parsed.row_lines, parsed.bad_lines, parsed.bad_raw, parsed.bad_reasons)


@pytest.mark.parametrize("unterminated", [False, True])
def test_parse_batch_is_identical_with_and_without_fast_path(monkeypatch, unterminated):
    lines = hostile_lines()
    batch = LineBatch(lines, 1, 0, too_long={3: 99}, unterminated=unterminated)
    fast = parse_batch(batch, LIMITS)
    monkeypatch.setattr(parse_mod, "FAST_PATH", False)
    slow = parse_batch(batch, LIMITS)
    assert _batch_fields(fast) == _batch_fields(slow)
    assert fast.read == len(lines) and len(slow.rows) > len(COMMON)


def test_ingest_end_to_end_is_identical_with_and_without_fast_path(tmp_path, monkeypatch):
    from detector.settings import load_settings

    lines = hostile_lines()
    path = write_jsonl(tmp_path / "mixed.jsonl", lines)
    fast_home = load_settings(tmp_path / "fast")
    fast = ingest_paths(fast_home, [path], progress=False, workers=1)
    monkeypatch.setattr(parse_mod, "FAST_PATH", False)
    slow_home = load_settings(tmp_path / "slow")
    slow = ingest_paths(slow_home, [path], progress=False, workers=1)
    counts = (fast.read, fast.accepted, fast.duplicates, fast.quarantined)
    assert counts == (slow.read, slow.accepted, slow.duplicates, slow.quarantined)
    assert fast.read == len(lines) and fast.duplicates >= 1 and fast.quarantined >= 10
    fast_rows, fast_bad = lake_contents(fast_home)
    slow_rows, slow_bad = lake_contents(slow_home)
    assert fast_rows == slow_rows and fast_bad == slow_bad
    assert len(fast_rows) == fast.accepted


def test_nan_from_an_adapter_dict_matches_normalize():
    rec = record(1, latency_ms=float("nan"),
                 request={"messages": [{"role": "user", "content": "x"}],
                          "temperature": float("inf")})
    row = assert_equivalent(rec)
    assert row is not None and row[NAMES.index("latency_ms")] is None
    assert math.isnan(float("nan"))  # sanity: the value really was NaN going in
