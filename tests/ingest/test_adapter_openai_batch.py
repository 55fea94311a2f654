"""OpenAI Batch API adapter: input, output and error JSONL (fixtures written from the Batch API
docs) paired by custom_id across all files of one command; batch files carry no account (never
made up) and the time is the response's ``created``, else the batch's time."""

from __future__ import annotations

import shutil
from pathlib import Path

import orjson
import pytest

from detector.errors import InputError
from detector.ingest import ingest_paths
from detector.ingest.adapters.openai_batch import map_pair, records_for
from detector.ingest.formats import detect
from detector.ingest.normalize import Limits
from detector.ingest.parse import parse_line
from detector.lake.db import connect
from detector.lake.schema import COLUMNS

from .ingest_helpers import check_counts

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "ingest" / "openai_batch"
INPUT, OUTPUT = "batch_abc123_input.jsonl", "batch_abc123_output.jsonl"
# named as OpenAI names them: batchinput.jsonl, batch_<id>_output.jsonl, batch_<id>_error.jsonl
NAMED = FIX / "named"
N_IN, N_OUT, N_ERR, N_OBJ = ("batchinput.jsonl", "batch_6791e2c4_output.jsonl",
                             "batch_6791e2c4_error.jsonl", "batch_6791e2c4.json")
NAMES = [c[0] for c in COLUMNS]
PROMPTS = {"request-1": "Hello world!", "request-2": "Explain step by step: 17 * 23",
           "request-3": "Translate to French: good morning",
           "request-4": "Name three prime numbers.", "request-5": "Summarise: the quick brown fox"}


def rows(home) -> list[dict]:
    cur = connect(home).execute("SELECT * FROM requests ORDER BY request_id")
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def by_custom_id(home) -> dict[str, dict]:
    return {orjson.loads(r["metadata_json"])["custom_id"]: r for r in rows(home)}


def reasons(home, name: str = "") -> list[str]:
    """Quarantine reasons of files whose path ends with ``name``, in line order."""
    return [r[0] for r in connect(home).execute(
        "SELECT reason FROM quarantine WHERE source_file LIKE ? ORDER BY source_line",
        [f"%{name}"]).fetchall()]


def ingest(home, *paths: Path, fmt: str = "auto", account_id: str | None = None, workers=1):
    res = ingest_paths(home, list(paths), fmt=fmt, progress=False, workers=workers,
                       account_id=account_id)
    return check_counts(res)


