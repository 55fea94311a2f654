"""Crash safety: a real SIGKILL at a random moment, or a crash at each step of the commit
protocol, then a re-run, gives exactly the counts and lake of an uninterrupted run."""

from __future__ import annotations

import gzip
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from detector.ingest import idstore, ingest_paths
from detector.ingest import manifest as mf
from detector.lake.db import connect
from detector.settings import load_settings

from .ingest_helpers import record

CHUNK = 150
CHILD = """
import sys, os
from detector.settings import load_settings
from detector.ingest import idstore, ingest_paths
from detector.ingest import manifest as mf
{patch}
print("ready", flush=True)
r = ingest_paths(load_settings({home!r}), {files!r}, progress=False, workers={workers},
                 chunk_lines={chunk})
print(r.to_json(), flush=True)
"""
ROOT = str(Path(__file__).resolve().parents[2])


def make_inputs(folder: Path) -> list[str]:
    """Four files, two days, overlapping ids across files, ~1% bad lines, one gzip."""
    rng = random.Random(5)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for k in range(4):
        lines = []
        for i in range(k * 700, k * 700 + 1000):
            if rng.random() < 0.01:
                lines.append(b'{"request_id": "broken", ')
                continue
            day = "2026-11-26" if i % 3 else "2026-11-27"
            lines.append(orjson.dumps(record(i, timestamp=f"{day}T0{i % 10}:00:00Z")))
        data = b"\n".join(lines) + b"\n"
        path = folder / (f"f{k}.jsonl.gz" if k == 2 else f"f{k}.jsonl")
        path.write_bytes(gzip.compress(data) if k == 2 else data)
        paths.append(str(path))
    return paths


def lake_state(home) -> dict:
    con = connect(home)
    ids = con.execute("SELECT request_id FROM requests").fetchall()
    per_day = con.execute("SELECT CAST(date AS VARCHAR), count(*) FROM requests GROUP BY 1 "
                          "ORDER BY 1").fetchall()
    bad = con.execute("SELECT source_file, source_line FROM quarantine ORDER BY 1, 2").fetchall()
    leftovers = [p for p in home.home.rglob("*") if p.name.endswith(".tmp")
                 or "staging" in p.parts and p.is_file()]
    manifest = mf.connect(home)
    listed = {name for name, _, _ in idstore.listed(manifest)}
    manifest.close()
    runs = idstore.folder_of(mf.ingest_state_dir(home))
    leftovers += [p for p in runs.iterdir() if p.name not in listed]  # unlisted id runs
    return {"rows": len(ids), "distinct": len(set(ids)), "per_day": per_day, "bad": bad,
            "leftovers": leftovers}


def totals(res) -> tuple:
    return (res.read, res.accepted, res.duplicates, res.quarantined, res.dates)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    base = tmp_path_factory.mktemp("crash")
    files = make_inputs(base / "logs")
    home = load_settings(base / "ref")
    t0 = time.perf_counter()
    res = ingest_paths(home, files, progress=False, workers=1, chunk_lines=CHUNK)
    seconds = time.perf_counter() - t0
    state = lake_state(home)
    assert state["rows"] == state["distinct"] == res.accepted
    assert res.read == 4000 and res.quarantined == len(state["bad"]) > 0
    return files, res, state, seconds


def start_child(home: Path, files: list[str], workers: int, patch: str = "") -> subprocess.Popen:
    code = CHILD.format(home=str(home), files=files, workers=workers, chunk=CHUNK,
                        patch=patch)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, cwd=ROOT)
    assert proc.stdout.readline().strip() == b"ready"
    return proc


def killed_run_completed(home_dir: Path) -> bool:
    """True when the killed run had already committed its whole job (killed while exiting)."""
    db = home_dir / "state" / "ingest" / "manifest.sqlite"
    if not db.exists():
        return False
    con = sqlite3.connect(db)
    try:  # the kill can land after the file is created and before its tables are
        if not con.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table' "
                           "AND name = 'jobs'").fetchone()[0]:
            return False
        return con.execute("SELECT count(*) FROM jobs WHERE status = 'done'").fetchone()[0] > 0
    finally:
        con.close()


