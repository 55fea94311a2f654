"""Ingest end to end: partitions, counts, exactly-once, formats of files, dirty days, CLI."""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import orjson
import pyarrow.parquet as pq
import pytest
import zstandard

from detector.ingest import apply_retention, dirty_dates, ingest_paths, mark_scored
from detector.lake.db import connect, lake_dates
from detector.lake.schema import REQUEST_SCHEMA

from .ingest_helpers import record, write_jsonl


def day_records(day: str, ids: range) -> list[dict]:
    return [record(i, timestamp=f"{day}T10:00:00Z") for i in ids]


def ingest(home, paths, **kw):
    res = ingest_paths(home, [str(p) for p in paths], progress=False, **kw)
    assert res.read == res.accepted + res.duplicates + res.quarantined
    return res


def stored_ids(home) -> list[str]:
    return [r[0] for r in connect(home).execute("SELECT request_id FROM requests").fetchall()]


def test_partitions_are_daily_zstd_parquet_with_canonical_schema(home, tmp_path):
    path = write_jsonl(tmp_path / "a.jsonl",
                       day_records("2026-11-27", range(3)) + day_records("2026-11-28", range(3, 5)))
    res = ingest(home, [path])
    assert (res.read, res.accepted, res.dates) == (5, 5, ["2026-11-27", "2026-11-28"])
    assert lake_dates(home) == ["2026-11-27", "2026-11-28"]
    files = sorted(home.requests_dir.glob("date=2026-11-27/*.parquet"))
    assert len(files) == 1 and files[0].name.startswith(f"part-{res.job_id}-")
    meta = pq.ParquetFile(files[0])
    assert meta.schema_arrow == REQUEST_SCHEMA
    assert meta.metadata.row_group(0).column(0).compression == "ZSTD"
    assert meta.metadata.num_rows == 3


def test_reingest_adds_nothing(home, tmp_path):
    path = write_jsonl(tmp_path / "a.jsonl", [record(1), record(2), record(1), b"bad"])
    first = ingest(home, [path])
    assert (first.read, first.accepted, first.duplicates, first.quarantined) == (4, 2, 1, 1)
    again = ingest(home, [path])
    assert (again.read, again.accepted, again.duplicates, again.quarantined) == (4, 0, 3, 1)
    assert again.files[0].role == "redelivery"
    copy = shutil.copy(path, tmp_path / "copy.jsonl")
    third = ingest(home, [copy])
    assert (third.accepted, third.duplicates) == (0, 3)
    assert sorted(stored_ids(home)) == ["req_1", "req_2"]
    assert connect(home).execute("SELECT count(*) FROM quarantine").fetchone()[0] == 1


def test_duplicates_across_files_and_deliveries(home, tmp_path):
    a = write_jsonl(tmp_path / "a.jsonl", [record(i) for i in range(10)])
    b = write_jsonl(tmp_path / "b.jsonl", [record(i) for i in range(5, 15)])
    res = ingest(home, [a, b])
    assert (res.read, res.accepted, res.duplicates) == (20, 15, 5)
    later = write_jsonl(tmp_path / "c.jsonl", [record(i) for i in range(12, 18)])
    res = ingest(home, [later])
    assert (res.accepted, res.duplicates) == (3, 3)
    ids = stored_ids(home)
    assert len(ids) == len(set(ids)) == 18


def test_parallel_workers_give_the_same_counts(home, tmp_path):
    files = [write_jsonl(tmp_path / f"p{k}.jsonl", [record(i) for i in range(k * 50, k * 50 + 80)])
             for k in range(4)]
    res = ingest(home, files, workers=2)
    assert (res.read, res.accepted, res.duplicates) == (320, 230, 90)
    assert len(set(stored_ids(home))) == 230


