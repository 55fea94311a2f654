"""JSON array documents (LiteLLM JSON export, mapped JSON) are streamed element by element.

The records are exactly those of reading the whole document with orjson; a document that is
not valid JSON is read line by line, as before; element values that orjson would reject are
quarantined instead of changed.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import orjson

from detector.ingest import ingest_paths
from detector.ingest.adapters import rows as rows_mod
from detector.ingest.adapters.rows import JsonDocumentSource, _json
from detector.lake.db import connect

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "ingest" / "litellm_spend_logs.json"


def many(n: int) -> list[dict]:
    base = orjson.loads(FIX.read_bytes())
    out = []
    for i in range(n):
        rec = dict(base[i % len(base)])
        rec["request_id"] = f"chatcmpl-{i}"
        out.append(rec)
    return out


def records(path: Path) -> tuple[list[tuple[int, bytes]], list[str]]:
    src = JsonDocumentSource(path)
    return list(src.records()), src.warnings


def test_streamed_elements_equal_whole_document_read(tmp_path):
    items = many(500)
    path = tmp_path / "spend.json"
    path.write_bytes(b"\xef\xbb\xbf" + orjson.dumps(items, option=orjson.OPT_INDENT_2))
    got, warnings = records(path)
    assert got == [(i, _json(x)) for i, x in enumerate(items, 1)] and warnings == []
    gz = tmp_path / "spend.json.gz"
    gz.write_bytes(gzip.compress(path.read_bytes()))
    assert records(gz) == (got, [])


def test_array_is_not_loaded_whole(tmp_path, monkeypatch):
    path = tmp_path / "spend.json"
    path.write_bytes(orjson.dumps(many(50)))
    calls = []
    real = rows_mod.orjson.loads
    monkeypatch.setattr(rows_mod.orjson, "loads",
                        lambda data: calls.append(len(data)) or real(data))
    got, _ = records(path)
    assert len(got) == 50
    assert all(n < 1 << 16 for n in calls)  # only the 64 KiB head is ever decoded


def test_broken_array_is_read_line_by_line_as_before(tmp_path):
    data = orjson.dumps(many(20), option=orjson.OPT_INDENT_2)
    path = tmp_path / "cut.json"
    path.write_bytes(data[: len(data) * 3 // 4])
    got, _ = records(path)
    lines = data[: len(data) * 3 // 4].split(b"\n")
    assert got == [(i, line) for i, line in enumerate(lines, 1)]


def test_document_unreadable_from_the_start_is_read_line_by_line(tmp_path):
    path = tmp_path / "bad.json"
    path.write_bytes(b"[\n  {oops},\n  {\"a\": 1}\n]\n")
    got, _ = records(path)
    assert got == [(1, b"["), (2, b"  {oops},"), (3, b'  {"a": 1}'), (4, b"]")]


def test_values_orjson_rejects_keep_the_whole_document_behaviour(tmp_path, home):
    items = many(3)
    items[1]["prompt_tokens"] = 987654321
    raw = orjson.dumps(items).replace(b"987654321", str(2**70).encode())
    path = tmp_path / "spend.json"
    path.write_bytes(raw)
    assert records(path)[0] == [(1, raw)]  # one line: quarantined whole, as with orjson
    res = ingest_paths(home, [path], fmt="litellm", progress=False, workers=1)
    assert (res.read, res.accepted, res.quarantined) == (1, 0, 1)
    # a value the streaming parser takes but orjson would not is spelled for quarantine
    assert rows_mod._element_json({"x": float("inf"), "y": [1.5]}) == \
        b'{"x": Infinity, "y": [1.5]}'


def test_end_to_end_streamed_array(tmp_path, home):
    path = tmp_path / "spend.json"
    path.write_bytes(orjson.dumps(many(40), option=orjson.OPT_INDENT_2))
    # the billing unit every row of the fixture carries (one unit for the whole file)
    res = ingest_paths(home, [path], fmt="litellm", progress=False, workers=1,
                       account_key="key")
    assert (res.read, res.accepted, res.quarantined, res.warnings) == (40, 40, 0, [])
    ids = connect(home).execute("SELECT count(DISTINCT request_id) FROM requests").fetchone()
    assert ids == (40,)
