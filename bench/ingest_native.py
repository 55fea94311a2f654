"""How far a DuckDB-native normaliser could take ingest speed (run by hand; a measured bound).

The speed goal of ingest is 0.5x of DuckDB's ``read_json`` + ``COPY`` Parquet on the same files.
Our ingest parses with orjson and normalises in Python. This bench measures, in one process, one
thread, alternating rounds on the same generated file (``bench/ingest.py``'s generator), the CPU
per record of:

* ``reference``: ``read_json`` + ``COPY ... (COMPRESSION zstd)``, no validation;
* ``python_lane``: what ingest does per record today without the id store and manifest
  (orjson + ``fast_row``, Arrow table, Parquet zstd);
* ``native_columns``: a prototype of the DuckDB-native route at its cheapest: ``read_json`` with
  every known top-level field typed ``JSON`` (keeps the request body's text), one
  ``json_transform`` of the request, SQL for the canonical columns, then the hashes DuckDB has
  no function for (blake2b prompt, system-prompt and end-user hashes) in Python, then Parquet
  zstd. It cannot see unknown top-level fields (``metadata_json``) and has no per-record type
  guards, no routing of odd records back to Python and no line numbers: a lower bound;
* ``native_lines``: the same, reading each line as one JSON value (``read_ndjson_objects``) so
  that unknown top-level keys are visible (``json_keys``): the cheapest variant that can keep
  today's ``metadata_json``.

Neither native variant includes the id store, the manifest or fsync/rename, which the whole job
adds (see ``ingest_costs.json``, ``stage_cpu_us``). Results: ``bench/results/ingest_native.json``.

    .venv/bin/python bench/ingest_native.py --records 100000
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import shutil
import statistics
import time
from pathlib import Path

import duckdb
import orjson
import pyarrow as pa
import pyarrow.parquet as pq
from _meta import stamp, write_atomic
from ingest import ROOT, generate

from detector.ingest.fastpath import fast_prompt_hash, fast_row
from detector.ingest.normalize import Limits, text_hash
from detector.ingest.tables import rows_to_table

KEYS = ["request_id", "timestamp", "account_id", "org_id", "api_key_id", "endpoint", "model",
        "client_ip", "user_agent", "payment_fingerprint", "account_created_at", "request",
        "response", "usage", "latency_ms", "metadata"]
REQUEST = json.dumps({"messages": [{"role": "VARCHAR", "content": "JSON"}], **{k: "JSON" for k in (
    "temperature", "top_p", "max_tokens", "n", "logprobs", "top_logprobs", "stream", "seed",
    "user")}})
#: Canonical columns from a relation ``q`` of JSON-typed top-level fields plus ``r`` (request).
COLUMNS = """
  request_id->>'$' AS request_id, make_timestamptz(CAST(timestamp AS BIGINT) * 1000) AS ts,
  account_id->>'$' AS account_id, org_id->>'$' AS org_id, api_key_id->>'$' AS api_key_id,
  endpoint->>'$' AS endpoint, model->>'$' AS model, client_ip->>'$' AS client_ip,
  user_agent->>'$' AS user_agent, payment_fingerprint->>'$' AS payment_fingerprint,
  CAST(account_created_at->>'$' AS TIMESTAMPTZ) AS account_created_at,
  len(r.messages) AS n_messages, len(list_filter(r.messages, lambda m: m.role = 'user')) AS n_user,
  array_to_string(list_transform(list_filter(r.messages, lambda m: m.role = 'system'),
                                 lambda m: m.content->>'$'), chr(10)) AS system_prompt,
  array_to_string(list_transform(list_filter(r.messages, lambda m: m.role = 'user'),
                                 lambda m: m.content->>'$'), chr(10)) AS prompt_text,
  CAST(r.max_tokens AS BIGINT) AS max_tokens, CAST(r.temperature AS DOUBLE) AS temperature,
  CAST(r.top_p AS DOUBLE) AS top_p, coalesce(CAST(r.n AS INT), 1) AS n,
  coalesce(CAST(r.logprobs AS BOOLEAN), false) AS logprobs,
  CAST(r.top_logprobs AS INT) AS top_logprobs, coalesce(CAST(r.stream AS BOOLEAN), false) AS stream,
  CAST(r.seed AS BIGINT) AS seed, r.user->>'$' AS end_user,
  CAST(json_extract(response, '$.status') AS INT) AS status,
  json_extract_string(response, '$.finish_reason') AS finish_reason,
  CAST(json_extract(usage, '$.prompt_tokens') AS BIGINT) AS prompt_tokens,
  CAST(json_extract(usage, '$.completion_tokens') AS BIGINT) AS completion_tokens,
  CAST(latency_ms AS DOUBLE) AS latency_ms,
  CAST(request AS VARCHAR) AS request_json, CAST(response AS VARCHAR) AS response_json"""


def native_sql(path: Path, lines: bool) -> str:
    if lines:
        top = json.dumps({k: "JSON" for k in KEYS})
        src = (f"SELECT json_keys(json) AS keys, unnest(json_transform(json, '{top}')) "
               f"FROM read_ndjson_objects('{path}')")
    else:
        cols = "{" + ", ".join(f"'{k}': 'JSON'" for k in KEYS) + "}"
        src = f"SELECT * FROM read_json('{path}', format='newline_delimited', columns={cols})"
    return (f"WITH s AS ({src}), q AS (SELECT *, json_transform(request, '{REQUEST}') AS r "
            f"FROM s) SELECT {COLUMNS} FROM q")


def _hashes(table: pa.Table) -> pa.Table:
    """The blake2b columns DuckDB cannot compute, as ingest defines them."""
    prompt = pa.array([fast_prompt_hash(x) for x in table.column("prompt_text").to_pylist()],
                      pa.string())
    out = table.append_column("prompt_hash", prompt)
    for src, name in (("system_prompt", "system_hash"), ("end_user", "end_user_hash")):
        enc = table.column(src).combine_chunks().dictionary_encode()
        uniq = pa.array([None if x is None else text_hash(x) for x in enc.dictionary.to_pylist()],
                        pa.string())
        out = out.append_column(name, uniq.take(enc.indices))
    return out


def measure(path: Path, work: Path, rounds: int) -> dict:
    con = duckdb.connect()
    con.execute("SET threads = 1")
    with open(path, "rb") as fh:
        raw = fh.read().splitlines()
    n, limits = len(raw), Limits()
    steps: dict[str, dict[str, list[float]]] = {}

    def timed(case: str, parts: list[tuple[str, object]]) -> None:
        value = None
        for step, fn in parts:
            t0 = time.process_time()
            value = fn(value)  # type: ignore[operator]
            steps.setdefault(case, {}).setdefault(step, []).append(
                (time.process_time() - t0) / n * 1e6)

    def python_lane() -> None:
        gc.disable()  # as parse_batch does
        try:
            timed("python_lane", [
                ("orjson_fast_row", lambda _: [fast_row(orjson.loads(x), limits) for x in raw]),
                ("arrow_table", lambda rows: rows_to_table(rows, list(range(1, n + 1)), "f", "j")),
                ("parquet_zstd", lambda t: pq.write_table(t, work / "py.parquet",
                                                          compression="zstd")),
            ])
        finally:
            gc.enable()

    def native(case: str, lines: bool) -> None:
        sql = native_sql(path, lines)
        timed(case, [
            ("duckdb_to_arrow", lambda _: con.sql(sql).to_arrow_table()),
            ("python_hashes", _hashes),
            ("parquet_zstd", lambda t: pq.write_table(t, work / "native.parquet",
                                                      compression="zstd")),
        ])

    ref_out = work / "ref.parquet"
    cases = {
        "reference": lambda: timed("reference", [("read_json_copy_zstd", lambda _: con.execute(
            f"COPY (SELECT * FROM read_json('{path}', format='newline_delimited')) "
            f"TO '{ref_out}' (FORMAT parquet, COMPRESSION zstd)"))]),
        "python_lane": python_lane,
        "native_columns": lambda: native("native_columns", False),
        "native_lines": lambda: native("native_lines", True),
    }
    for _ in range(rounds):
        for fn in cases.values():
            fn()
    out: dict = {}
    for case, per_step in steps.items():
        totals = [sum(v[i] for v in per_step.values()) for i in range(rounds)]
        out[case] = {"total_best": round(min(totals), 2),
                     "total_median": round(statistics.median(totals), 2),
                     "steps_best": {k: round(min(v), 2) for k, v in per_step.items()}}
    ref = out["reference"]["total_best"]
    for case in out:
        out[case]["ratio_vs_reference"] = round(ref / out[case]["total_best"], 3)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--work", type=Path, default=ROOT / "bench" / "work" / "ingest_native")
    ap.add_argument("--out", type=Path,
                    default=ROOT / "bench" / "results" / "ingest_native.json")
    args = ap.parse_args()
    shutil.rmtree(args.work, ignore_errors=True)
    (path,) = generate(args.work / "logs", args.records, 1)
    load_start = list(os.getloadavg())
    cases = measure(path, args.work, args.rounds)
    result = {
        "records": args.records, "rounds": args.rounds, "cpu_count": os.cpu_count(),
        "python": platform.python_version(), "duckdb": duckdb.__version__,
        "load_average_at_start": [round(x, 2) for x in load_start],
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        "cpu_us_per_record": cases,
        "excluded_from_every_case": "id store, manifest, fsync/rename, quarantine routing",
        "command": f"python bench/ingest_native.py --records {args.records}",
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    shutil.rmtree(args.work, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    result = {"provenance": stamp("bench/ingest_native.py"), **result}
    write_atomic(args.out, json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    print(f"-> {args.out}")


if __name__ == "__main__":
    main()
