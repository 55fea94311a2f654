"""The id store: sorted runs listed in the manifest, probed, compacted, recovered, migrated."""

from __future__ import annotations

import hashlib
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detector.ingest import idstore, ingest_paths
from detector.ingest import manifest as mf

from .ingest_helpers import record, write_jsonl


@pytest.fixture
def store(home):
    con = mf.connect(home)
    folder = idstore.folder_of(mf.ingest_state_dir(home))
    yield con, idstore.IdStore(folder)
    con.close()


def _add(con, ids: idstore.IdStore, keys: np.ndarray, level: int = 0) -> str:
    name = ids.write(keys, level)
    con.execute("BEGIN IMMEDIATE")
    idstore.list_run(con, name, len(keys), level)
    con.execute("COMMIT")
    return name


def keys_of(*request_ids: str) -> np.ndarray:
    return idstore.id_keys(list(request_ids))


def test_keys_are_the_former_seen_table_values():
    rid = "chatcmpl-é-42"
    digest = hashlib.blake2b(rid.encode("utf-8"), digest_size=16).digest()
    assert tuple(keys_of(rid)[0]) == struct.unpack("<qq", digest)
    assert keys_of().shape == (0, 2)


def test_first_occurrences_keep_input_order():
    keys = keys_of("b", "a", "b", "c", "a")
    assert idstore.first_occurrences(keys).tolist() == [0, 1, 3]
    assert idstore.first_occurrences(keys_of()).tolist() == []


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3)), max_size=40))
def test_first_occurrences_with_shared_first_halves(pairs):
    """Few distinct halves: many rows share a first half with different second halves (the
    64-bit collision case) and many repeat whole."""
    keys = np.array(pairs, np.int64).reshape(-1, 2)
    seen, want = set(), []
    for i, pair in enumerate(pairs):
        if pair not in seen:
            seen.add(pair)
            want.append(i)
    assert idstore.first_occurrences(keys).tolist() == want


def test_probe_finds_stored_ids_across_runs_and_skips_runs_already_read(store):
    con, ids = store
    first = _add(con, ids, keys_of(*(f"a{i}" for i in range(100))))
    second = _add(con, ids, keys_of(*(f"b{i}" for i in range(50))))
    query = keys_of("a3", "b7", "c1", "a99", "b50")
    mask, read = ids.known(con, query)
    assert mask.tolist() == [True, True, False, True, False]
    assert read == {first, second}
    mask, _ = ids.known(con, query, skip=frozenset({first}))
    assert mask.tolist() == [False, True, False, False, False]
    assert ids.known(con, keys_of())[0].tolist() == []


def test_a_64_bit_collision_is_told_apart_by_the_second_half(store):
    con, ids = store
    stored = np.array([[7, 1], [7, 3], [5, 9], [7, 2]], np.int64)
    _add(con, ids, stored)
    query = np.array([[7, 2], [7, 4], [7, 3], [5, 9], [5, 8], [8, 1]], np.int64)
    assert ids.known(con, query)[0].tolist() == [True, False, True, True, False, False]


def test_compaction_merges_a_full_level_and_keeps_every_id(store, monkeypatch):
    con, ids = store
    monkeypatch.setattr(idstore, "FANOUT", 3)
    monkeypatch.setattr(idstore, "MAX_LEVEL", 2)
    all_keys = []
    for r in range(9):
        keys = keys_of(*(f"r{r}-{i}" for i in range(20)))
        all_keys.append(keys)
        _add(con, ids, keys)
        ids.compact(con)
    levels = sorted(level for _, _, level in idstore.listed(con))
    assert levels == [2]  # 9 runs -> 3 of level 1 -> 1 of level 2 (the last level merged)
    assert [n for _, n, _ in idstore.listed(con)] == [180]
    assert ids.known(con, np.concatenate(all_keys))[0].all()
    assert not ids.known(con, keys_of("r9-0", "x"))[0].any()
    files = sorted(p.name for p in ids.folder.iterdir())
    assert files == [name for name, _, _ in idstore.listed(con)]  # inputs deleted
    for r in range(3):  # level 2 is the last: its runs are not merged further
        _add(con, ids, keys_of(*(f"s{r}-{k}-{i}" for k in range(9) for i in range(20))), 2)
    assert ids.compact(con) == 0


def test_compaction_gives_up_when_another_worker_merged_the_inputs(store, monkeypatch):
    con, ids = store
    monkeypatch.setattr(idstore, "FANOUT", 2)
    a = _add(con, ids, keys_of("a"))
    b = _add(con, ids, keys_of("b"))
    stale = idstore.listed(con)
    con.execute("DELETE FROM id_runs WHERE name = ?", (a,))  # as if merged elsewhere meanwhile
    real, calls = idstore.listed, []

    def stale_first(c):
        calls.append(1)
        return stale if len(calls) == 1 else real(c)

    monkeypatch.setattr(idstore, "listed", stale_first)
    assert ids.compact(con) == 0
    assert [name for name, _, _ in real(con)] == [b]
    # the merged run was dropped: only the two inputs' files are left
    assert sorted(p.name for p in ids.folder.iterdir()) == sorted([a, b])