def test_compressed_files_folders_and_globs(home, tmp_path):
    logs = tmp_path / "logs"
    data = b"".join(orjson.dumps(record(i)) + b"\n" for i in range(6))
    (logs / "sub").mkdir(parents=True)
    (logs / "a.jsonl.gz").write_bytes(gzip.compress(data[: data.index(b"\n") + 1]))
    (logs / "sub" / "b.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress(data))
    write_jsonl(logs / "c.jsonl", [record(100)])
    (logs / "README.md").write_text("not data")
    res = ingest(home, [logs])
    assert (len(res.files), res.accepted, res.duplicates) == (3, 7, 1)
    res = ingest(home, [str(logs / "**" / "*.zst")])
    assert (len(res.files), res.accepted) == (1, 0)


def test_late_records_mark_scored_day_for_rescoring(home, tmp_path):
    ingest(home, [write_jsonl(tmp_path / "d1.jsonl", day_records("2026-11-26", range(3)))])
    assert dirty_dates(home) == ["2026-11-26"]
    mark_scored(home, ["2026-11-26"])
    assert dirty_dates(home) == []
    late = write_jsonl(tmp_path / "d2.jsonl", day_records("2026-11-26", range(3, 5))
                       + day_records("2026-11-27", range(5, 6)))
    res = ingest(home, [late])
    assert res.dates == ["2026-11-26", "2026-11-27"]
    assert res.rescore_dates == ["2026-11-26"]
    assert dirty_dates(home) == ["2026-11-26", "2026-11-27"]
    # a redelivery changes nothing, so nothing becomes dirty
    mark_scored(home, ["2026-11-26", "2026-11-27"])
    assert ingest(home, [late]).rescore_dates == [] and dirty_dates(home) == []


def test_privacy_mode_keeps_bounded_sample_and_hashes(home, tmp_path):
    private = home.replace(keep_prompt_text=False, embedding_sample_k=2)
    recs = [record(i, account_id="acct_a") for i in range(5)] + [record(9, account_id="acct_b")]
    ingest(private, [write_jsonl(tmp_path / "a.jsonl", recs)])
    rows = connect(private).execute(
        "SELECT account_id, count(prompt_text), count(prompt_hash), "
        "bool_or(contains(request_json, '17 * 23')) FROM requests GROUP BY 1 ORDER BY 1").fetchall()
    assert rows == [("acct_a", 2, 5, False), ("acct_b", 1, 1, False)]
    more = [record(i, account_id="acct_a") for i in range(10, 12)]
    ingest(private, [write_jsonl(tmp_path / "b.jsonl", more)])
    n = connect(private).execute("SELECT count(prompt_text) FROM requests WHERE "
                                 "account_id = 'acct_a'").fetchone()[0]
    assert n == 2


def test_retention_deletes_old_partitions(home, tmp_path):
    ingest(home, [write_jsonl(tmp_path / "a.jsonl", day_records("2026-11-01", range(2))
                              + day_records("2026-11-20", range(2, 4)) + [b"bad"])])
    deleted = apply_retention(home, days=10, today=date(2026, 11, 25))
    assert [Path(d).name for d in deleted] == ["date=2026-11-01"]
    assert lake_dates(home) == ["2026-11-20"]
    assert dirty_dates(home) == ["2026-11-20"]
    apply_retention(home, days=1, today=date(2100, 1, 1))
    assert connect(home).execute("SELECT count(*) FROM quarantine").fetchone()[0] == 0


def run_cli(home: Path, *args: str):
    """Invoke the CLI in-process (one import of every command module for the whole suite)."""
    from typer.testing import CliRunner

    from detector.cli.main import app

    return CliRunner().invoke(app, ["--home", str(home), *args])


def test_cli_json_and_errors(tmp_path):
    path = write_jsonl(tmp_path / "a.jsonl", [record(1), record(1), b"{"])
    res = run_cli(tmp_path / "h", "ingest", str(path), "--json")
    assert res.exit_code == 0, res.stderr
    out = json.loads(res.stdout)
    assert (out["read"], out["accepted"], out["duplicates"], out["quarantined"]) == (3, 1, 1, 1)
    res = run_cli(tmp_path / "h", "ingest", str(tmp_path / "missing.jsonl"), "--json")
    assert res.exit_code == 2 and res.stdout == ""
    assert "missing.jsonl" in res.stderr and len(res.stderr.strip().splitlines()) == 1
    res = run_cli(tmp_path / "h", "ingest", str(path), "--format", "nope")
    assert res.exit_code == 2 and "--format" in res.stderr
    res = run_cli(tmp_path / "h", "quarantine", "list", "--json")
    assert res.exit_code == 0 and json.loads(res.stdout)["source_line"] == 3
    res = run_cli(tmp_path / "h", "quarantine", "show", f"{path}:3", "--raw")
    assert res.exit_code == 0 and res.stdout == "{\n"


@pytest.mark.slow
def test_installed_executable_prints_one_json_object(tmp_path):
    path = write_jsonl(tmp_path / "a.jsonl", [record(1), b"oops"])
    exe = Path(sys.executable).parent / "detector"
    proc = subprocess.run([str(exe), "--home", str(tmp_path / "h"), "ingest", str(path), "--json"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert (out["read"], out["accepted"], out["quarantined"]) == (2, 1, 1)
