"""One file, chunks parsed in a process pool and committed in file order by the parent.

Same rows, quarantine and counts as the sequential read; crash safety unchanged (a SIGKILL of
the parent at any moment, then a re-run, gives the counts and lake of an uninterrupted run).
"""

from __future__ import annotations

import json
import random
import signal
import sqlite3
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import orjson
import pytest

from detector.ingest import ingest_paths, pipeline
from detector.ingest.normalize import Limits
from detector.ingest.parse import parse_batch
from detector.ingest.sources import LineReader
from detector.ingest.tables import ROW_FIELDS, with_table
from detector.ingest.worker import FileTask, _parsed_in_pool
from detector.settings import load_settings

from .ingest_helpers import lake_contents, record, write_jsonl

CHUNK = 97
ROOT = str(Path(__file__).resolve().parents[2])


def make_file(path: Path) -> list[str]:
    """~2400 lines: two days, duplicates and conflicting re-deliveries of earlier ids, ~2% bad
    lines of several kinds, odd records."""
    rng = random.Random(11)
    lines: list[dict | bytes] = []
    good: list[bytes] = []
    for i in range(2400):
        r = rng.random()
        if r < 0.005:
            lines.append(b'{"request_id": "broken", ')
        elif r < 0.01:
            lines.append(b"")
        elif r < 0.015:
            lines.append(orjson.dumps(record(i, timestamp="not a time")))
        elif r < 0.02:
            lines.append(orjson.dumps(record(i)).replace(b"Explain", b"Expl\xff\xfein"))
        elif r < 0.03 and good and rng.random() < 0.5:
            lines.append(rng.choice(good))  # an exact copy: a duplicate
        elif r < 0.03:  # the same id with another time: a conflicting re-delivery
            lines.append(orjson.dumps(record(rng.randrange(max(1, i)))))
        else:
            day = "2026-11-26" if i % 3 else "2026-11-27"
            extra = {"request": {"messages": [{"role": "user", "content": [
                {"type": "text", "text": f"part {i}"}, {"type": "image_url", "image_url": {}}]}]}
            } if i % 50 == 0 else {}
            good.append(orjson.dumps(record(i, timestamp=f"{day}T0{i % 10}:00:00Z", **extra)))
            lines.append(good[-1])
    write_jsonl(path, lines)
    return [str(path)]


def counts(res) -> tuple:
    return (res.read, res.accepted, res.duplicates, res.quarantined, res.enriched,
            res.conflicting, res.dates)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    base = tmp_path_factory.mktemp("pool")
    files = make_file(base / "logs" / "one.jsonl")
    home = load_settings(base / "ref")
    t0 = time.perf_counter()
    res = ingest_paths(home, files, progress=False, workers=1, chunk_lines=CHUNK)
    seconds = time.perf_counter() - t0
    return files, res, lake_contents(home), seconds


def test_pool_read_equals_sequential_read(tmp_path, reference):
    files, ref_res, ref_lake, _ = reference
    home = load_settings(tmp_path / "pool")
    res = ingest_paths(home, files, progress=False, workers=2, chunk_lines=CHUNK)
    assert counts(res) == counts(ref_res)
    assert res.read == 2400 and res.duplicates > 0 and res.quarantined > 20
    assert res.read == res.accepted + res.duplicates + res.quarantined
    assert 0 < res.conflicting < res.duplicates  # the re-used ids with another time
    assert lake_contents(home) == ref_lake
    again = ingest_paths(home, files, progress=False, workers=2, chunk_lines=CHUNK)
    assert (again.accepted, again.duplicates) == (0, ref_res.accepted + ref_res.duplicates)


def test_pool_mode_is_used_for_fewer_files_than_workers(tmp_path, reference, monkeypatch):
    seen = []
    real = pipeline.process_file

    def spy(settings, task, advance, pool=None, pool_size=1):
        seen.append((pool is not None, pool_size))
        return real(settings, task, advance, pool=pool, pool_size=pool_size)

    monkeypatch.setattr(pipeline, "process_file", spy)
    ingest_paths(load_settings(tmp_path / "h"), reference[0], progress=False, workers=2,
                 chunk_lines=CHUNK)
    assert seen == [(True, 2)]


def test_parsed_in_pool_keeps_file_order_and_equals_sequential(tmp_path, reference):
    path = reference[0][0]
    task = FileTask(path, "x", 0, "native", "job", "2026-11-28", Limits(), CHUNK)
    with ThreadPoolExecutor(3) as ex:
        got = list(_parsed_in_pool(ex, 3, task, LineReader(Path(path)).batches(CHUNK)))
    want = [(b.end_offset, b.line_no(len(b.lines) - 1), with_table(parse_batch(b, Limits())))
            for b in LineReader(Path(path)).batches(CHUNK)]
    assert [end for end, _ in got] == [(o, n) for o, n, _ in want]
    assert [end[1] for end, _ in got][-1] == 2400
    for (_, p), (_, _, q) in zip(got, want, strict=True):
        assert p.table.equals(q.table) and p.bad_raw == q.bad_raw
        assert p.table.column_names == [f.name for f in ROW_FIELDS] + ["source_line"]
        assert p.rows == [] and p.read == q.read


