"""OpenAI Batch API adapter: input and output JSONL (fixtures written from the Batch API docs)
paired by custom_id; batch files carry no account and the time is the response's ``created``."""

from __future__ import annotations

import shutil
from pathlib import Path

import orjson
import pytest

from detector.errors import InputError
from detector.ingest import ingest_paths
from detector.ingest.adapters.openai_batch import map_pair
from detector.ingest.formats import detect
from detector.lake.db import connect

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "ingest" / "openai_batch"
INPUT, OUTPUT = "batch_abc123_input.jsonl", "batch_abc123_output.jsonl"


def rows(home) -> list[dict]:
    cur = connect(home).execute("SELECT * FROM requests ORDER BY request_id")
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def reasons(home, name: str = "") -> list[str]:
    """Quarantine reasons of files whose path ends with ``name``, in line order."""
    return [r[0] for r in connect(home).execute(
        "SELECT reason FROM quarantine WHERE source_file LIKE ? ORDER BY source_line",
        [f"%{name}"]).fetchall()]


def ingest(home, *paths: Path, fmt: str = "auto"):
    res = ingest_paths(home, list(paths), fmt=fmt, progress=False, workers=1)
    assert res.read == res.accepted + res.duplicates + res.quarantined
    return res


def copy(tmp_path: Path, names: dict[str, str]) -> Path:
    """Copy fixtures into tmp_path under new names; returns the folder."""
    for src, dst in names.items():
        shutil.copy(FIX / src, tmp_path / dst)
    return tmp_path


@pytest.mark.parametrize("name", [INPUT, OUTPUT])
def test_both_files_are_detected(name):
    assert detect(FIX / name) == "openai-batch"


def test_output_file_pairs_with_its_input(home):
    res = ingest(home, FIX / OUTPUT)
    assert (res.read, res.accepted, res.quarantined) == (3, 2, 1)
    four, one = rows(home)  # "batch:..." sorts before "req_123"
    assert one["request_id"] == "req_123" and one["account_id"] == "batch_abc123"
    assert str(one["ts"]) == "2024-03-28 19:06:35+00:00"  # created 1711652795 s
    assert (one["prompt_text"], one["system_prompt"]) == ("Hello world!",
                                                          "You are a helpful assistant.")
    assert (one["endpoint"], one["model"], one["max_tokens"]) == (
        "/v1/chat/completions", "gpt-3.5-turbo-0125", 1000)
    assert (one["status"], one["finish_reason"], one["output_chars"]) == (200, "stop", 6)
    assert (one["prompt_tokens"], one["completion_tokens"]) == (22, 2)
    assert one["client_ip"] is None and one["org_id"] is None and one["latency_ms"] is None
    meta = orjson.loads(one["metadata_json"])
    assert meta["custom_id"] == "request-1" and meta["batch_request_id"] == "batch_req_123"
    # an output line without its input: a record with request fields null, empty request_id
    # in the response -> the documented fallback id
    assert four["request_id"] == f"batch:{OUTPUT}:request-4"
    assert four["prompt_text"] == "" and four["endpoint"] is None and four["max_tokens"] is None
    assert (four["model"], four["finish_reason"], four["completion_tokens"]) == (
        "gpt-3.5-turbo-0125", "length", 1)
    [reason] = reasons(home)
    assert reason.startswith("missing_field: timestamp") and "request-2" in reason


def test_input_file_after_output_adds_only_quarantine(home):
    ingest(home, FIX / OUTPUT)
    res = ingest(home, FIX / INPUT)
    # request-1 was accepted from the output file; request-2 (expired) and request-3 (no
    # output line) have no time at all
    assert (res.read, res.accepted, res.duplicates, res.quarantined) == (3, 0, 1, 2)
    expired, unanswered = reasons(home, INPUT)
    assert "request-2" in expired and "no response.body.created" in expired
    assert "request-3" in unanswered and "no output line" in unanswered


def test_no_account_anywhere_is_quarantined(home, tmp_path):
    d = copy(tmp_path, {INPUT: "run7_input.jsonl", OUTPUT: "run7_output.jsonl"})
    res = ingest(home, d / "run7_output.jsonl")
    assert (res.accepted, res.quarantined) == (0, 3)
    assert sum(r.startswith("missing_field: account_id") for r in reasons(home)) == 2


