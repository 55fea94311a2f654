"""`detector hooks …` and `detector export` on the command line."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from detector.settings import load_settings

from .hookkit import SECRET, write_config, write_verdicts

DAY = [("a1", 0.6, "review", "r", None), ("a2", 0.9, "block", "r", None)]


def _run(home, *args):
    from detector.cli.main import app

    return CliRunner().invoke(app, ["--home", str(home), *args])


def test_hooks_commands_end_to_end(tmp_path, receiver):
    home = tmp_path / "home"
    write_config(home, [{"name": "gw", "url": receiver.url, "secret": SECRET}])
    write_verdicts(load_settings(home), "2024-03-01", DAY)

    rec = _run(home, "hooks", "record", "--all")
    assert rec.exit_code == 0, rec.output
    assert json.loads(rec.stdout) == {"dates": ["2024-03-01"], "events_enqueued": 2}

    down = _run(home, "hooks", "deliver")  # receiver not started: refused
    assert json.loads(down.stdout)["pending"] == 2

    listing = _run(home, "hooks", "list", "--json")
    doc = json.loads(listing.stdout)
    assert doc["events"] == 2 and doc["counts"] == {"gw": {"pending": 2}}
    assert {d["event_type"] for d in doc["deliveries"]} == {"account.flagged", "account.blocked"}
    text = _run(home, "hooks", "list", "--status", "pending")
    assert "2 events in the outbox" in text.stdout and "gw: pending 2" in text.stdout

    receiver.start()
    assert json.loads(_run(home, "hooks", "retry", "--pending").stdout) == {"queued": 2}
    sent = json.loads(_run(home, "hooks", "deliver").stdout)
    assert sent["delivered"] == 2 and sent["pending"] == 0

    replayed = _run(home, "hooks", "replay", "--endpoint", "gw", "--type", "account.blocked")
    assert json.loads(replayed.stdout) == {"queued": 1}
    assert json.loads(_run(home, "hooks", "deliver").stdout)["delivered"] == 1
    assert len(receiver.processed) == 2 and sum(receiver.seen.values()) == 3

    unknown = _run(home, "hooks", "replay", "--endpoint", "nope")
    assert unknown.exit_code == 2 and "known: gw" in unknown.stderr
    bad = _run(home, "hooks", "list", "--status", "lost")
    assert bad.exit_code == 2 and "--status" in bad.stderr
    assert _run(home, "hooks", "secret").stdout.startswith("whsec_")


def test_export_command(tmp_path, monkeypatch):
    monkeypatch.delenv("DETECTOR_EXPORT_SECRET", raising=False)
    home = tmp_path / "home"
    write_verdicts(load_settings(home), "2024-03-01", DAY)
    res = _run(home, "export", "--out", str(tmp_path / "exp"))
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert (doc["date"], doc["rows"]) == ("2024-03-01", 2)
    assert (tmp_path / "exp" / "verdicts-2024-03-01.csv.sig").exists()
    missing = _run(tmp_path / "empty", "export")
    assert missing.exit_code == 2 and "no verdicts" in missing.stderr
