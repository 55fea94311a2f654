"""A chunk whose ids another worker committed after the probe is restaged outside the lock."""

from __future__ import annotations

import numpy as np
from ingest_helpers import record, write_jsonl

from detector.ingest import idstore, ingest_paths
from detector.ingest import manifest as mf
from detector.ingest import worker as worker_mod
from detector.ingest.commit import staging_dir
from detector.lake.db import connect


def test_late_duplicates_are_restaged_outside_the_lock(home, tmp_path, monkeypatch):
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
    assert stages == [6, 3]  # staged with the late ids 3..5, then again without them
    # stale probe, probe under the lock (finds 3..5), then both probes of the 3 left
    assert probes == [6, 6, 3, 3]
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
