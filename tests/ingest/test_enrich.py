"""Enrichment: a re-delivery that completes a stored record upgrades it in place
(detector/ingest/enrich.py); one that contradicts it is kept in the quarantine; every
re-delivery counts as a duplicate (enriched and conflicting are kinds of duplicates); the days
it changes are marked for rescoring."""

from __future__ import annotations

import copy
import itertools

import orjson
import pytest

from detector.ingest import dirty_dates, mark_scored
from detector.ingest.enrich import Conflict, merge_rows

from .ingest_helpers import ingest_counted, record, rows_by_id, write_jsonl


def _bare(i: int, **changes: object) -> dict:
    """A record as a gateway without bodies logs it: no prompt, no output, no tokens."""
    rec = record(i, request={"model": "frontier-large"}, **changes)
    for key in ("response", "usage", "user_agent"):
        rec.pop(key)
    return rec


def _full(i: int, **changes: object) -> dict:
    rec = record(i, **changes)
    rec["request"] = {**rec["request"], "model": "frontier-large", "user": "end-user-1"}
    return rec


def test_fuller_redelivery_enriches_the_stored_row(home, tmp_path):
    write_jsonl(tmp_path / "a" / "bare.jsonl", [_bare(i) for i in range(3)])
    write_jsonl(tmp_path / "b" / "full.jsonl", [_full(i) for i in range(3)])
    first = ingest_counted(home, [tmp_path / "a"])
    assert (first.accepted, first.enriched) == (3, 0)
    assert rows_by_id(home)["req_0"]["prompt_text"] == ""
    second = ingest_counted(home, [tmp_path / "b"])
    assert (second.accepted, second.duplicates, second.quarantined) == (0, 3, 0)
    assert (second.enriched, second.conflicting) == (3, 0)
    assert orjson.loads(second.to_json())["enriched"] == 3
    assert second.files[0].enriched == 3
    rows = rows_by_id(home)
    assert len(rows) == 3
    row = rows["req_0"]
    assert row["prompt_text"].startswith("Explain step by step")
    assert (row["prompt_tokens"], row["completion_tokens"]) == (31, 412)
    assert row["user_agent"] == "python-httpx/0.28.1"
    assert row["end_user_hash"] is not None and row["status"] == 200
    assert row["source_file"].endswith("bare.jsonl")  # stored where it was first delivered
    third = ingest_counted(home, [write_jsonl(tmp_path / "c" / "again.jsonl",
                                              [_full(i) for i in range(3)])])
    assert (third.enriched, third.duplicates) == (0, 3)  # exact copies: plain duplicates


def test_same_rows_whatever_the_order(home, tmp_path):
    from detector.settings import load_settings

    write_jsonl(tmp_path / "bare.jsonl", [_bare(i) for i in range(4)])
    write_jsonl(tmp_path / "full.jsonl", [_full(i) for i in range(4)])
    ingest_counted(home, [tmp_path / "bare.jsonl"])
    ingest_counted(home, [tmp_path / "full.jsonl"])
    other = load_settings(tmp_path / "other")
    res = ingest_counted(other, [tmp_path / "full.jsonl"])
    assert res.accepted == 4
    later = ingest_counted(other, [tmp_path / "bare.jsonl"])
    assert (later.duplicates, later.enriched) == (4, 0)  # a poorer copy adds nothing
    skip = {"source_file", "source_line", "ingest_id"}
    one, two = rows_by_id(home), rows_by_id(other)
    assert {k: {c: v for c, v in r.items() if c not in skip} for k, r in one.items()} == \
        {k: {c: v for c, v in r.items() if c not in skip} for k, r in two.items()}


def test_conflicting_redelivery_is_a_duplicate_kept_in_the_quarantine(home, tmp_path):
    from detector.ingest.quarantine import list_quarantine, show_quarantine, summary

    write_jsonl(tmp_path / "a.jsonl", [_bare(0), _bare(1)])
    ingest_counted(home, [tmp_path / "a.jsonl"])
    changed = _full(0, account_id="acct_other")
    res = ingest_counted(home, [write_jsonl(tmp_path / "b.jsonl", [changed, _full(1)])])
    assert (res.accepted, res.duplicates, res.quarantined) == (0, 2, 0)
    assert (res.enriched, res.conflicting) == (1, 1)
    assert (res.files[0].enriched, res.files[0].conflicting) == (1, 1)
    assert orjson.loads(res.to_json())["conflicting"] == 1
    [kept] = list_quarantine(home)
    assert (kept["reason"], kept["counted"]) == ("conflicting_redelivery: account_id",
                                                 "duplicates")
    assert kept["source_file"].endswith("b.jsonl") and kept["source_line"] == 1
    assert summary(home) == [{"reason": "conflicting_redelivery", "count": 1,
                              "counted": "duplicates"}]
    raw = show_quarantine(home, "b.jsonl", 1)[0]["raw"]
    assert orjson.loads(raw)["request_id"] == "req_0"
    assert orjson.loads(raw)["account_id"] == "acct_other"  # the re-delivery, kept whole
    assert rows_by_id(home)["req_0"]["account_id"] == "acct_0042"  # the stored row is kept
    assert rows_by_id(home)["req_0"]["prompt_text"] == ""