def copy(tmp_path: Path, names: dict[str, str], src: Path = FIX) -> Path:
    """Copy fixtures into tmp_path under new names; returns the folder."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    for a, b in names.items():
        shutil.copy(src / a, tmp_path / b)
    return tmp_path


def named(tmp_path: Path, *names: str) -> list[Path]:
    copy(tmp_path, {n: n for n in names}, NAMED)
    return [tmp_path / n for n in names]


@pytest.mark.parametrize("name", [INPUT, OUTPUT, f"named/{N_IN}", f"named/{N_OUT}",
                                  f"named/{N_ERR}", f"named/{N_OBJ}"])
def test_every_batch_file_is_detected(name):
    assert detect(FIX / name) == "openai-batch"


# --- defect: files named as OpenAI names them, given together, were not paired ----------------

@pytest.mark.parametrize("order", [(N_IN, N_OUT, N_ERR), (N_ERR, N_OUT, N_IN)])
def test_named_files_given_together_pair_by_custom_id(home, tmp_path, order):
    files = named(tmp_path, *order)
    res = ingest(home, *files, account_id="acct_cli")
    # 5 inputs, 3 outputs, 2 error lines: every custom_id paired, nothing quarantined
    assert (res.read, res.accepted, res.duplicates, res.quarantined) == (10, 5, 5, 0)
    got = by_custom_id(home)
    assert {c: r["prompt_text"] for c, r in got.items()} == PROMPTS
    assert {r["account_id"] for r in got.values()} == {"acct_cli"}
    one = got["request-1"]
    assert (one["request_id"], one["system_prompt"], one["max_tokens"]) == (
        "req_1b2c3d", "You are a helpful assistant.", 1000)
    assert (one["status"], one["finish_reason"], one["completion_tokens"]) == (200, "stop", 7)
    assert str(one["ts"]) == "2024-03-26 17:44:14+00:00"  # created 1711475054


def test_pairing_is_the_same_in_a_worker_pool(home, tmp_path):
    files = named(tmp_path, N_OUT, N_ERR, N_IN)
    res = ingest(home, *files, account_id="acct_cli", workers=2)
    assert (res.accepted, res.quarantined) == (5, 0)
    assert {c: r["prompt_text"] for c, r in by_custom_id(home).items()} == PROMPTS


# --- defect: error lines were quarantined as missing_field: timestamp -------------------------

def test_error_lines_become_failed_requests_with_their_code(home, tmp_path):
    files = named(tmp_path, N_IN, N_OUT, N_ERR)
    ingest(home, *files, account_id="acct_cli")
    got = by_custom_id(home)
    expired, missing = got["request-2"], got["request-5"]
    assert expired["status"] is None  # no HTTP response at all: no status invented
    assert orjson.loads(expired["response_json"])["error"]["code"] == "batch_expired"
    meta = orjson.loads(expired["metadata_json"])
    assert meta["error_code"] == "batch_expired" and meta["batch_id"] == "batch_6791e2c4"
    # no time of its own: the earliest output line of the same batch (request-1, 1711475054)
    assert meta["timestamp_source"] == "earliest output line of the batch"
    assert str(expired["ts"]) == "2024-03-26 17:44:14+00:00"
    assert expired["request_id"] == "batch:batch_6791e2c4:request-2"
    assert (missing["status"], missing["request_id"]) == (404, "req_5e6f70")
    assert orjson.loads(missing["metadata_json"])["error_code"] == "model_not_found"
    assert missing["model"] == "gpt-4o-mini-typo" and missing["completion_tokens"] is None


def test_batch_object_gives_time_and_account(home, tmp_path):
    files = named(tmp_path, N_IN, N_OUT, N_ERR, N_OBJ)
    res = ingest(home, *files)  # no --account-id: the Batch object's metadata.account_id
    assert (res.read, res.accepted, res.quarantined) == (10, 5, 0)  # the object is no request
    got = by_custom_id(home)
    assert {r["account_id"] for r in got.values()} == {"acct_0042"}
    meta = orjson.loads(got["request-2"]["metadata_json"])
    assert meta["timestamp_source"] == "batch object created_at"
    assert str(got["request-2"]["ts"]) == "2024-03-26 16:45:33+00:00"  # created_at 1711471533


def test_batch_object_beside_the_files_is_found_by_batch_id(home, tmp_path):
    named(tmp_path, N_OBJ)
    files = named(tmp_path, N_IN, N_OUT, N_ERR)
    res = ingest(home, *files)
    assert res.accepted == 5 and {r["account_id"] for r in rows(home)} == {"acct_0042"}


def test_sidecar_created_at_for_an_error_file_alone(home, tmp_path):
    [err] = named(tmp_path, N_ERR)
    (tmp_path / "batch.toml").write_text('account_id = "acct_9"\ncreated_at = '
                                         '"2024-03-26T16:45:33Z"\n')
    res = ingest(home, err)
    assert (res.accepted, res.quarantined) == (2, 0)
    assert {str(r["ts"]) for r in rows(home)} == {"2024-03-26 16:45:33+00:00"}
    assert {orjson.loads(r["metadata_json"])["timestamp_source"] for r in rows(home)} == {
        "sidecar created_at"}


def test_error_line_without_any_time_is_quarantined_with_a_reason(home, tmp_path):
    [err] = named(tmp_path, N_ERR)
    res = ingest(home, err, account_id="acct_cli")
    assert (res.accepted, res.quarantined) == (0, 2)
    for r in reasons(home):
        assert r.startswith("missing_field: timestamp") and "created_at" in r


# --- defect: outputs were accepted under a made-up account (batch_<id>) -----------------------

def test_no_account_anywhere_refuses_the_files(home, tmp_path):
    files = named(tmp_path, N_IN, N_OUT, N_ERR)
    with pytest.raises(InputError, match="--account-id"):
        ingest(home, *files)
    assert not (home.requests_dir.exists() and any(home.requests_dir.rglob("*.parquet")))


def test_no_account_is_never_the_batch_id(home, tmp_path):
    d = copy(tmp_path, {INPUT: INPUT, OUTPUT: OUTPUT})
    with pytest.raises(InputError, match="--account-id"):
        ingest(home, d / OUTPUT)


def test_cli_refuses_without_account_with_exit_2(tmp_path):
    from typer.testing import CliRunner

    from detector.cli.main import app

    files = named(tmp_path, N_IN, N_OUT)
    res = CliRunner().invoke(app, ["--home", str(tmp_path / "h"), "ingest",
                                   *map(str, files)])
    assert res.exit_code == 2 and "--account-id" in res.stderr


# --- defect: irreversible loss of prompts across deliveries ------------------------------------

def test_input_first_alone_then_output_with_it_stores_the_prompts(home, tmp_path):
    (tmp_path / "a").mkdir()
    [inp] = named(tmp_path / "a", N_IN)
    res = ingest(home, inp, account_id="acct_cli")
    assert (res.accepted, res.quarantined) == (0, 5)  # no result line: no time, nothing stored
    assert all("no output or error line" in r for r in reasons(home))
    out, err = named(tmp_path / "a", N_OUT, N_ERR)
    res = ingest(home, inp, out, err, account_id="acct_cli")  # the input is a redelivery
    assert (res.accepted, res.quarantined) == (5, 5)
    assert {c: r["prompt_text"] for c, r in by_custom_id(home).items()} == PROMPTS


def test_redelivered_result_under_another_name_is_a_duplicate(home, tmp_path):
    files = named(tmp_path, N_IN, N_OUT, N_ERR)
    ingest(home, *files, account_id="acct_cli")
    again = tmp_path / "batch_6791e2c4_error (1).jsonl"
    shutil.copy(tmp_path / N_ERR, again)
    with again.open("ab") as fh:
        fh.write(b"\n")  # a different file (sha256): read again, its records are duplicates
    res = ingest(home, tmp_path / N_IN, again, account_id="acct_cli")
    # the input is a redelivery (5 duplicates); the error lines find their batch's output
    # file beside them (same batch id) for their time: duplicates too, nothing quarantined
    assert (res.accepted, res.duplicates, res.quarantined) == (0, 7, 1)  # 1: the blank line


def test_two_batches_reusing_custom_ids_pair_within_their_batch(home, tmp_path):
    copy(tmp_path, {INPUT: "batch_aaa_input.jsonl", OUTPUT: "batch_aaa_output.jsonl"})
    copy(tmp_path, {N_IN: "batch_bbb_input.jsonl", N_OUT: "batch_bbb_output.jsonl"}, NAMED)
    res = ingest(home, *sorted(tmp_path.glob("batch_*.jsonl")), account_id="acct_cli")
    got = {r["request_id"]: r for r in rows(home)}
    assert got["req_123"]["prompt_text"] == "Hello world!"  # batch aaa's request-1
    assert got["req_1b2c3d"]["prompt_text"] == "Hello world!"  # batch bbb's request-1
    assert got["req_3a1f0c"]["prompt_text"] == PROMPTS["request-3"]
    assert res.read == res.accepted + res.duplicates + res.quarantined


def test_same_custom_id_in_two_unrelated_result_files_is_ambiguous(home, tmp_path):
    copy(tmp_path, {N_IN: "batchinput.jsonl", N_OUT: "results_a.jsonl"}, NAMED)
    copy(tmp_path, {OUTPUT: "results_b.jsonl"})  # also has a request-1
    ingest(home, tmp_path / "batchinput.jsonl", tmp_path / "results_a.jsonl",
           tmp_path / "results_b.jsonl", account_id="acct_cli")
    amb = [r for r in reasons(home, "batchinput.jsonl") if r.startswith("ambiguous")]
    assert len(amb) == 2 and "request-1" in amb[0] and "request-4" in amb[1]


# --- the original pair (name swap) and sidecar --------------------------------------------------

def test_output_file_pairs_with_its_input_by_name(home):
    res = ingest(home, FIX / OUTPUT, account_id="acct_cli")
    # request-1 and request-4 (no input line: stored without request fields), request-2
    # expired without any time in its batch but request-1's created
    assert (res.read, res.accepted, res.quarantined) == (3, 3, 0)
    got = by_custom_id(home)
    one, four = got["request-1"], got["request-4"]
    assert one["request_id"] == "req_123" and one["account_id"] == "acct_cli"
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
    # empty request_id in the response -> the documented fallback id (batch id, custom_id)
    assert four["request_id"] == "batch:batch_abc123:request-4"
    assert four["prompt_text"] == "" and four["endpoint"] is None and four["max_tokens"] is None
    assert (four["model"], four["finish_reason"], four["completion_tokens"]) == (
        "gpt-3.5-turbo-0125", "length", 1)
    assert orjson.loads(got["request-2"]["response_json"])["error"]["code"] == "batch_expired"


def test_input_file_after_output_adds_only_quarantine(home):
    ingest(home, FIX / OUTPUT, account_id="acct_cli")
    res = ingest(home, FIX / INPUT, account_id="acct_cli")
    assert (res.read, res.accepted, res.duplicates, res.quarantined) == (3, 0, 2, 1)
    [unanswered] = reasons(home, INPUT)
    assert "request-3" in unanswered and "no output or error line" in unanswered


def test_sidecar_names_account_and_partner(home, tmp_path):
    d = copy(tmp_path, {INPUT: "prompts.jsonl", OUTPUT: "results.jsonl"})
    (d / "batch.toml").write_text('account_id = "acct_9"\ninput = "prompts.jsonl"\n')
    res = ingest(home, d / "results.jsonl", fmt="openai-batch")
    assert res.accepted == 3
    one = by_custom_id(home)["request-1"]
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
                   "response": {"status": 200, "created": 1711652795, "choices": []},
                   "metadata": {"custom_id": "c", "batch_request_id": "batch_req_1",
                                "method": "POST"}}


def test_account_id_option_wins_over_sidecar_and_batch_object(home, tmp_path):
    files = named(tmp_path, N_IN, N_OUT, N_OBJ)
    (tmp_path / "batch.toml").write_text('account_id = "acct_9"\n')
    res = ingest(home, *files, account_id="acct_cli")
    assert res.accepted == 3 and {r["account_id"] for r in rows(home)} == {"acct_cli"}


def test_account_id_option_for_files_that_carry_accounts_is_an_input_error(home, tmp_path):
    native = tmp_path / "a.jsonl"
    native.write_bytes(orjson.dumps({"request_id": "r", "account_id": "a"}) + b"\n")
    with pytest.raises(InputError, match="--account-id"):
        ingest_paths(home, [native], fmt="native", progress=False, workers=1,
                     account_id="acct_cli")
    d = copy(tmp_path, {OUTPUT: OUTPUT})
    with pytest.raises(InputError, match="--account-id"):
        ingest_paths(home, [d / OUTPUT], progress=False, workers=1, account_id="  ")


def test_cli_account_id_option(tmp_path):
    from typer.testing import CliRunner

    from detector.cli.main import app

    files = named(tmp_path, N_IN, N_OUT, N_ERR)
    res = CliRunner().invoke(app, ["--home", str(tmp_path / "h"), "ingest", *map(str, files),
                                   "--account-id", "acct_cli", "--json"])
    assert res.exit_code == 0, res.stderr
    out = orjson.loads(res.stdout)
    assert (out["accepted"], out["quarantined"]) == (5, 0)


# --- property: read = accepted + duplicates + quarantined; nothing the source carried lost ----

def test_every_line_is_counted_and_no_carried_field_is_lost(tmp_path):
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    text = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=20)
    req = st.fixed_dictionaries({"cid": st.sampled_from([f"r{i}" for i in range(6)]),
                                 "prompt": text, "model": st.none() | text,
                                 "created": st.none() | st.integers(1_000_000_000, 1_800_000_000),
                                 "status": st.sampled_from([200, 400, 500, None]),
                                 "rid": st.none() | text, "tokens": st.none() | st.integers(0, 9999),
                                 "has_input": st.booleans(), "has_result": st.booleans()})

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(req, max_size=8), st.integers(0, 10**9))
    def check(reqs, salt):
        d = tmp_path / str(salt)
        d.mkdir(exist_ok=True)
        ins, outs = [], []
        for r in reqs:
            body = {"messages": [{"role": "user", "content": r["prompt"]}]}
            if r["model"] is not None:
                body["model"] = r["model"]
            if r["has_input"]:
                ins.append({"custom_id": r["cid"], "method": "POST",
                            "url": "/v1/chat/completions", "body": body})
            if r["has_result"]:
                if r["status"] is None:
                    outs.append({"id": "batch_req_x", "custom_id": r["cid"], "response": None,
                                 "error": {"code": "batch_expired", "message": "m"}})
                else:
                    rb = {"choices": [{"message": {"content": "ok"}}]}
                    if r["created"] is not None:
                        rb["created"] = r["created"]
                    if r["tokens"] is not None:
                        rb["usage"] = {"prompt_tokens": r["tokens"], "completion_tokens": 1}
                    resp = {"status_code": r["status"], "body": rb}
                    if r["rid"] is not None:
                        resp["request_id"] = r["rid"]
                    outs.append({"id": "batch_req_x", "custom_id": r["cid"],
                                 "response": resp, "error": None})
        files = {d / "batchinput.jsonl": ins, d / "batch_zz_output.jsonl": outs}
        for f, lines in files.items():
            f.write_bytes(b"".join(orjson.dumps(x) + b"\n" for x in lines))
        first_in = {}
        for x in ins:
            first_in.setdefault(x["custom_id"], x)
        for f, lines in files.items():
            related = tuple(str(g) for g in files if g != f)
            reader = records_for(f, account_id="acct", related=related)
            for x in lines:
                got = parse_line(orjson.dumps(x), Limits(min_ts_us=0), reader)
                assert len(got) == 1  # every line read is one record, accepted or quarantined
                _, row = got[0]
                if isinstance(row, str):
                    continue
                row = dict(zip(NAMES, row, strict=False))
                src = x if "url" in x else first_in.get(x["custom_id"])
                if src is not None:  # the prompt and model of the input line are kept
                    assert row["prompt_text"] == src["body"]["messages"][0]["content"]
                    if "model" in src["body"]:
                        assert row["model"] == src["body"]["model"]
                resp = x.get("response") if "url" not in x else None
                if isinstance(resp, dict):  # what the result line carried is kept
                    assert row["status"] == resp["status_code"]
                    if "usage" in resp["body"]:
                        assert row["prompt_tokens"] == resp["body"]["usage"]["prompt_tokens"]
                    if str(resp.get("request_id") or "").strip():  # blank: the adapter names it
                        assert row["request_id"] == resp["request_id"]
                    if "created" in resp["body"]:
                        assert row["ts"] == resp["body"]["created"] * 1_000_000
    check()


# --- a batch's files in different commands (the held store) -----------------

def _content(home) -> dict[str, dict]:
    skip = {"source_file", "source_line", "ingest_id"}
    return {r["request_id"]: {k: v for k, v in r.items() if k not in skip} for r in rows(home)}


@pytest.mark.parametrize("first", [OUTPUT, INPUT])
def test_input_and_output_in_different_commands_store_what_together_stores(home, tmp_path,
                                                                             first):
    from detector.settings import load_settings

    together = load_settings(tmp_path / "together")
    both = copy(tmp_path / "both", {INPUT: INPUT, OUTPUT: OUTPUT})
    ingest(together, both / INPUT, both / OUTPUT, account_id="acct_cli")
    second = INPUT if first == OUTPUT else OUTPUT
    one = copy(tmp_path / "d1", {first: first})  # separate deliveries: nothing lies beside
    two = copy(tmp_path / "d2", {second: second})
    a = ingest(home, one / first, account_id="acct_cli")
    b = ingest(home, two / second, account_id="acct_cli")
    assert _content(home) == _content(together)
    assert by_custom_id(home)["request-1"]["prompt_text"] == "Hello world!"
    if first == OUTPUT:  # stored without prompts, then completed by the input
        # request-1 and -2 completed; request-3 has no result (quarantined, as together)
        assert a.accepted == len(rows(home)) and (b.enriched, b.accepted) == (2, 0)
    else:  # inputs held (quarantined: no result yet), stored with their results
        assert (a.accepted, a.quarantined) == (0, a.read)
        assert b.accepted == len(rows(home)) and b.enriched == 0
    assert list((home.state_dir / "ingest" / "held" / "openai-batch").glob("*.json"))


def test_held_lines_of_another_batch_never_pair(home, tmp_path):
    one = copy(tmp_path / "d1", {OUTPUT: OUTPUT})
    two = copy(tmp_path / "d2", {INPUT: "batch_zzz999_input.jsonl"})  # another batch id
    ingest(home, one / OUTPUT, account_id="acct_cli")
    res = ingest(home, two / "batch_zzz999_input.jsonl", account_id="acct_cli")
    assert (res.accepted, res.enriched, res.quarantined) == (0, 0, res.read)
    assert not any(r["prompt_text"] for r in rows(home))
