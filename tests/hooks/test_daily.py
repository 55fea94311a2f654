"""`detector daily`: ingest the inbox, score, announce, export, report; safe to re-run.

Scoring is replaced by a stand-in that writes verdicts for the days it is given (accounts
named ``bad*`` are blocked), so the test checks the orchestration, not the model.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest
from typer.testing import CliRunner

from detector.hooks import open_db
from detector.lake.db import connect
from detector.lake.io import write_parquet_atomic

from .hookkit import SECRET, Receiver, free_port, write_config


def _log_line(i: int, account: str, day: str) -> str:
    return json.dumps({"request_id": f"{account}-{day}-{i}", "timestamp": f"{day}T10:{i:02d}:00Z",
                       "account_id": account, "request": {"messages": [
                           {"role": "user", "content": f"question {i} from {account}"}]},
                       "usage": {"prompt_tokens": 5, "completion_tokens": 100 + i}})


def _write_log(folder: Path, name: str, day: str, accounts: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    lines = [_log_line(i, a, day) for a in accounts for i in range(3)]
    (folder / name).write_text("\n".join(lines) + "\n")


class FakePipeline:
    """Stands in for detector.pipeline.run_pipeline: one verdict per account active that day."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def __call__(self, settings, dates, on_stage=None):
        self.calls.append(sorted(dates))
        con = connect(settings)
        for day in dates:
            accounts = sorted(r[0] for r in con.execute(
                "SELECT DISTINCT account_id FROM requests WHERE CAST(ts AS DATE) = ?",
                [day]).fetchall())
            bad = [a.startswith("bad") for a in accounts]
            table = pa.table({
                "account_id": accounts, "date": pa.array([day] * len(accounts)).cast(pa.date32()),
                "score": [0.95 if b else 0.05 for b in bad],
                "decision": ["block" if b else "allow" for b in bad],
                "reasons": ["hv_logprobs" if b else "" for b in bad],
                "cluster_id": [None] * len(accounts),
                "rule_hits": [["hv_logprobs"] if b else [] for b in bad],
                "shadow_hits": [[] for _ in bad]})
            write_parquet_atomic(settings.verdicts_dir / f"date={day}" / "verdicts.parquet", table)
        con.close()


@pytest.fixture
def setup(tmp_path, monkeypatch):
    import detector.pipeline

    fake = FakePipeline()
    monkeypatch.setattr(detector.pipeline, "run_pipeline", fake)
    receiver = Receiver(free_port())
    receiver.start()
    home, inbox = tmp_path / "home", tmp_path / "inbox"
    write_config(home, [{"name": "gw", "url": receiver.url, "secret": SECRET}])
    config = home / "detector.toml"
    config.write_text(f'inbox = "{inbox}"\n' + config.read_text())  # before the [[hooks]] table
    _write_log(inbox, "day1.jsonl", "2024-03-01", ["good1", "bad1"])
    _write_log(inbox, "day2.jsonl", "2024-03-02", ["good1", "bad1", "bad2"])
    yield home, inbox, fake, receiver
    receiver.stop()


def _daily(home, *args):
    from detector.cli.main import app

    return CliRunner().invoke(app, ["--home", str(home), "daily", *args])


def _events(home) -> int:
    from detector.settings import load_settings

    conn = open_db(load_settings(home))
    try:
        return conn.execute("SELECT count(*) FROM hook_events").fetchone()[0]
    finally:
        conn.close()


def test_daily_runs_everything_and_is_safe_to_rerun(setup):
    home, inbox, fake, receiver = setup
    first = _daily(home)
    assert first.exit_code == 0, first.output
    summary = json.loads(first.stdout)
    assert summary["ingest"]["accepted"] == 15 and summary["ingest"]["read"] == 15
    assert summary["scored"] == ["2024-03-01", "2024-03-02"]
    assert summary["events_enqueued"] == 2  # bad1 blocked on day 1, bad2 on day 2
    assert summary["delivery"]["delivered"] == 2
    assert summary["report_date"] == "2024-03-02"
    assert Path(summary["report"]).exists()
    assert (Path(summary["report"]).parent / "flagged.csv").read_text().count("block") == 2
    assert summary["export"]["rows"] == 2 and Path(summary["export"]["json"]).exists()

    again = _daily(home)  # nothing new: nothing re-ingested, re-scored or re-sent
    assert again.exit_code == 0, again.output
    summary = json.loads(again.stdout)
    assert (summary["ingest"]["accepted"], summary["scored"], summary["events_enqueued"]) == \
        (0, [], 0)
    assert fake.calls == [["2024-03-01", "2024-03-02"]]
    assert sum(receiver.seen.values()) == 2 and len(receiver.processed) == 2

    _write_log(inbox, "day3.jsonl", "2024-03-03", ["bad3"])  # a new file: only its day runs
    third = _daily(home)
    assert third.exit_code == 0, third.output
    assert json.loads(third.stdout)["scored"] == ["2024-03-03"]
    assert len(receiver.processed) == 3


def test_a_failed_step_exits_1_and_the_rerun_skips_nothing(setup, monkeypatch):
    home, inbox, fake, receiver = setup
    import detector.hooks.events as events

    real = events.record_verdict_events

    def broken(settings, dates):
        raise RuntimeError("disk full")

    monkeypatch.setattr(events, "record_verdict_events", broken)
    failed = _daily(home)
    assert failed.exit_code == 1
    assert "error: daily: step 'events' failed: RuntimeError: disk full" in failed.stderr
    assert _events(home) == 0

    monkeypatch.setattr(events, "record_verdict_events", real)
    rerun = _daily(home)
    assert rerun.exit_code == 0, rerun.output
    summary = json.loads(rerun.stdout)
    assert summary["scored"] == ["2024-03-01", "2024-03-02"]  # not marked scored before
    assert summary["events_enqueued"] == 2 and len(receiver.processed) == 2


def test_receiver_down_is_a_warning_not_a_failure(setup):
    home, inbox, fake, receiver = setup
    receiver.stop()
    res = _daily(home)
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["delivery"]["pending"] == 2
    assert "warning: 2 hook deliveries still pending" in res.stderr


def test_usage_problems_exit_2_with_one_line(tmp_path, setup):
    home, inbox, fake, receiver = setup
    bad_date = _daily(home, "--date", "2024-02-30")
    assert bad_date.exit_code == 2 and "--date" in bad_date.stderr
    no_inbox = _daily(tmp_path / "other-home")
    assert no_inbox.exit_code == 2 and "no inbox folder" in no_inbox.stderr
    assert len(no_inbox.stderr.strip().splitlines()) == 1
    missing = _daily(home, "--inbox", str(tmp_path / "nope"))
    assert missing.exit_code == 2 and "not a folder" in missing.stderr
