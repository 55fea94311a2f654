"""Every bad-input case: odd-but-valid input is accepted, bad input quarantined."""

from __future__ import annotations

import gzip
from pathlib import Path

import orjson
import pytest

from detector.ingest import ingest_paths
from detector.lake.db import connect

from .ingest_helpers import record, write_jsonl


def ingest_one(home, path: Path):
    res = ingest_paths(home, [path], progress=False, workers=1)
    assert res.read == res.accepted + res.duplicates + res.quarantined
    return res


def quarantine_rows(home) -> list[tuple]:
    con = connect(home)
    return con.execute("SELECT source_line, reason, raw FROM quarantine ORDER BY source_line"
                       ).fetchall()


def request_rows(home, cols: str = "*"):
    con = connect(home)
    return con.execute(f"SELECT {cols} FROM requests ORDER BY source_line").fetchall()


def test_invalid_json_is_quarantined_verbatim(home, tmp_path):
    bad = b'{"request_id": "x", oops}'
    path = write_jsonl(tmp_path / "a.jsonl", [record(1), bad, record(2)])
    res = ingest_one(home, path)
    assert (res.read, res.accepted, res.quarantined) == (3, 2, 1)
    [(line, reason, raw)] = quarantine_rows(home)
    assert line == 2 and reason.startswith("invalid_json") and bytes(raw) == bad


