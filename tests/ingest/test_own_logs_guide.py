"""docs/own-logs.md: the guide's commands run on its example files, and the gateway example
decides as the guide says."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "own-logs.md"
EXAMPLES = ROOT / "tests" / "fixtures" / "ingest" / "own_logs"


def guide_commands() -> list[str]:
    text = GUIDE.read_text(encoding="utf-8")
    block = re.search(r"<!-- guide:commands -->\s*```sh\n(.*?)```\s*<!-- /guide:commands -->",
                      text, re.S)
    assert block, "docs/own-logs.md lost its marked command block"
    return [ln for ln in block.group(1).splitlines() if ln.strip() and not ln.startswith("#")]


def test_readme_links_the_guide_and_the_guide_the_native_format():
    assert "docs/own-logs.md" in (ROOT / "README.md").read_text(encoding="utf-8")
    assert "docs/request-log.md" in GUIDE.read_text(encoding="utf-8")
    assert (ROOT / "docs" / "request-log.md").exists()


@pytest.mark.slow
def test_guide_commands_run_on_the_examples(tmp_path):
    home = tmp_path / "home"
    env = {**os.environ, "HOME_DIR": str(home), "EXAMPLES": str(EXAMPLES),
           "DETECTOR_EMBEDDING_BACKEND": "hashing",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    outputs = []
    for cmd in guide_commands():
        assert shlex.split(cmd)[0] == "detector"
        proc = subprocess.run(["bash", "-c", cmd], env=env, capture_output=True, text=True,
                              timeout=600, check=False)
        assert proc.returncode == 0, (cmd, proc.stdout[-2000:], proc.stderr[-2000:])
        outputs.append(proc.stdout)
    dry = json.loads(outputs[0].strip().splitlines()[-1])
    assert dry["dry_run"] and dry["accepted"] == 12
    assert "infra_shared_payment_fresh_accounts" in dry["blind"]["blind_rules"]
    mapped = json.loads(outputs[3].strip().splitlines()[-1])
    assert mapped["accepted"] == 3 and mapped["fill_rates"]["user_agent"] == 1.0
    assert (home / "report.html").exists()
    assert "account_id" in outputs[5]


def _hook():
    spec = importlib.util.spec_from_file_location(
        "litellm_hook", ROOT / "examples" / "gateway" / "litellm_hook.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_gateway_gate_blocks_caches_and_fails_as_configured():
    mod = _hook()
    now = [0.0]
    answers = {"bad": {"decision": "block", "ttl": 3600}, "ok": {"decision": "review", "ttl": 60}}
    calls = []

    def fetch(account):
        calls.append(account)
        if answers is None:
            raise OSError("connection refused")
        return answers[account]

    gate = mod.VerdictGate(fetch, fail="open", cache_s=300, clock=lambda: now[0])
    assert gate.decide("bad")[0] is False and gate.decide("ok")[0] is True
    assert gate.decide("bad")[1] == "cached block" and calls == ["bad", "ok"]
    now[0] = 1000.0
    answers = None  # the API goes away
    assert gate.decide("bad")[0] is False  # stale block still refuses
    assert gate.decide("new")[0] is True  # never seen: fail open forwards
    closed = mod.VerdictGate(fetch, fail="closed", clock=lambda: now[0])
    forward, why = closed.decide("new")
    assert forward is False and "fail closed" in why


def test_gateway_account_follows_the_ingest_account_key():
    mod = _hook()

    class Key:
        user_id, team_id, api_key = "u1", "t1", "hk1"

    assert [mod.account_of(Key(), {"user": "e1"}, k) for k in ("user", "team", "key", "end_user")
            ] == ["u1", "t1", "hk1", "e1"]