def test_within_one_file_the_first_copy_is_completed(home, tmp_path):
    res = ingest_counted(home, [write_jsonl(tmp_path / "a.jsonl", [_bare(0), _full(0)])])
    assert (res.accepted, res.duplicates, res.enriched) == (1, 1, 1)
    assert rows_by_id(home)["req_0"]["prompt_tokens"] == 31


def test_redelivered_timestamp_counts_as_a_duplicate(home, tmp_path):
    """The contract: the same id delivered twice is one request, whatever else differs."""
    ingest_counted(home, [write_jsonl(tmp_path / "a.jsonl", [_full(0), _full(1)])])
    moved = _full(0, timestamp="2026-11-20T11:00:00Z")
    res = ingest_counted(home, [write_jsonl(tmp_path / "b.jsonl", [moved, _full(1)])])
    assert (res.read, res.accepted, res.duplicates, res.quarantined) == (2, 0, 2, 0)
    assert (res.enriched, res.conflicting) == (0, 1)


def test_older_manifest_counts_move_enriched_into_duplicates(home, tmp_path):
    """A manifest written when enriched records were counted outside duplicates (and before
    ``conflicting`` existed) is brought to the contract when opened."""
    from detector.ingest import manifest as mf

    ingest_counted(home, [write_jsonl(tmp_path / "a.jsonl", [_bare(0)])])
    ingest_counted(home, [write_jsonl(tmp_path / "b.jsonl", [_full(0)])])
    con = mf.connect(home)
    for table in ("files", "job_files"):  # as the earlier code left it
        con.execute(f"UPDATE {table} SET duplicates = duplicates - enriched")
        con.execute(f"ALTER TABLE {table} DROP COLUMN conflicting")
    con.close()
    con = mf.connect(home)
    got = con.execute("SELECT read, accepted, duplicates, quarantined, enriched, conflicting "
                      "FROM files ORDER BY file_id").fetchall()
    jobs = con.execute("SELECT read, accepted + duplicates + quarantined FROM job_files"
                       ).fetchall()
    con.close()
    assert got == [(1, 1, 0, 0, 0, 0), (1, 0, 1, 0, 1, 0)]
    assert all(read == total for read, total in jobs)
    again = ingest_counted(home, [tmp_path / "b.jsonl"])  # a redelivery of the enriching file
    assert (again.read, again.duplicates, again.enriched) == (1, 1, 0)


def test_enriched_day_is_marked_for_rescoring(home, tmp_path):
    day1 = _bare(0, timestamp="2026-11-20T10:00:00Z")
    day2 = _bare(1, timestamp="2026-11-21T10:00:00Z")
    ingest_counted(home, [write_jsonl(tmp_path / "a.jsonl", [day1, day2])])
    mark_scored(home, dirty_dates(home))
    assert dirty_dates(home) == []
    res = ingest_counted(home, [write_jsonl(tmp_path / "b.jsonl", [
        _full(0, timestamp="2026-11-20T10:00:00Z")])])
    assert res.enriched == 1
    assert res.rescore_dates == ["2026-11-20"]
    assert dirty_dates(home) == ["2026-11-20", "2026-11-21"]  # and the days after it


def _row_of(rec: dict) -> dict:
    from detector.ingest.normalize import Limits, normalize
    from detector.ingest.tables import ROW_FIELDS, rows_to_table

    table = rows_to_table([normalize(rec, Limits(), [])], [1], "", "")
    return table.select([f.name for f in ROW_FIELDS]).to_pylist()[0]


def test_merge_rows():
    bare, full = _row_of(_bare(0)), _row_of(_full(0))
    assert merge_rows(full, bare) is None  # nothing new
    assert merge_rows(full, full) is None
    merged = merge_rows(bare, full)
    assert merged == full
    other = copy.deepcopy(_full(0))
    other["request"]["messages"][1]["content"] = "something else"
    with pytest.raises(Conflict, match="request.messages"):
        merge_rows(full, _row_of(other))
    with pytest.raises(Conflict, match="latency_ms"):
        merge_rows(bare, _row_of(_full(0, latency_ms=5)))
    sampled = merge_rows(bare, full, sampled=True)
    assert sampled["prompt_text"] is None and sampled["prompt_hash"] == full["prompt_hash"]


