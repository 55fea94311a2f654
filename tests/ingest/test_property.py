"""Property-based fuzzing of the record parser: it never raises, and every record read is
either a row or a bad record, so read = accepted + duplicates + quarantined always holds."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from detector.ingest.normalize import Limits
from detector.ingest.parse import parse_batch, parse_line
from detector.ingest.sources import LineBatch
from detector.ingest.tables import ROW_FIELDS, rows_to_table

from .ingest_helpers import record

LIMITS = Limits()
json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
json_values = st.recursive(json_scalars, lambda c: st.lists(c, max_size=4)
                           | st.dictionaries(st.text(max_size=8), c, max_size=4), max_leaves=20)
FIELDS = ["request_id", "timestamp", "account_id", "client_ip", "request", "response", "usage",
          "latency_ms", "metadata", "account_created_at", "model"]


@st.composite
def mutated_records(draw) -> bytes:
    """The spec example with some fields replaced by arbitrary JSON, deleted or kept."""
    rec = record(draw(st.integers(0, 50)))
    for key in draw(st.lists(st.sampled_from(FIELDS), max_size=4)):
        if draw(st.booleans()):
            rec[key] = draw(json_values)
        else:
            rec.pop(key, None)
    if draw(st.booleans()):
        rec["request"] = {"messages": draw(st.lists(
            st.fixed_dictionaries({"role": st.sampled_from(["user", "system", "x", 1]),
                                   "content": json_values}), max_size=3))}
    raw = json.dumps(rec).encode("utf-8", "surrogatepass")
    cut = draw(st.integers(0, len(raw) + 5))
    return raw[:cut] if draw(st.integers(0, 9)) == 0 else raw


lines = st.binary(max_size=200) | mutated_records() | json_values.map(
    lambda v: json.dumps(v).encode())


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(lines, min_size=1, max_size=8), st.booleans())
def test_parser_never_raises_and_accounts_for_every_record(batch_lines, unterminated):
    batch = LineBatch(list(batch_lines), 1, 0, unterminated=unterminated)
    parsed = parse_batch(batch, LIMITS)
    assert parsed.read == len(batch_lines)  # one record per native line
    assert len(parsed.rows) + len(parsed.bad_raw) == parsed.read
    # every row fits the canonical schema (arrow would raise otherwise)
    table = rows_to_table(parsed.rows, parsed.row_lines, "f", "i")
    assert table.num_rows == len(parsed.rows)
    for raw, reason in zip(parsed.bad_raw, parsed.bad_reasons, strict=True):
        assert raw in batch_lines and reason.split(":")[0].isidentifier()


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=300))
def test_parse_line_on_arbitrary_bytes(raw):
    out = parse_line(raw, LIMITS)
    assert len(out) == 1
    _, result = out[0]
    assert isinstance(result, str) or len(result) == len(ROW_FIELDS)
