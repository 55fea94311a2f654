"""Format detection reads structure, never prompt text; a file in the wrong format is refused.

Regression for a native day file detected as LiteLLM because a prompt held ``startTime`` (every
record quarantined, exit 0), and for CSV read as JSON Lines (every row ``invalid_json``).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from detector.errors import InputError
from detector.ingest import ingest_paths
from detector.ingest.formats import detect
from detector.ingest.readable import CHECK_RECORDS, MIN_RECORDS, structural_reason
from detector.ingest.sample import sample
from detector.lake.db import connect

from .ingest_helpers import record, write_jsonl

FIXTURES = Path(__file__).parent.parent / "fixtures" / "ingest"

#: Text that other formats' old byte sniffers keyed on, and whole records of other formats.
MARKERS = [
    "val startTime = System.currentTimeMillis()  // request_id, api_key_id, spend",
    '{"request_id": "x", "startTime": "2026-01-01", "spend": 0.1, "api_key": "k"}',
    '{"custom_id": "r1", "method": "POST", "url": "/v1/chat/completions", "body": {}}',
    '{"id": "batch_req_1", "custom_id": "r1", "response": {"status_code": 200}}',
    '{"resourceSpans": [{"scopeSpans": []}]}',
    '{"schemaType": "ModelInvocationLog", "accountId": "1", "requestId": "r"}',
    '{"resourceLogs": [], "traceId": "t", "observations": [], "usageDetails": {}}',
    "request_id,startTime,spend,api_key\nchatcmpl-1,2026-01-01,0.1,k",
]


def _native_with_markers(path: Path, n: int = 60) -> Path:
    recs = []
    for i in range(n):
        prompt = MARKERS[i % len(MARKERS)]
        recs.append(record(i, request={"messages": [{"role": "user", "content": prompt}]}))
    return write_jsonl(path, recs)


def _lake_counts(home) -> tuple[int, int]:
    con = connect(home)
    try:
        return (con.execute("SELECT count(*) FROM requests").fetchone()[0],
                con.execute("SELECT count(*) FROM quarantine").fetchone()[0])
    except Exception:  # noqa: BLE001 - no table yet: nothing was written
        return (0, 0)


@pytest.mark.parametrize("first", range(len(MARKERS)))
def test_prompts_with_other_formats_markers_stay_native(home, tmp_path, first):
    # every marker first in the file (where byte sniffers looked), then all of them
    path = tmp_path / "day.jsonl"
    recs = [record(i, request={"messages": [{"role": "user", "content": MARKERS[
        (first + i) % len(MARKERS)]}]}) for i in range(40)]
    write_jsonl(path, recs)
    assert detect(path) == "native"
    res = ingest_paths(home, [path], progress=False, workers=1)
    assert (res.read, res.accepted, res.quarantined) == (40, 40, 0)


def test_prompt_that_is_a_whole_litellm_export_stays_native(home, tmp_path):
    litellm_doc = (FIXTURES / "litellm_spend_logs.json").read_text()
    path = write_jsonl(tmp_path / "d.jsonl", [
        record(i, request={"messages": [{"role": "user", "content": litellm_doc}]},
               metadata={"startTime": "x", "spend": 1, "custom_id": "c"})
        for i in range(12)])
    assert detect(path) == "native"
    assert ingest_paths(home, [path], progress=False, workers=1).accepted == 12


def test_compressed_native_file_with_markers(home, tmp_path):
    import gzip

    plain = _native_with_markers(tmp_path / "p.jsonl")
    gz = tmp_path / "p.jsonl.gz"
    gz.write_bytes(gzip.compress(plain.read_bytes()))
    plain.unlink()
    assert detect(gz) == "native"
    assert ingest_paths(home, [gz], progress=False, workers=1).quarantined == 0


def test_adapter_fixtures_are_still_detected():
    assert detect(FIXTURES / "litellm_spend_logs.json") == "litellm"
    assert detect(FIXTURES / "litellm_spend_logs.csv") == "litellm"
    assert detect(FIXTURES / "otel_genai_spans.jsonl") == "otel"
    assert detect(FIXTURES / "openai_batch" / "batch_abc123_output.jsonl") == "openai-batch"
    assert detect(FIXTURES / "openai_batch" / "batch_abc123_input.jsonl") == "openai-batch"
    assert detect(FIXTURES / "mapped" / "requests.csv") == "mapped"


def test_containers_are_judged_by_content_not_name(tmp_path):
    csv_named_jsonl = tmp_path / "rows.jsonl"
    shutil.copy(FIXTURES / "litellm_spend_logs.csv", csv_named_jsonl)
    assert sample(csv_named_jsonl).container == "csv"
    assert detect(csv_named_jsonl) == "litellm"
    tsv = tmp_path / "rows.txt"
    tsv.write_text("request_id\tstartTime\tspend\nr1\t2026-11-27T00:00:00Z\t0.1\n")
    assert sample(tsv).container == "tsv"
    json_named_csv = tmp_path / "x.csv"
    shutil.copy(FIXTURES / "litellm_spend_logs.json", json_named_csv)
    assert sample(json_named_csv).container == "json-array"


def test_csv_matching_no_format_is_a_usage_error(home, tmp_path):
    path = tmp_path / "export.csv"
    path.write_text("when,customer,question\n" + "".join(
        f"2026-11-27T10:00:0{i}Z,c{i},what is {i}?\n" for i in range(9)))
    with pytest.raises(InputError) as exc:
        ingest_paths(home, [path], progress=False, workers=1)
    msg = str(exc.value)
    assert str(path) in msg and "when, customer, question" in msg and "mapping" in msg
    assert _lake_counts(home) == (0, 0)


def test_csv_forced_as_native_is_unreadable_and_nothing_is_committed(home, tmp_path):
    good = _native_with_markers(tmp_path / "a_good.jsonl", 30)
    csv_file = tmp_path / "b.csv"
    shutil.copy(FIXTURES / "mapped" / "requests.csv", csv_file)
    rows = csv_file.read_text().splitlines()
    csv_file.write_text("\n".join(rows + rows[1:] * 10) + "\n")  # enough rows to judge
    with pytest.raises(InputError) as exc:
        ingest_paths(home, [good, csv_file], fmt="native", progress=False, workers=1)
    assert "b.csv: not native input" in str(exc.value) and "invalid_json" in str(exc.value)
    assert _lake_counts(home) == (0, 0)  # not even the good file of the same command


def test_litellm_forced_as_native_names_the_missing_field(home, tmp_path):
    rows = orjson.loads((FIXTURES / "litellm_spend_logs.json").read_bytes())
    path = write_jsonl(tmp_path / "l.jsonl", [dict(r, request_id=f"r{i}-{j}")
                                              for j in range(6) for i, r in enumerate(rows)])
    with pytest.raises(InputError, match="missing_field: account_id"):
        ingest_paths(home, [path], fmt="native", progress=False, workers=1)


def test_mostly_invalid_lines_are_unreadable_but_bad_values_are_quarantined(home, tmp_path):
    garbage = write_jsonl(tmp_path / "g.jsonl", [record(0)] + [b"not json %d" % i
                                                               for i in range(MIN_RECORDS)])
    with pytest.raises(InputError, match=r"g\.jsonl: not native input: 10 of its first 11"):
        ingest_paths(home, [garbage], progress=False, workers=1)
    # bad values (not structure) in most records: readable, each quarantined and counted
    bad_ts = write_jsonl(tmp_path / "t.jsonl", [record(i, timestamp="27/11/2026 13:45")
                                                for i in range(20)] + [record(99)])
    res = ingest_paths(home, [bad_ts], progress=False, workers=1)
    assert (res.accepted, res.quarantined) == (1, 20)


def test_small_files_are_judged_record_by_record(home, tmp_path):
    path = write_jsonl(tmp_path / "s.jsonl", [b"oops"] * (MIN_RECORDS - 1))
    res = ingest_paths(home, [path], progress=False, workers=1)
    assert (res.read, res.quarantined) == (MIN_RECORDS - 1, MIN_RECORDS - 1)


def test_half_bad_is_still_readable(home, tmp_path):
    recs: list = []
    for i in range(20):
        recs += [record(i), b"{broken"]
    res = ingest_paths(home, [write_jsonl(tmp_path / "h.jsonl", recs)], progress=False, workers=1)
    assert (res.accepted, res.quarantined) == (20, 20)


def test_only_the_first_records_are_judged(home, tmp_path):
    recs: list = [record(i) for i in range(CHECK_RECORDS)] + [b"x"] * (CHECK_RECORDS + 5)
    res = ingest_paths(home, [write_jsonl(tmp_path / "late.jsonl", recs)], progress=False,
                       workers=1)
    assert (res.accepted, res.quarantined) == (CHECK_RECORDS, CHECK_RECORDS + 5)


def test_native_records_in_a_json_array_are_read(home, tmp_path):
    path = tmp_path / "day.json"
    path.write_bytes(orjson.dumps([record(i) for i in range(15)]))
    assert sample(path).container == "json-array" and detect(path) == "native"
    res = ingest_paths(home, [path], progress=False, workers=1)
    assert (res.accepted, res.quarantined) == (15, 0)


@pytest.mark.parametrize("reason,key", [
    ("invalid_json: unexpected character", "invalid_json"),
    ("missing_field: account_id", "missing_field: account_id"),
    ("wrong_type: usage.prompt_tokens: expected integer, got 'x'", "wrong_type: usage.prompt_tokens"),
    ("bad_timestamp: '27/11'", None),
    ("truncated_last_line: invalid_json: x", None),
    ("empty_line", None),
])
def test_structural_reasons(reason, key):
    assert structural_reason(reason) == key


def test_cli_exits_2_with_one_line(tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text("a,b\n" + "1,2\n" * 20)
    exe = Path(sys.executable).parent / "detector"
    proc = subprocess.run([str(exe), "--home", str(tmp_path / "h"), "ingest", str(path),
                           "--format", "native", "--json"], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "rows.csv: not native input" in lines[0]
