"""`detector keys …` and `detector serve` through the real CLI."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from detector.cases import CaseStore
from detector.cli.main import _hoist_home, app
from detector.settings import load_settings

runner = CliRunner()


def _run(*args: str):
    return runner.invoke(app, _hoist_home(list(args)))


def test_keys_create_list_revoke(tmp_path):
    home = str(tmp_path / "home")
    r = _run("--home", home, "keys", "create", "--role", "analyst", "--name", "ann")
    assert r.exit_code == 0, r.output
    key = r.stdout.strip().splitlines()[-1]
    assert key.startswith("dg_")
    store = CaseStore(load_settings(home))
    rec = store.keys()[0]
    assert (rec["name"], rec["role"]) == ("ann", "analyst")
    listed = _run("--home", home, "keys", "list", "--json")
    assert '"role": "analyst"' in listed.stdout and key not in listed.stdout
    assert _run("--home", home, "keys", "revoke", rec["key_id"]).exit_code == 0
    assert store.active_key_digests() == {}


def test_keys_create_rejects_unknown_role(tmp_path):
    r = _run("--home", str(tmp_path / "h"), "keys", "create", "--role", "root")
    assert r.exit_code == 2 and "--role: expected one of viewer, analyst, admin, hook" in r.stderr


def test_serve_refuses_to_start_without_a_key(tmp_path, monkeypatch):
    monkeypatch.delenv("DETECTOR_DEV_MODE", raising=False)
    r = _run("--home", str(tmp_path / "h"), "serve", "--port", "1")
    assert r.exit_code == 2
    assert "no API key" in r.stderr and "detector keys create --role admin" in r.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_serve_dev_mode_serves_with_the_dev_key(tmp_path):
    home = tmp_path / "h"
    port = _free_port()
    exe = Path(sys.executable).with_name("detector")
    env = {**os.environ, "DETECTOR_DEV_MODE": "1"}
    proc = subprocess.Popen([str(exe), "--home", str(home), "serve", "--port", str(port)],
                            env=env, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        dev_key = (home / "state" / "dev_key").read_text().strip()
        r = httpx.get(f"http://127.0.0.1:{port}/v1/verdicts/a1",
                      headers={"Authorization": f"Bearer {dev_key}"}, timeout=5)
        assert r.status_code == 200 and r.json()["known"] is False
        assert httpx.get(f"http://127.0.0.1:{port}/v1/verdicts/a1", timeout=5).status_code == 401
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
    assert f"http://127.0.0.1:{port}/" in err and f"dev key (admin) = {dev_key}" in err


def test_cases_commands(tmp_path):
    home = str(tmp_path / "home")
    r = _run("--home", home, "cases", "decide", "acct_1", "--decision", "confirm-block",
             "--analyst", "ann", "--date", "2026-11-27")
    assert r.exit_code == 0, r.output
    assert '"status": "blocked"' in r.stdout
    r = _run("--home", home, "cases", "decide", "acct_1", "--decision", "nuke", "--analyst", "a")
    assert r.exit_code == 2 and "--decision: expected one of" in r.stderr
    r = _run("--home", home, "cases", "allow", "--org", "org_9", "--reason", "partner",
             "--analyst", "ann", "--until", "2030-01-01")
    assert r.exit_code == 0 and '"org_id": "org_9"' in r.stdout
    r = _run("--home", home, "cases", "allow", "--reason", "x", "--analyst", "ann")
    assert r.exit_code == 2 and "exactly one of account_id or org_id" in r.stderr
    labels = _run("--home", home, "cases", "labels").stdout.splitlines()
    assert labels[0] == "account_id,date,is_distiller,source,created_at"
    assert labels[1].startswith("acct_1,2026-11-27,True,analyst,")
    assert _run("--home", home, "cases", "list", "--status", "blocked").stdout.count("acct_1") == 1