def test_property_any_order_of_a_partial_and_a_full_copy_stores_the_full_row(tmp_path):
    """For records missing any subset of what a source may lack, delivered before or after
    the full record in another command: read = accepted + duplicates + quarantined for each
    command (enriched + conflicting <= duplicates), and the lake ends with the row of the full
    record."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from detector.settings import load_settings

    droppable = ["response", "usage", "user_agent", "client_ip", "model", "latency_ms",
                 "messages", "user"]
    text = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=12)
    skip = {"source_file", "source_line", "ingest_id"}
    examples = itertools.count()

    @settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(st.sets(st.sampled_from(droppable)), min_size=1, max_size=3),
           st.booleans(), text)
    def check(drops, partial_first, prompt):
        d = tmp_path / str(next(examples))  # a fresh home per example
        full, part = [], []
        for i, drop in enumerate(drops):
            rec = _full(i)
            rec["request"]["messages"][1]["content"] = prompt
            full.append(rec)
            cut = copy.deepcopy(rec)
            for key in drop:
                if key in ("messages", "user"):
                    cut["request"].pop(key, None)
                else:
                    cut.pop(key, None)
            part.append(cut)
        a = write_jsonl(d / "partial.jsonl", part)
        b = write_jsonl(d / "full.jsonl", full)
        home = load_settings(d / "home")
        ref = load_settings(d / "ref")
        first, second = (a, b) if partial_first else (b, a)
        ingest_counted(home, [first])
        res = ingest_counted(home, [second])
        ingest_counted(ref, [b])
        changed = sum(1 for p, f in zip(part, full, strict=True) if p != f)
        assert (res.accepted, res.duplicates, res.conflicting) == (0, len(full), 0)
        assert res.enriched == (changed if partial_first else 0)
        strip = [{k: {c: v for c, v in r.items() if c not in skip}
                  for k, r in rows_by_id(h).items()} for h in (home, ref)]
        assert strip[0] == strip[1]
    check()


def test_a_file_of_conflicting_redeliveries_is_readable(home, tmp_path):
    """Conflicts are not structural failures: a file whose every record contradicts a stored
    one is ingested (not refused as unreadable), every record a duplicate."""
    ingest_counted(home, [write_jsonl(tmp_path / "a.jsonl", [_full(i) for i in range(12)])])
    moved = [_full(i, timestamp="2026-11-20T11:00:00Z") for i in range(12)]
    res = ingest_counted(home, [write_jsonl(tmp_path / "b.jsonl", moved)])
    assert (res.read, res.duplicates, res.conflicting, res.quarantined) == (12, 12, 12, 0)


def test_copies_across_files_count_the_same_with_one_and_two_workers(tmp_path):
    """Files whose chunks are in flight together: exact copies, copies with another time and
    with another account of ids stored by another file; the counts do not depend on which
    worker reserves an id first (decided from the id store or the stored row, after waiting)."""
    from detector.ingest import ingest_paths
    from detector.settings import load_settings

    for f in range(4):
        recs = []
        for i in range(f * 300, f * 300 + 300):
            recs.append(record(i, timestamp=f"2026-11-27T{i % 24:02d}:00:00Z"))
            j = (i * 7) % 1200  # an id of any file, earlier or later
            if i % 10 == 0:  # an exact copy
                recs.append(record(j, timestamp=f"2026-11-27T{j % 24:02d}:00:00Z"))
            elif i % 10 == 1:  # another time
                recs.append(record(j, timestamp=f"2026-11-26T{j % 24:02d}:30:00Z"))
            elif i % 10 == 2:  # the same time, another account
                recs.append(record(j, timestamp=f"2026-11-27T{j % 24:02d}:00:00Z",
                                   account_id="acct_other"))
        write_jsonl(tmp_path / "logs" / f"part-{f}.jsonl", recs)
    files = sorted((tmp_path / "logs").iterdir())
    out = []
    for workers in (1, 2, 2):
        home = load_settings(tmp_path / f"home{len(out)}")
        res = ingest_paths(home, files, progress=False, workers=workers, chunk_lines=40)
        assert res.read == res.accepted + res.duplicates + res.quarantined
        out.append((res.read, res.accepted, res.duplicates, res.quarantined, res.conflicting,
                    res.enriched))
    assert out[0][1] == 1200 and out[0][4] > 0
    assert out[1] == out[0] and out[2] == out[0]


def test_stored_heads_never_serve_a_replaced_part_from_the_cache(home):
    """The cached columns of a part are used only while the file is the same one."""
    from datetime import UTC, datetime

    import pyarrow as pa
    import pyarrow.parquet as pq

    from detector.ingest.stored import stored_heads

    part = home.requests_dir / "date=2026-11-27" / "part-a.parquet"
    part.parent.mkdir(parents=True)

    def write(hour: int) -> None:
        tmp = part.with_name(".part-a.tmp")
        pq.write_table(pa.table({"request_id": ["req_1", "req_2"],
                                 "ts": pa.array([datetime(2026, 11, 27, hour, tzinfo=UTC)] * 2,
                                                pa.timestamp("us", tz="UTC")),
                                 "account_id": ["acct_1", "acct_2"]}), tmp)
        tmp.replace(part)  # as the lake's writers do: a new file, never one changed in place

    write(1)
    assert stored_heads(home, {"req_2": "2026-11-27"})["req_2"][1].hour == 1
    assert stored_heads(home, {"req_2": "2026-11-27"})["req_2"][1].hour == 1  # cached
    write(5)
    assert stored_heads(home, {"req_2": "2026-11-27"})["req_2"][1].hour == 5
    assert stored_heads(home, {"req_9": "2026-11-27"}) == {}
