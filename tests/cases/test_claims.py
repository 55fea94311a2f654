"""Case claims (who works on an account; take-over; expiry) and the schema migration that
adds them to databases made by earlier releases."""

from __future__ import annotations

import sqlite3
import time

import pytest

from detector.cases import CaseStore
from detector.cases.claims import ClaimConflict, claim, claim_of, live_claims, release
from detector.cases.migrate import schema_version
from detector.cases.schema import DDL, SCHEMA_VERSION, SESSIONS_DDL
from detector.settings import load_settings


@pytest.fixture()
def store(tmp_path):
    return CaseStore(load_settings(tmp_path / "home"))


def test_claim_is_shown_and_another_analyst_needs_a_take_over(store):
    row = claim(store, "a1", "ann", ttl_s=600, date="2026-11-27")
    assert (row["analyst"], row["date"]) == ("ann", "2026-11-27")
    assert claim_of(store, "a1")["analyst"] == "ann"
    with pytest.raises(ClaimConflict, match="claimed by ann") as err:
        claim(store, "a1", "bob", ttl_s=600)
    assert err.value.holder["analyst"] == "ann"
    assert claim_of(store, "a1")["analyst"] == "ann"  # refused: nothing changed
    claim(store, "a1", "bob", ttl_s=600, take_over=True)
    assert claim_of(store, "a1")["analyst"] == "bob"
    log = store.audit_log(entity="claim", entity_id="a1")
    assert [e["action"] for e in log] == ["claim.takeover", "claim.create"]
    assert log[0]["actor"] == "bob" and log[0]["before"]["analyst"] == "ann"


def test_renewal_keeps_the_start_and_release_only_by_the_holder(store):
    first = claim(store, "a1", "ann", ttl_s=60)
    again = claim(store, "a1", "ann", ttl_s=600)
    assert again["claimed_at"] == first["claimed_at"] and again["expires_at"] > first["expires_at"]
    assert release(store, "a1", "bob") is False and claim_of(store, "a1") is not None
    assert release(store, "a1", "ann", why="decided") is True
    assert claim_of(store, "a1") is None and live_claims(store) == {}
    actions = [e["action"] for e in store.audit_log(entity="claim", entity_id="a1")]
    assert actions == ["claim.release", "claim.renew", "claim.create"]


def test_expired_claim_is_free_to_take_without_take_over(store):
    claim(store, "a1", "ann", ttl_s=0.05)
    claim(store, "a2", "ann", ttl_s=600)
    time.sleep(0.1)
    assert claim_of(store, "a1") is None
    assert set(live_claims(store)) == {"a2"} and set(live_claims(store, "bob")) == set()
    claim(store, "a1", "bob", ttl_s=600)  # no conflict: ann's claim ran out
    assert claim_of(store, "a1")["analyst"] == "bob"
    assert store.audit_log(entity="claim", entity_id="a1")[0]["action"] == "claim.create"


def test_bad_claim_arguments_name_the_field(store):
    with pytest.raises(ValueError, match="ttl_s"):
        claim(store, "a1", "ann", ttl_s=0)
    with pytest.raises(ValueError, match="date"):
        claim(store, "a1", "ann", date="27/11/2026")


def test_database_of_the_previous_schema_is_migrated(tmp_path):
    """A case database as the release before claims made it (tables + sessions, no
    user_version) opens, keeps its rows, gains ``claims`` and the version number."""
    path = tmp_path / "home" / "state" / "cases.sqlite"
    path.parent.mkdir(parents=True)
    old = sqlite3.connect(path)
    old.executescript(DDL + SESSIONS_DDL)
    old.execute("INSERT INTO decisions (account_id, date, decision, analyst, note, created_at) "
                "VALUES ('a1', '2026-11-27', 'escalate', 'ann', 'old', "
                "'2026-11-27T10:00:00.000000Z')")
    old.commit()
    old.close()
    store = CaseStore(path=path)
    assert schema_version(store.db) == SCHEMA_VERSION == 2
    assert store.decisions("a1")[0]["note"] == "old"
    claim(store, "a1", "bob", ttl_s=60)
    assert claim_of(store, "a1")["analyst"] == "bob"
    CaseStore(path=path)  # opening again is a no-op
    assert schema_version(store.db) == 2


def test_database_from_before_page_sessions_gets_both_steps(tmp_path):
    path = tmp_path / "cases.sqlite"
    old = sqlite3.connect(path)
    old.executescript(DDL)
    old.close()
    store = CaseStore(path=path)
    tables = {r["name"] for r in store.db.query(
        "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"sessions", "claims"} <= tables and schema_version(store.db) == 2
