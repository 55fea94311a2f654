"""The CLI contract (shared/spec/cli-contract.md) driven end to end through the real executable."""

import csv
import io
import json
import socket
import subprocess
import time

import httpx
import pytest

from .e2e_cli import DETECTOR, cli

pytestmark = pytest.mark.slow


def test_ingest_counts_add_up_and_reingest_adds_nothing(demo):
    first = demo["ingest"]
    for key in ("read", "accepted", "duplicates", "quarantined"):
        assert isinstance(first[key], int)
    assert first["read"] == first["accepted"] + first["duplicates"] + first["quarantined"]
    assert first["accepted"] > 1000
    again = json.loads(cli("ingest", str(demo["logs"]), "--json", home=demo["home"]).stdout)
    assert again["accepted"] == 0
    assert again["read"] == again["accepted"] + again["duplicates"] + again["quarantined"]


def test_verdicts_csv_has_one_row_per_account_day_with_contract_columns(demo):
    out = cli("verdicts", "--format", "csv", home=demo["home"]).stdout
    rows = list(csv.DictReader(io.StringIO(out)))
    assert rows, "no verdicts"
    assert list(rows[0])[:6] == ["account_id", "date", "score", "decision", "reasons", "cluster_id"]
    keys = {(r["account_id"], r["date"]) for r in rows}
    assert len(keys) == len(rows)
    assert {r["date"] for r in rows} == {"2026-11-24", "2026-11-25"}
    for r in rows:
        assert 0.0 <= float(r["score"]) <= 1.0
        assert r["decision"] in ("allow", "review", "block")
    truth = json.loads((demo["logs"] / "truth.json").read_text())["accounts"]
    assert {r["account_id"] for r in rows} <= set(truth)
    flagged = {r["account_id"] for r in rows if r["decision"] != "allow"}
    distillers = {a for a, t in truth.items() if t["is_distiller"]}
    assert len(flagged & distillers) >= 0.5 * len(distillers), "detector catches too few distillers"


def test_verdicts_json_and_date_filter(demo):
    day = json.loads(cli("verdicts", "--date", "2026-11-25", "--format", "json", home=demo["home"]).stdout)
    assert day and {v["date"] for v in day} == {"2026-11-25"}
    assert {"account_id", "score", "decision", "reasons", "cluster_id"} <= set(day[0])


def test_run_single_date_rescores_that_day(demo):
    cli("run", "--date", "2026-11-24", home=demo["home"])
    out = cli("verdicts", "--date", "2026-11-24", "--format", "csv", home=demo["home"]).stdout
    assert out.count("\n") > 10


def test_report_writes_html(demo):
    out = demo["root"] / "report.html"
    cli("report", "--date", "2026-11-25", "--out", str(out), home=demo["home"])
    html = out.read_text()
    assert "<html" in html.lower() and "2026-11-25" in html


def test_home_from_environment_variable(demo):
    proc = subprocess.run([DETECTOR, "verdicts", "--format", "csv"], capture_output=True, text=True,
                          env={"DETECTOR_HOME": str(demo["home"]), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0 and proc.stdout.startswith("account_id,date,score")


def test_usage_errors_exit_2_with_one_line_message(demo, tmp_path):
    missing = cli("ingest", str(tmp_path / "nope.jsonl"), "--json", home=tmp_path / "h", check=False)
    assert missing.returncode == 2
    assert "nope.jsonl" in missing.stderr and missing.stderr.strip().count("\n") == 0
    bad_fmt = cli("verdicts", "--format", "xml", home=demo["home"], check=False)
    assert bad_fmt.returncode == 2 and "--format" in bad_fmt.stderr
    bad_date = cli("run", "--date", "1999-01-01", home=demo["home"], check=False)
    assert bad_date.returncode == 2 and "1999-01-01" in bad_date.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_health_and_verdict_lookup(demo):
    port = _free_port()
    rows = list(csv.DictReader(io.StringIO(cli("verdicts", "--format", "csv", home=demo["home"]).stdout)))
    account = rows[0]["account_id"]
    env = {"DETECTOR_HOME": str(demo["home"]), "DETECTOR_DEV_MODE": "1", "PATH": "/usr/bin:/bin"}
    proc = subprocess.Popen([DETECTOR, "serve", "--host", "127.0.0.1", "--port", str(port)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            pytest.fail("server did not come up: " + proc.stderr.read() if proc.poll() is not None else "timeout")
        unauth = httpx.get(f"{base}/v1/verdicts/{account}", timeout=5)
        assert unauth.status_code in (401, 403)
        dev_key = cli("keys", "dev", home=demo["home"], env={"DETECTOR_DEV_MODE": "1"}).stdout.strip().split()[-1]
        r = httpx.get(f"{base}/v1/verdicts/{account}", headers={"Authorization": f"Bearer {dev_key}"}, timeout=5)
        assert r.status_code == 200, r.text
        assert r.json()["decision"] in ("allow", "review", "block")
    finally:
        proc.terminate()
        proc.wait(timeout=10)
