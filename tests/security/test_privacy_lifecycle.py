"""Privacy lifecycle: retention per artefact, and `detector erase --account ID` removing an
account's personal data everywhere (audited, with what is kept and why)."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from detector.cases import CaseStore
from detector.cases.claims import claim
from detector.cli.main import app
from detector.lake.io import write_parquet_atomic
from detector.lake.schema import QUARANTINE_SCHEMA, REQUEST_SCHEMA
from detector.privacy import apply_all_retention, erase_account, pseudonym

VICTIM = "acct_block"
OTHER = "acct_allow"


def _cache_rows(hashes: list[str], created: dt.datetime) -> pa.Table:
    n = len(hashes)
    return pa.table({"prompt_hash": hashes,
                     "vector": pa.array([[0.6, 0.8]] * n, pa.list_(pa.float32())),
                     "backend": ["static"] * n, "model_version": ["v1"] * n,
                     "created_at": pa.array([created] * n, pa.timestamp("us", tz="UTC"))})


@pytest.fixture()
def full_home(settings):
    """The API test home plus the artefacts the lifecycle covers: hashed prompts and their
    cached vectors, a quarantined line, the returning index, a decision, a label, an
    allow-list entry, a campaign JSON and a report."""
    home = settings.home
    rows = []
    for acct, h in ((VICTIM, "hb1"), (OTHER, "ha1")):
        row = {f.name: None for f in REQUEST_SCHEMA}
        row.update(request_id=f"{acct}-x", ts=dt.datetime(2026, 11, 27, 3, tzinfo=dt.UTC),
                   account_id=acct, org_id="org", model="m", endpoint="/v1/chat/completions",
                   prompt_text="hello", prompt_hash=h, payment_fingerprint=f"pm_{acct}",
                   ip="203.0.113.7")
        rows.append(row)
    write_parquet_atomic(settings.requests_dir / "date=2026-11-27" / "part-1.parquet",
                         pa.Table.from_pylist(rows, schema=REQUEST_SCHEMA))
    old = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    write_parquet_atomic(home / "embeddings" / "cache" / "model=static-v1" / "part-1.parquet",
                         _cache_rows(["hb1", "ha1"], old))
    q = [{"source_file": "in.jsonl", "source_line": 3, "reason": "bad_ts",
          "raw": json.dumps({"account_id": VICTIM, "ts": "never"}).encode(), "ingest_id": "j",
          "quarantined_at": old},
         {"source_file": "in.jsonl", "source_line": 4, "reason": "bad_ts",
          "raw": json.dumps({"account_id": OTHER, "ts": "never"}).encode(), "ingest_id": "j",
          "quarantined_at": old}]
    write_parquet_atomic(settings.quarantine_dir / "date=2026-11-27" / "part-0.parquet",
                         pa.Table.from_pylist(q, schema=QUARANTINE_SCHEMA))
    write_parquet_atomic(settings.state_dir / "returning" / "date=2026-11-27" / "keys.parquet",
                         pa.table({"account_id": [VICTIM, OTHER],
                                   "date": [dt.date(2026, 11, 27)] * 2,
                                   "key_type": ["payment", "payment"], "key": ["k1", "k2"],
                                   "source": ["model", "model"]}))
    (home / "clusters" / "date=2026-11-27" / "campaigns.json").write_text(
        json.dumps({"campaigns": [{"members": [VICTIM, "acct_review"]}]}))
    report = settings.reports_dir / "daily" / "2026-11-27"
    report.mkdir(parents=True)
    (report / "flagged.csv").write_text(f"account_id,score\n{VICTIM},0.95\n{OTHER},0.05\n")
    (report / "report.html").write_text(f"<td>{VICTIM}</td><td>{OTHER}</td>")
    store = CaseStore(settings)
    store.record_decision(VICTIM, "confirm-block", "ana", note="called jane@example.com",
                          date="2026-11-27")
    store.record_decision(OTHER, "clear", "ana", note="fine", date="2026-11-27")
    store.add_label(VICTIM, True, note="from ticket 42")
    store.allowlist_add(account_id=VICTIM, reason="partner jane", analyst="ana")
    claim(store, VICTIM, "ana", ttl_s=600)
    return settings


def _parquet_cells(root) -> list[tuple[str, str]]:
    """(file, column) of every string cell equal to the victim's id anywhere under root."""
    hits = []
    for path in root.rglob("*.parquet"):
        t = pq.read_table(path)
        for name in t.column_names:
            typ = t.schema.field(name).type
            if pa.types.is_dictionary(typ):
                typ = typ.value_type
            if pa.types.is_string(typ) or pa.types.is_large_string(typ):
                if VICTIM in t[name].cast(pa.string()).to_pylist():
                    hits.append((str(path), name))
            elif pa.types.is_binary(typ) and any(
                    v and VICTIM.encode() in v for v in t[name].to_pylist()):
                hits.append((str(path), name))
    return hits


