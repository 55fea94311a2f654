"""Helpers for ingest tests: a native-record builder, a JSONL writer and a lake reader."""

from __future__ import annotations

import copy
from pathlib import Path

import orjson

BASE = {
    "request_id": "req_7f3a", "timestamp": "2026-11-27T13:45:12.123Z", "account_id": "acct_0042",
    "org_id": "org_9", "api_key_id": "key_5", "endpoint": "/v1/chat/completions",
    "model": "frontier-large", "client_ip": "203.0.113.7", "user_agent": "python-httpx/0.28.1",
    "payment_fingerprint": "pm_ab12", "account_created_at": "2026-11-20T08:00:00Z",
    "request": {"messages": [{"role": "system", "content": "You are a helpful assistant."},
                             {"role": "user", "content": "Explain step by step how you would solve: 17 * 23"}],
                "temperature": 0.7, "max_tokens": 4096, "logprobs": True, "top_logprobs": 20},
    "response": {"status": 200, "finish_reason": "stop"},
    "usage": {"prompt_tokens": 31, "completion_tokens": 412}, "latency_ms": 2310,
}


def record(i: int = 0, **changes: object) -> dict:
    """The spec's example record with request_id ``req_<i>`` and ``changes`` applied."""
    rec = copy.deepcopy(BASE)
    rec["request_id"] = f"req_{i}"
    rec.update(changes)
    return rec


def write_jsonl(path: Path, records: list[dict | bytes]) -> Path:
    """Write records (dicts as JSON, bytes verbatim) one per line."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        for r in records:
            fh.write((r if isinstance(r, bytes) else orjson.dumps(r)) + b"\n")
    return path


def lake_contents(home) -> tuple[list, list]:
    """(stored rows without ingest_id, quarantined rows) of ``home``, both in source-line order."""
    from detector.lake.db import connect

    con = connect(home)
    rows = con.execute("SELECT * EXCLUDE (ingest_id) FROM requests ORDER BY source_line"
                       ).fetchall()
    bad = con.execute("SELECT source_file, source_line, reason, raw FROM quarantine "
                      "ORDER BY source_line").fetchall()
    return rows, bad


def rows_by_id(home) -> dict[str, dict]:
    """Every stored request of ``home`` as a dict of columns, keyed by request_id."""
    from detector.lake.db import connect

    cur = connect(home).execute("SELECT * FROM requests")
    names = [d[0] for d in cur.description]
    return {r[0]: dict(zip(names, r, strict=True)) for r in cur.fetchall()}


def check_counts(res):
    """The count contract, in total and per file: read = accepted + duplicates +
    quarantined, and enriched + conflicting <= duplicates (both are kinds of duplicates)."""
    for c in (res, *res.files):
        assert c.read == c.accepted + c.duplicates + c.quarantined, c
        assert min(c.enriched, c.conflicting) >= 0, c
        assert c.enriched + c.conflicting <= c.duplicates, c
    return res


def ingest_counted(home, paths, **kw):
    """ingest_paths with one worker, checking the count contract (:func:`check_counts`)."""
    from detector.ingest import ingest_paths

    res = ingest_paths(home, [Path(p) for p in paths], progress=False, workers=1, **kw)
    return check_counts(res)
