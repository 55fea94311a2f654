"""The signed verdict export for gateways that poll."""

from __future__ import annotations

import csv
import json

import pytest

from detector.errors import InputError
from detector.hooks import export_verdicts, verify_export
from detector.hooks.export import export_secret
from detector.settings import load_settings

from .hookkit import write_verdicts

DAY = [("a1", 0.6, "review", "vol", None), ("a2", 0.99, "block", "hv;vol", "c1"),
       ("a3", 0.1, "allow", "", None)]


@pytest.fixture
def settings(tmp_path, monkeypatch):
    monkeypatch.delenv("DETECTOR_EXPORT_SECRET", raising=False)
    s = load_settings(tmp_path / "home")
    write_verdicts(s, "2024-03-01", [("a9", 0.9, "block", "x", None)])
    write_verdicts(s, "2024-03-02", DAY)
    return s


def test_export_lists_blocks_then_reviews_of_the_latest_day(settings):
    files = export_verdicts(settings)
    assert (files.date, files.rows) == ("2024-03-02", 2)
    doc = json.loads(files.json.read_text())
    assert [(v["account_id"], v["decision"]) for v in doc["verdicts"]] == \
        [("a2", "block"), ("a1", "review")]
    assert doc["count"] == 2 and doc["date"] == "2024-03-02"
    rows = list(csv.DictReader(files.csv.open()))
    assert [(r["account_id"], r["decision"], r["cluster_id"], r["reasons"]) for r in rows] == \
        [("a2", "block", "c1", "hv;vol"), ("a1", "review", "", "vol")]


def test_signatures_verify_and_tampering_fails(settings):
    files = export_verdicts(settings, "2024-03-01")
    secret = export_secret(settings)
    assert secret.startswith("whsec_")
    assert (settings.state_dir / "export.secret").stat().st_mode & 0o777 == 0o600
    assert verify_export(files.json, secret) and verify_export(files.csv, secret)
    assert not verify_export(files.json, "whsec_QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVowMTIzNDU=")
    files.csv.write_text(files.csv.read_text().replace("block", "allow"))
    assert not verify_export(files.csv, secret)


def test_secret_from_the_environment(settings, monkeypatch):
    monkeypatch.setenv("DETECTOR_EXPORT_SECRET", "whsec_QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVowMTIzNDU=")
    files = export_verdicts(settings)
    assert verify_export(files.json, "whsec_QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVowMTIzNDU=")
    assert not (settings.state_dir / "export.secret").exists()


def test_unknown_day_is_an_input_error(settings):
    with pytest.raises(InputError, match="2024-03-05"):
        export_verdicts(settings, "2024-03-05")
