"""Ids another worker commits while a chunk is in flight: reserved before staging, so a chunk
is staged once; a crash or an error between the reservation and the commit gives them back."""

from __future__ import annotations

import numpy as np
import pytest

from detector.ingest import idstore, ingest_paths
from detector.ingest import manifest as mf
from detector.ingest import worker as worker_mod
from detector.ingest.commit import staging_dir
from detector.lake.db import connect

from .ingest_helpers import record, write_jsonl


def test_late_duplicates_are_dropped_before_staging(home, tmp_path, monkeypatch):
    first = write_jsonl(tmp_path / "a.jsonl", [record(i) for i in range(1, 6)])
    ingest_paths(home, [first], progress=False, workers=1)

    # Simulate a concurrent worker: the first probe misses ids already committed (1..5).
    real_known, probes = idstore.IdStore.known, []

    def stale_first_probe(self, con, keys, skip=frozenset()):
        probes.append(len(keys))
        if len(probes) == 1:
            return np.zeros(len(keys), bool), frozenset()
        return real_known(self, con, keys, skip)

    stages = []
    real_stage = worker_mod.ChunkWriter._stage

    def counting_stage(self, parsed, keep):
        stages.append(len(keep))
        return real_stage(self, parsed, keep)

    monkeypatch.setattr(idstore.IdStore, "known", stale_first_probe)
    monkeypatch.setattr(worker_mod.ChunkWriter, "_stage", counting_stage)
    second = write_jsonl(tmp_path / "b.jsonl", [record(i) for i in range(3, 9)])
    res = ingest_paths(home, [second], progress=False, workers=1)

    assert (res.read, res.accepted, res.duplicates, res.quarantined) == (6, 3, 3, 0)
    assert stages == [3]  # staged once, without the late ids 3..5
    # the stale probe, then the probe under the lock of the reservation (finds 3..5)
    assert probes == [6, 6]
    ids = sorted(r[0] for r in connect(home).execute("SELECT request_id FROM requests").fetchall())
    assert ids == sorted(f"req_{i}" for i in range(1, 9))
    assert not any(p.is_file() for p in staging_dir(home).rglob("*"))
    # the discarded attempt left no id run behind; the two listed runs hold 5 + 3 ids
    con = mf.connect(home)
    runs = idstore.listed(con)
    con.close()
    assert sorted(n for _, n, _ in runs) == [3, 5]
    folder = idstore.folder_of(mf.ingest_state_dir(home))
    assert sorted(p.name for p in folder.iterdir()) == sorted(name for name, _, _ in runs)


def _runs(home) -> tuple[list, list]:
    con = mf.connect(home)
    try:
        runs = idstore.listed(con)
        reserved = con.execute("SELECT name FROM id_reserved").fetchall()
    finally:
        con.close()
    return runs, reserved


def test_reserved_ids_are_known_to_other_workers(home, tmp_path):
    """While a chunk is between its reservation and its commit, its ids are duplicates for
    everyone else; the reservation is settled by the chunk's commit."""
    ingest_paths(home, [write_jsonl(tmp_path / "a.jsonl", [record(1)])], progress=False,
                 workers=1)
    con = mf.connect(home)
    store = idstore.IdStore(idstore.folder_of(mf.ingest_state_dir(home)))
    keys = idstore.id_keys([f"req_{i}" for i in (10, 11)])
    run = store.write(keys)
    con.execute("BEGIN IMMEDIATE")
    idstore.list_run(con, run, 2, 0)
    idstore.reserve(con, run)
    con.execute("COMMIT")
    assert store.known(con, keys)[0].all()
    store.compact(con)  # never merges a reserved run
    assert run in [name for name, _, _ in idstore.listed(con)]
    con.close()
    assert _runs(home)[1] == [(run,)]  # still reserved, as an in-flight chunk leaves it


def test_staging_error_gives_the_reservation_back(home, tmp_path, monkeypatch):
    path = write_jsonl(tmp_path / "a.jsonl", [record(i) for i in range(1, 6)])
    real_stage = worker_mod.ChunkWriter._stage

    def failing_stage(self, parsed, keep):
        raise OSError("disk full")

    monkeypatch.setattr(worker_mod.ChunkWriter, "_stage", failing_stage)
    with pytest.raises(OSError, match="disk full"):
        ingest_paths(home, [path], progress=False, workers=1)
    runs, reserved = _runs(home)
    assert runs == [] and reserved == []
    folder = idstore.folder_of(mf.ingest_state_dir(home))
    assert not folder.exists() or not any(folder.iterdir())
    monkeypatch.setattr(worker_mod.ChunkWriter, "_stage", real_stage)
    res = ingest_paths(home, [path], progress=False, workers=1)
    assert (res.accepted, res.duplicates) == (5, 0)


def test_recovery_gives_back_reservations_of_a_killed_chunk(home, tmp_path):
    """A reserved run whose chunk never committed (the process died between the two
    transactions) is delisted by the next ingest, and the chunk's requests are stored."""
    path = write_jsonl(tmp_path / "a.jsonl", [record(i) for i in range(1, 6)])
    con = mf.connect(home)
    store = idstore.IdStore(idstore.folder_of(mf.ingest_state_dir(home)))
    run = store.write(idstore.id_keys([f"req_{i}" for i in range(1, 6)]))
    con.execute("BEGIN IMMEDIATE")
    idstore.list_run(con, run, 5, 0)
    idstore.reserve(con, run)
    con.execute("COMMIT")
    con.close()
    res = ingest_paths(home, [path], progress=False, workers=1)
    assert (res.read, res.accepted, res.duplicates) == (5, 5, 0)
    runs, reserved = _runs(home)
    assert reserved == [] and run not in [name for name, _, _ in runs]
    assert not (idstore.folder_of(mf.ingest_state_dir(home)) / run).exists()