def test_sidecar_names_account_and_partner(home, tmp_path):
    d = copy(tmp_path, {INPUT: "prompts.jsonl", OUTPUT: "results.jsonl"})
    (d / "batch.toml").write_text('account_id = "acct_9"\ninput = "prompts.jsonl"\n')
    res = ingest(home, d / "results.jsonl", fmt="openai-batch")
    assert res.accepted == 2
    one = rows(home)[1]
    assert (one["account_id"], one["prompt_text"]) == ("acct_9", "Hello world!")


def test_sidecar_naming_a_missing_partner_is_an_input_error(home, tmp_path):
    d = copy(tmp_path, {OUTPUT: "results.jsonl"})
    (d / "batch.toml").write_text('input = "gone.jsonl"\n')
    with pytest.raises(InputError, match="gone.jsonl"):
        ingest_paths(home, [d / "results.jsonl"], fmt="openai-batch", progress=False, workers=1)


def test_map_pair_invents_nothing():
    inp = {"custom_id": "c", "method": "POST", "url": "/v1/chat/completions",
           "body": {"model": "m", "messages": []}}
    out = {"id": "batch_req_1", "custom_id": "c", "error": None, "response": {
        "status_code": 200, "body": {"created": 1711652795, "choices": []}}}
    rec = map_pair(inp, out, "acct", "f.jsonl")
    assert rec == {"request_id": "batch:f.jsonl:c", "timestamp": 1711652795000.0,
                   "account_id": "acct", "endpoint": "/v1/chat/completions", "model": "m",
                   "request": {"model": "m", "messages": []},
                   "response": {"status": 200, "choices": []},
                   "metadata": {"custom_id": "c", "batch_request_id": "batch_req_1",
                                "method": "POST"}}


def test_account_id_option_fills_the_account_batch_files_lack(home, tmp_path):
    d = copy(tmp_path, {INPUT: "run7_input.jsonl", OUTPUT: "run7_output.jsonl"})
    res = ingest_paths(home, [d / "run7_output.jsonl"], progress=False, workers=1,
                       account_id="acct_cli")
    assert (res.accepted, res.quarantined) == (2, 1)  # the third has no output line
    assert {r["account_id"] for r in rows(home)} == {"acct_cli"}


def test_account_id_option_wins_over_sidecar_and_file_name(home, tmp_path):
    d = copy(tmp_path, {INPUT: INPUT, OUTPUT: OUTPUT})
    (d / "batch.toml").write_text('account_id = "acct_9"\n')
    res = ingest_paths(home, [d / OUTPUT], fmt="openai-batch", progress=False, workers=1,
                       account_id="acct_cli")
    assert res.accepted == 2 and {r["account_id"] for r in rows(home)} == {"acct_cli"}


def test_account_id_option_for_files_that_carry_accounts_is_an_input_error(home, tmp_path):
    native = tmp_path / "a.jsonl"
    native.write_bytes(orjson.dumps({"request_id": "r", "account_id": "a"}) + b"\n")
    with pytest.raises(InputError, match="--account-id"):
        ingest_paths(home, [native], progress=False, workers=1, account_id="acct_cli")
    d = copy(tmp_path, {OUTPUT: OUTPUT})
    with pytest.raises(InputError, match="--account-id"):
        ingest_paths(home, [d / OUTPUT], progress=False, workers=1, account_id="  ")


def test_cli_account_id_option(tmp_path):
    from typer.testing import CliRunner

    from detector.cli.main import app

    d = copy(tmp_path, {INPUT: "run7_input.jsonl", OUTPUT: "run7_output.jsonl"})
    res = CliRunner().invoke(app, ["--home", str(tmp_path / "h"), "ingest",
                                   str(d / "run7_output.jsonl"), "--account-id", "acct_cli",
                                   "--json"])
    assert res.exit_code == 0, res.stderr
    out = orjson.loads(res.stdout)
    assert (out["accepted"], out["quarantined"]) == (2, 1)
    res = CliRunner().invoke(app, ["--home", str(tmp_path / "h"), "ingest", str(FIX),
                                   "--format", "native", "--account-id", "x"])
    assert res.exit_code == 2 and "--account-id" in res.stderr