def test_erase_removes_the_account_everywhere(full_home):
    settings = full_home
    home = settings.home
    assert _parquet_cells(home)  # it is there before
    res = erase_account(settings, VICTIM, actor="dpo").as_dict()
    alias = pseudonym(settings, VICTIM)
    assert res["account"] == alias and alias.startswith("erased:") and VICTIM not in alias
    assert _parquet_cells(home) == []
    removed = res["removed"]
    for what in ("lake_requests", "quarantine_lines", "embedding_cache_vectors", "features_rows",
                 "cluster_rows", "verdicts", "returning_index_rows", "case_decisions",
                 "case_labels", "case_allowlist", "case_claims", "audit_rows_pseudonymised"):
        assert removed.get(what), what
    # nothing but the pseudonym in any file of the home (SQLite pages and WAL included)
    for path in home.rglob("*"):
        if path.is_file():
            assert VICTIM.encode() not in path.read_bytes(), path
            assert b"jane@example.com" not in path.read_bytes(), path
    # other accounts untouched
    lake = pq.read_table(settings.requests_dir / "date=2026-11-27" / "part-1.parquet")
    assert lake["account_id"].to_pylist() == [OTHER]
    cache = pq.read_table(home / "embeddings" / "cache" / "model=static-v1" / "part-1.parquet")
    assert cache["prompt_hash"].to_pylist() == ["ha1"]
    edges = pq.read_table(home / "clusters" / "date=2026-11-27" / "edges.parquet")
    assert edges.num_rows == 0  # the edge carried the victim's payment fingerprint
    assert f"{OTHER},0.05" in (settings.reports_dir / "daily" / "2026-11-27" /
                               "flagged.csv").read_text()
    # the case store keeps the fact that a block happened, under the pseudonym
    store = CaseStore(settings)
    assert store.case(alias)["status"] == "blocked" and store.case(VICTIM) is None
    d = store.decisions(alias)[0]
    assert d["decision"] == "confirm-block" and d["note"] == "[erased]"
    assert store.case(OTHER)["status"] == "cleared"
    assert store.decisions(OTHER)[0]["note"] == "fine"
    audit = store.audit_log(entity="account", entity_id=alias)
    assert audit[0]["action"] == "account.erase" and audit[0]["actor"] == "dpo"
    assert "kept" in audit[0]["after"] and audit[0]["after"]["removed"]["verdicts"] >= 1
    # the audit log is append-only again afterwards
    con = sqlite3.connect(settings.cases_db)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        con.execute("DELETE FROM audit_log")
    con.close()
    # erasing again finds nothing more and gives the same pseudonym
    again = erase_account(settings, VICTIM).as_dict()
    assert again["account"] == alias and not {
        k for k in again["removed"] if k != "audit_rows_pseudonymised"}