def test_truncated_last_line(home, tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_bytes(orjson.dumps(record(1)) + b"\n" + orjson.dumps(record(2))[:40])
    res = ingest_one(home, path)
    assert (res.accepted, res.quarantined) == (1, 1)
    assert quarantine_rows(home)[0][1].startswith("truncated_last_line")


def test_last_line_without_newline_is_still_read(home, tmp_path):
    path = tmp_path / "n.jsonl"
    path.write_bytes(orjson.dumps(record(1)) + b"\n" + orjson.dumps(record(2)))
    assert ingest_one(home, path).accepted == 2


@pytest.mark.parametrize("change,code", [
    ({"request_id": None}, "missing_field"),
    ({"account_id": ["a"]}, "wrong_type"),
    ({"request": None}, "missing_field"),
    ({"request": [1, 2]}, "wrong_type"),
    ({"timestamp": "27/11/2026 13:45"}, "bad_timestamp"),
    ({"timestamp": "3026-01-01T00:00:00Z"}, "timestamp_out_of_range"),
    ({"timestamp": "1901-01-01T00:00:00Z"}, "timestamp_out_of_range"),
    ({"timestamp": 1.0e30}, "timestamp_out_of_range"),
])
def test_bad_fields_and_timestamps(home, tmp_path, change, code):
    rec = record(1)
    rec.update(change)
    res = ingest_one(home, write_jsonl(tmp_path / "f.jsonl", [rec, record(2)]))
    assert (res.accepted, res.quarantined) == (1, 1)
    assert quarantine_rows(home)[0][1].startswith(code)


def test_invalid_utf8_is_accepted_with_replacement(home, tmp_path):
    line = orjson.dumps(record(1)).replace(b"Explain", b"Expl\xff\xfein")
    res = ingest_one(home, write_jsonl(tmp_path / "u.jsonl", [line]))
    assert res.accepted == 1
    [(prompt, meta)] = request_rows(home, "prompt_text, metadata_json")
    assert prompt.startswith("Expl\ufffd\ufffdin")
    assert "invalid_utf8" in orjson.loads(meta)["_ingest"]["flags"]


def test_ten_megabyte_prompt(home, tmp_path):
    big = "word " * (2 * 1024 * 1024)
    rec = record(1, request={"messages": [{"role": "user", "content": big}]})
    res = ingest_one(home, write_jsonl(tmp_path / "big.jsonl", [rec, record(2)]))
    assert res.accepted == 2
    assert request_rows(home, "prompt_chars")[0][0] == len(big)


def test_parts_images_and_empty_messages(home, tmp_path):
    parts = {"messages": [{"role": "user", "content": [
        {"type": "text", "text": "What is"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
        {"type": "text", "text": "shown?"}]}]}
    recs = [record(1, request=parts), record(2, request={"messages": []}),
            record(3, request={"messages": [{"role": "user", "content": ""}]})]
    res = ingest_one(home, write_jsonl(tmp_path / "p.jsonl", recs))
    assert res.accepted == 3
    rows = request_rows(home, "prompt_text, n_messages, metadata_json")
    assert rows[0][0] == "What is\nshown?" and '"image_parts":1' in rows[0][2]
    assert rows[1][:2] == ("", 0) and rows[2][:2] == ("", 1)


def test_deeply_nested_json(home, tmp_path):
    deep_ok = orjson.dumps(record(1))[:-1] + b',"metadata":{"x":' + b"[" * 500 + b"]" * 500 + b"}}"
    deep_bad = b'{"request_id":"r","a":' + b"[" * 5000 + b"]" * 5000 + b"}"
    res = ingest_one(home, write_jsonl(tmp_path / "d.jsonl", [deep_ok, deep_bad]))
    assert (res.accepted, res.quarantined) == (1, 1)
    assert quarantine_rows(home)[0][1].startswith("nesting_too_deep")
    meta = request_rows(home, "metadata_json")[0][0]
    assert meta.startswith('{"x":[[[') and meta.count("[") == 500


def test_nul_bytes(home, tmp_path):
    raw_nul = orjson.dumps(record(1)).replace(b"Explain", b"Expl\x00ain")
    escaped = record(2, request={"messages": [{"role": "user", "content": "a\u0000b"}]})
    res = ingest_one(home, write_jsonl(tmp_path / "z.jsonl", [raw_nul, escaped, b"\x00" * 64]))
    assert (res.read, res.accepted, res.quarantined) == (3, 1, 2)
    assert request_rows(home, "prompt_text")[0][0] == "a\x00b"


def test_crlf_and_bom(home, tmp_path):
    path = tmp_path / "w.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + orjson.dumps(record(1)) + b"\r\n"
                     + orjson.dumps(record(2)) + b"\r\n")
    res = ingest_one(home, path)
    assert (res.accepted, res.quarantined) == (2, 0)


def test_blank_lines_are_counted_as_bad(home, tmp_path):
    res = ingest_one(home, write_jsonl(tmp_path / "b.jsonl", [record(1), b"", b"   "]))
    assert (res.read, res.accepted, res.quarantined) == (3, 1, 2)
    assert {r[1] for r in quarantine_rows(home)} == {"empty_line"}


def test_gzip_that_ends_early(home, tmp_path):
    data = b"".join(orjson.dumps(record(i)) + b"\n" for i in range(2000))
    blob = gzip.compress(data)
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(blob[: len(blob) * 2 // 3])
    res = ingest_one(home, path)
    assert 0 < res.accepted < 2000
    assert any("truncated_stream" in w for w in res.warnings)
    # every complete line before the cut was accepted, only the partial one is bad
    assert res.quarantined <= 1
    ids = {r[0] for r in request_rows(home, "request_id")}
    assert ids == {f"req_{i}" for i in range(res.accepted)}


@pytest.mark.parametrize("kind", ["gzip", "gzip-members", "gzip-padded", "zstd-frames"])
def test_complete_compressed_streams_give_no_warning(tmp_path, kind):
    import zstandard

    from detector.ingest.sources import LineReader

    parts = [b"".join(orjson.dumps(record(i)) + b"\n" for i in range(k, k + 300))
             for k in (0, 300)]
    blob = {"gzip": gzip.compress(parts[0] + parts[1]),
            "gzip-members": gzip.compress(parts[0]) + gzip.compress(parts[1]),
            "gzip-padded": gzip.compress(parts[0] + parts[1]) + b"\0" * 512,
            "zstd-frames": b"".join(zstandard.ZstdCompressor().compress(p) for p in parts),
            }[kind]
    path = tmp_path / "f.jsonl.gz"
    path.write_bytes(blob)
    reader = LineReader(path)
    assert sum(len(b.lines) for b in reader.batches(max_lines=64)) == 600
    assert reader.warnings == []


def test_line_too_long_is_cut_and_quarantined(home, tmp_path):
    from detector.ingest.sources import LineReader

    path = write_jsonl(tmp_path / "l.jsonl", [record(1), b"x" * 5000, record(2)])
    batches = list(LineReader(path, max_line_bytes=1000).batches())
    assert sum(len(b.lines) for b in batches) == 3
    assert batches[0].too_long == {1: 5000}


def test_not_an_object(home, tmp_path):
    res = ingest_one(home, write_jsonl(tmp_path / "o.jsonl", [b"[1,2]", b"42", b'"s"', b"null"]))
    assert (res.read, res.quarantined) == (4, 4)
    assert all(r[1].startswith("not_an_object") for r in quarantine_rows(home))