def rerun_and_compare(home_dir: Path, files: list[str], reference) -> None:
    _, ref_res, ref_state, _ = reference
    completed = killed_run_completed(home_dir)
    home = load_settings(home_dir)
    res = ingest_paths(home, files, progress=False, workers=1, chunk_lines=CHUNK)
    if completed:  # then the re-run is a redelivery: nothing new, same lake
        assert (res.read, res.accepted, res.quarantined) == (4000, 0, ref_res.quarantined)
    else:
        assert totals(res) == totals(ref_res)
    state = lake_state(home)
    assert state == ref_state


def kill_and_rerun(tmp_path: Path, reference, seed: int) -> None:
    files, _, _, seconds = reference
    rng = random.Random(seed)
    home = tmp_path / f"home{seed}"
    proc = start_child(home, files, workers=1 + seed % 2)
    time.sleep(rng.uniform(0, seconds * 1.2))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    rerun_and_compare(home, files, reference)


def test_sigkill_then_rerun(tmp_path, reference):
    kill_and_rerun(tmp_path, reference, seed=1)


@pytest.mark.slow
def test_sigkill_then_rerun_ten_times_in_a_row(tmp_path, reference):
    for seed in range(100, 110):
        kill_and_rerun(tmp_path, reference, seed)


CRASH_AT = {
    # in the transaction that lists and reserves the chunk's id run, before it commits
    "before_commit": "import detector.ingest.idstore as m\n"
                     "n = [0]\norig = m.list_run\n"
                     "def boom(*a):\n    n[0] += 1\n    if n[0] == 5: os._exit(137)\n"
                     "    return orig(*a)\nm.list_run = boom",
    # ids reserved and Parquet staged, killed inside the chunk transaction (not committed)
    "reserved_before_commit": "import detector.ingest.idstore as m\n"
                              "n = [0]\norig = m.settle\n"
                              "def boom(*a):\n    n[0] += 1\n    if n[0] == 5: os._exit(137)\n"
                              "    return orig(*a)\nm.settle = boom",
    # after the commit, before the staged files are renamed into the lake
    "before_publish": "import detector.ingest.worker as w\n"
                      "n = [0]\norig = w.publish\n"
                      "def boom(*a):\n    n[0] += 1\n    if n[0] == 5: os._exit(137)\n"
                      "    return orig(*a)\nw.publish = boom",
    # id-run compaction: merged run written, killed before the swap lists it
    "compaction_before_swap": "import detector.ingest.idstore as m\n"
                              "orig = m.list_run\n"
                              "def boom(con, name, n, level):\n"
                              "    if level > 0: os._exit(137)\n"
                              "    return orig(con, name, n, level)\nm.list_run = boom",
    # id-run compaction: swap committed, killed before the merged inputs are deleted
    "compaction_before_delete": "import detector.ingest.idstore as m\n"
                                "def boom(self, name):\n    os._exit(137)\n"
                                "m.IdStore.discard = boom",
    # after publishing, before the chunk is marked published
    "before_mark": "import detector.ingest.worker as w\n"
                   "n = [0]\norig = w.mark_published\n"
                   "def boom(*a):\n    n[0] += 1\n    if n[0] == 5: os._exit(137)\n"
                   "    return orig(*a)\nw.mark_published = boom",
}


@pytest.mark.parametrize("point", sorted(CRASH_AT))
def test_crash_at_each_step_of_the_commit(tmp_path, reference, point):
    files = reference[0]
    home = tmp_path / point
    proc = start_child(home, files, workers=1, patch=CRASH_AT[point])
    assert proc.wait(timeout=300) == 137
    if point == "before_publish":
        staged = list((home / "state" / "ingest" / "staging").rglob("*.parquet"))
        assert staged, "the committed chunk's files should still be staged"
    rerun_and_compare(home, files, reference)


@pytest.mark.slow
def test_orphan_worker_dies_with_killed_parent(tmp_path, reference):
    files = reference[0]
    home = tmp_path / "orphans"
    proc = start_child(home, files, workers=2)
    time.sleep(0.5)
    children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.time() + 30
    while time.time() < deadline and any(Path(f"/proc/{c}").exists() and
                                         "Z" not in _state(c) for c in children):
        time.sleep(0.1)
    assert all(not Path(f"/proc/{c}").exists() or "Z" in _state(c) for c in children)
    rerun_and_compare(home, files, reference)


def _state(pid: str) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[1].split()[0]
    except OSError:
        return "Z"