def test_erase_deletes_leftover_spark_scratch_folders(full_home):
    """Scratch folders a crashed Spark run left under the stores erase scans (sent rows,
    executors' temporary writes) are deleted whole and counted, not rewritten."""
    settings = full_home
    home = settings.home
    mine = pa.table({"account_id": [VICTIM, OTHER]})
    scratch = [home / "features" / "cluster" / ".spark-x" / "part-0.parquet.tmp",
               home / "clusters" / "cache" / ".spark-x" / "dg_tm_pairs.parquet",
               home / "clusters" / "cache" / "date=2026-11-27" / "k" /
               ".minutes.parquet.spark-x" / "part-0.parquet",
               home / "embeddings" / "centroids" / ".spark-x" / "dg_pop_blocked.parquet",
               home / "embeddings" / "cache" / "model=static-v1" / ".spark-x" / "p.parquet",
               settings.verdicts_dir / ".spark-x" / "dg_dec_hits.parquet"]
    for path in scratch:
        path.parent.mkdir(parents=True)
        pq.write_table(mine, path)
    res = erase_account(settings, VICTIM).as_dict()
    assert res["removed"]["spark_scratch_folders"] == len(scratch)
    assert {str(p.parent) for p in scratch} <= set(res["files"])
    assert not any(p.parent.exists() for p in scratch)
    assert (home / "clusters" / "cache").is_dir()
    assert (home / "embeddings" / "cache" / "model=static-v1" / "part-1.parquet").is_file()
    assert _parquet_cells(home) == []

def test_erase_cli_prints_what_is_kept(full_home):
    runner = CliRunner()
    r = runner.invoke(app, ["--home", str(full_home.home), "erase", "--account", VICTIM])
    assert r.exit_code == 0, r.output
    assert "removed lake_requests: 61" in r.output and "kept:" in r.output
    assert "pseudonym" in r.output and "request_ids" in r.output
    r = runner.invoke(app, ["--home", str(full_home.home), "erase", "--account", VICTIM,
                            "--json"])
    assert json.loads(r.stdout)["account"].startswith("erased:")


def test_retention_per_artefact(full_home):
    settings = full_home
    home = settings.home
    today = dt.date(2026, 12, 20)
    # defaults: everything follows retention_days, 0 = keep
    out = apply_all_retention(settings, today=today)
    assert not any(out[k] for k in ("lake", "features", "embeddings_cache", "clusters",
                                    "verdicts", "returning"))
    assert (home / "clusters" / "date=2026-11-27").exists()
    s = settings.replace(features_retention_days=10, clusters_retention_days=10,
                         embeddings_cache_retention_days=10, verdicts_retention_days=10,
                         block_expiry_days=0)
    out = apply_all_retention(s, today=today)
    assert not (home / "features" / "daily" / "date=2026-11-27").exists()
    assert not (home / "features" / "coverage" / "date=2026-11-27").exists()
    assert not (home / "clusters" / "date=2026-11-27").exists()
    assert not list(settings.verdicts_dir.glob("date=*"))
    assert not list((home / "embeddings" / "cache").rglob("part-*.parquet"))
    assert (settings.requests_dir / "date=2026-11-27").exists()  # retention_days 0: kept
    assert out["clusters"] and out["verdicts"] and out["embeddings_cache"]


def test_verdict_retention_keeps_blocks_in_force(full_home):
    s = full_home.replace(verdicts_retention_days=10, block_expiry_days=90)
    apply_all_retention(s, today=dt.date(2026, 12, 20))
    assert (full_home.verdicts_dir / "date=2026-11-27").exists()  # within block_expiry_days


def test_retention_days_bounds_everything(full_home):
    settings = full_home
    s = settings.replace(retention_days=5, block_expiry_days=0)
    r = CliRunner().invoke(app, ["--home", str(settings.home), "retention", "--json"],
                           env={"DETECTOR_RETENTION_DAYS": "5", "DETECTOR_BLOCK_EXPIRY_DAYS": "0",
                                "DETECTOR_RETURNING_LOOKBACK_DAYS": "5"})
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["lake"] and out["features"] and out["clusters"] and out["verdicts"]
    assert out["returning"]  # its own setting, returning_lookback_days
    assert not list(s.requests_dir.glob("date=*"))
    assert not list((s.state_dir / "returning").glob("date=*/keys.parquet"))


def test_cases_retention_pseudonymises_old_unblocked_cases(full_home):
    settings = full_home
    s = settings.replace(cases_retention_days=1)
    future = dt.date.today() + dt.timedelta(days=10)
    out = apply_all_retention(s, today=future)
    store = CaseStore(settings)
    assert store.case(OTHER) is None and store.case(pseudonym(settings, OTHER))
    assert store.case(VICTIM)["status"] == "blocked"  # a block in force stays as it is
    assert any("pseudonymised" in line for line in out["cases"])