def test_a_probe_rereads_the_listing_when_a_run_vanishes(store, monkeypatch):
    con, ids = store
    _add(con, ids, keys_of("a"))
    real, calls = idstore.listed, []

    def first_lists_a_merged_away_run(c):
        calls.append(1)
        return [("run-0-gone.npy", 1, 0)] if len(calls) == 1 else real(c)

    monkeypatch.setattr(idstore, "listed", first_lists_a_merged_away_run)
    assert ids.known(con, keys_of("a", "b"))[0].tolist() == [True, False]
    assert len(calls) == 2


def test_unlisted_runs_are_crash_garbage(store):
    con, ids = store
    kept = _add(con, ids, keys_of("a"))
    orphan = ids.write(keys_of("b"))  # written, never listed: a crash before the commit
    (ids.folder / ".run-0-x.npy.tmp").write_bytes(b"partial")
    assert idstore.remove_unlisted(con, ids.folder) == 2
    assert [p.name for p in ids.folder.iterdir()] == [kept]
    assert orphan not in {name for name, _, _ in idstore.listed(con)}


def test_ids_of_an_older_home_move_into_one_run(store):
    con, ids = store
    legacy = keys_of(*(f"old{i}" for i in range(10)))
    con.executemany("INSERT INTO seen VALUES (?, ?)", [tuple(map(int, k)) for k in legacy[:9]])
    con.execute("INSERT INTO seen_extra VALUES (?, ?)", tuple(map(int, legacy[9])))
    assert idstore.migrate_seen_tables(con, ids) == 10
    assert con.execute("SELECT count(*) FROM seen").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM seen_extra").fetchone()[0] == 0
    assert ids.known(con, legacy)[0].all()
    assert idstore.migrate_seen_tables(con, ids) == 0


def test_reingest_after_migration_counts_old_ids_as_duplicates(home, tmp_path):
    first = write_jsonl(tmp_path / "a.jsonl", [record(i) for i in range(1, 6)])
    ingest_paths(home, [first], progress=False, workers=1)
    # Turn the home into one of the former layout: ids in `seen`, no runs.
    con = mf.connect(home)
    folder = idstore.folder_of(mf.ingest_state_dir(home))
    ids = idstore.IdStore(folder)
    rows = np.concatenate([np.asarray(ids._run(n))[:2].T for n, _, _ in idstore.listed(con)])
    con.executemany("INSERT INTO seen VALUES (?, ?)", [tuple(map(int, r)) for r in rows])
    con.execute("DELETE FROM id_runs")
    con.close()
    for p in folder.iterdir():
        p.unlink()
    second = write_jsonl(tmp_path / "b.jsonl", [record(i) for i in range(3, 9)])
    res = ingest_paths(home, [second], progress=False, workers=1)
    assert (res.read, res.accepted, res.duplicates) == (6, 3, 3)


def test_a_damaged_run_is_named_in_the_error(store):
    con, ids = store
    name = _add(con, ids, keys_of("a"))
    (ids.folder / name).write_bytes(b"not an array")
    with pytest.raises(RuntimeError, match=f"{name}: unreadable id run"):
        ids.known(con, keys_of("a"))


def test_in_flight_gives_the_time_of_ids_held_by_reserved_runs_only(store):
    con, ids = store
    settled = _add(con, ids, keys_of("s1", "s2"))
    name = ids.write(keys_of("r1", "r2", "r3"), ts=np.array([30, 10, 20], np.int64))
    con.execute("BEGIN IMMEDIATE")
    idstore.list_run(con, name, 3, 0)
    idstore.reserve(con, name)
    con.execute("COMMIT")
    assert ids._run(name).shape == (3, 3) and ids._run(settled).shape == (2, 2)
    ts, runs = ids.in_flight(con, keys_of("r3", "s1", "x", "r1"))
    assert ts.tolist() == [20, idstore.NO_TS, idstore.NO_TS, 30]
    assert runs.tolist() == [name, None, None, name]
    con.execute("BEGIN IMMEDIATE")
    idstore.settle(con, name)
    con.execute("COMMIT")
    assert (ids.in_flight(con, keys_of("r1"))[0] == idstore.NO_TS).all()
    assert ids.known(con, keys_of("r1", "r2", "s2", "x"))[0].tolist() == [True, True, True, False]