CHILD = """
from detector.settings import load_settings
from detector.ingest import ingest_paths
print("ready", flush=True)
r = ingest_paths(load_settings({home!r}), {files!r}, progress=False, workers=2,
                 chunk_lines={chunk})
print(r.to_json(), flush=True)
"""


def committed_chunks(home: Path) -> int:
    db = home / "state" / "ingest" / "manifest.sqlite"
    if not db.exists():
        return 0
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
        try:
            return con.execute("SELECT count(*) FROM chunks").fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error:  # schema not created yet
        return 0


def kill_and_rerun(tmp_path: Path, reference, seed: int) -> None:
    """SIGKILL the parent once it has committed a random number of chunks (0 = during
    start-up) plus a random fraction of a chunk's time, then re-run and compare."""
    files, ref_res, ref_lake, _ = reference
    rng = random.Random(seed)
    home = tmp_path / f"home{seed}"
    target, delay = rng.randrange(0, 2400 // CHUNK), rng.uniform(0, 0.3)
    code = CHILD.format(home=str(home), files=files, chunk=CHUNK)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, cwd=ROOT)
    assert proc.stdout.readline().strip() == b"ready"
    deadline = time.time() + 120
    while proc.poll() is None and committed_chunks(home) < target and time.time() < deadline:
        time.sleep(0.01)
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    out, _ = proc.communicate()
    # the kill may land after the job's 'done' commit but before its result reaches stdout
    from .test_crash import killed_run_completed

    finished = killed_run_completed(home)
    res = ingest_paths(load_settings(home), files, progress=False, workers=2,
                       chunk_lines=CHUNK)
    if finished:  # killed after the job completed: the re-run is a redelivery
        if out.strip():
            assert json.loads(out)["accepted"] == ref_res.accepted
        assert (res.read, res.accepted, res.quarantined) == (2400, 0, ref_res.quarantined)
    else:
        assert counts(res) == counts(ref_res)
    assert lake_contents(load_settings(home)) == ref_lake


def test_sigkill_of_pool_parent_then_rerun(tmp_path, reference):
    kill_and_rerun(tmp_path, reference, seed=3)


@pytest.mark.slow
def test_sigkill_of_pool_parent_then_rerun_ten_times_in_a_row(tmp_path, reference):
    for seed in range(200, 210):
        kill_and_rerun(tmp_path, reference, seed)


def test_table_by_date_splits_days_in_order_keeping_row_order():
    from detector.ingest.sources import LineBatch
    from detector.ingest.tables import table_by_date

    recs = [record(1, timestamp="2026-11-27T23:59:59.999999Z"),
            record(2, timestamp="1969-12-31T23:00:00Z"),
            record(3, timestamp="2026-11-26T00:00:00Z"),
            record(4, timestamp="2026-11-27T00:00:00Z")]
    limits = Limits(min_ts_us=-(10**15))
    batch = LineBatch([orjson.dumps(r) for r in recs], 10, 0)
    parsed = with_table(parse_batch(batch, limits))
    out = table_by_date(parsed.table, "f.jsonl", "job")
    assert [d for d, _ in out] == ["1969-12-31", "2026-11-26", "2026-11-27"]
    assert [t.column("request_id").to_pylist() for _, t in out] == [
        ["req_2"], ["req_3"], ["req_1", "req_4"]]
    assert out[2][1].column("source_line").to_pylist() == [10, 13]
    assert set(out[0][1].column("source_file").to_pylist()) == {"f.jsonl"}


def test_every_hostile_line_gives_the_same_lake_in_pool_mode(tmp_path):
    from .test_fastpath import hostile_lines

    lines = hostile_lines() * 3
    path = write_jsonl(tmp_path / "hostile.jsonl", lines)
    seq = ingest_paths(load_settings(tmp_path / "seq"), [path], progress=False, workers=1,
                       chunk_lines=7)
    par = ingest_paths(load_settings(tmp_path / "par"), [path], progress=False, workers=2,
                       chunk_lines=7)
    assert counts(par) == counts(seq) and par.read == len(lines)
    assert par.quarantined > 30 and par.duplicates > 0
    assert lake_contents(load_settings(tmp_path / "par")) == lake_contents(load_settings(tmp_path / "seq"))
