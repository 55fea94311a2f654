"""Re-deliveries through the real executable: the contract's identity holds (every re-delivered
id is a duplicate), with ``enriched`` and ``conflicting`` as added breakdowns, and the
conflicting copy listed by ``detector quarantine`` as counted among the duplicates."""

import json

import pytest

from ..ingest.ingest_helpers import record, write_jsonl
from .e2e_cli import cli

pytestmark = pytest.mark.slow


def _bare(i: int) -> dict:
    rec = record(i)
    for key in ("response", "usage", "user_agent"):
        rec.pop(key)
    return rec


def test_enriched_and_conflicting_redeliveries_are_duplicates(tmp_path):
    home = tmp_path / "home"
    first = write_jsonl(tmp_path / "a" / "bare.jsonl", [_bare(0), _bare(1), _bare(2)])
    again = write_jsonl(tmp_path / "b" / "full.jsonl", [
        record(0), record(1, account_id="acct_other"), record(2), b"not json"])
    cli("ingest", str(first), "--json", home=home)
    out = json.loads(cli("ingest", str(again), "--json", home=home).stdout)
    assert (out["read"], out["accepted"], out["duplicates"], out["quarantined"]) == (4, 0, 3, 1)
    assert (out["enriched"], out["conflicting"]) == (2, 1)
    assert out["read"] == out["accepted"] + out["duplicates"] + out["quarantined"]
    [f] = out["files"]
    assert (f["duplicates"], f["enriched"], f["conflicting"]) == (3, 2, 1)
    text = cli("ingest", str(again), home=tmp_path / "other").stdout  # a fresh home: all new
    assert "duplicates 0  quarantined 1" in text and "enriched" not in text
    line = cli("ingest", str(write_jsonl(tmp_path / "c" / "moved.jsonl", [
        record(0, account_id="acct_x"), record(2)])), home=home).stdout
    assert "duplicates 2 (conflicting 1)  quarantined 0" in line
    listed = [json.loads(r) for r in cli("quarantine", "list", "--json", home=home
                                          ).stdout.splitlines()]
    counted = sorted((r["reason"].split(":")[0], r["counted"]) for r in listed)
    assert counted == [("conflicting_redelivery", "duplicates"),
                       ("conflicting_redelivery", "duplicates"), ("invalid_json", "quarantined")]
    plain = cli("quarantine", "list", "--file", "full.jsonl", home=home).stdout
    assert "full.jsonl:2  conflicting_redelivery: account_id  [counted as duplicate]" in plain
    shown = cli("quarantine", "show", f"{again}:2", home=home).stdout
    assert "[counted as duplicate]" in shown and "acct_other" in shown
    summary = cli("quarantine", "list", "--summary", home=home).stdout
    assert "conflicting_redelivery  [counted as duplicate]" in summary
