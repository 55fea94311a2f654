"""The ingest's held store (raw lines awaiting their partners, prompts included) under the
privacy lifecycle: ``ingest_held_retention_days`` prunes it (after every ingest and in
``detector retention``), ``detector erase`` removes an account's held lines
(detector/ingest/held.py)."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import orjson
import pytest

from detector.ingest import ingest_paths
from detector.ingest.held import held_days, prune_held
from detector.ingest.manifest import held_dir
from detector.privacy import apply_all_retention, erase_account
from detector.settings import load_settings

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "ingest"
BATCH_IN, BATCH_OUT = "batch_abc123_input.jsonl", "batch_abc123_output.jsonl"
VICTIM, OTHER = "acct_victim", "acct_other"


def _ingest(home, *paths: Path, **kw):
    res = ingest_paths(home, list(paths), progress=False, workers=1, **kw)
    assert res.read == res.accepted + res.duplicates + res.quarantined
    return res


def _copy(tmp_path: Path, src: Path, name: str) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copy(src, tmp_path / name))


def _held(home, sub: str) -> dict[str, dict]:
    return {p.name: orjson.loads(p.read_bytes()) for p in (held_dir(home) / sub).glob("*.json")}


def _age(path: Path, days: float) -> None:
    t = time.time() - days * 86400
    os.utime(path, (t, t))


@pytest.fixture()
def home(tmp_path):
    return load_settings(tmp_path / "home")


def test_erase_removes_the_accounts_held_batch_files_and_lines(home, tmp_path):
    _ingest(home, _copy(tmp_path / "a", FIX / "openai_batch" / BATCH_IN, BATCH_IN),
            account_id=VICTIM)
    other = tmp_path / "b" / "batch_zzz999_input.jsonl"  # another batch, another account
    other.parent.mkdir()
    lines = (FIX / "openai_batch" / BATCH_IN).read_bytes().splitlines()
    first = orjson.loads(lines[0])
    first["body"]["user"] = VICTIM  # a relay passing the account as the end user
    other.write_bytes(b"\n".join([orjson.dumps(first), *lines[1:]]) + b"\n")
    _ingest(home, other, account_id=OTHER)
    held = _held(home, "openai-batch")
    assert sorted(d.get("account_id") for d in held.values()) == [OTHER, VICTIM]
    n_lines = len(lines)
    theirs = next(held_dir(home) / "openai-batch" / k for k, d in held.items()
                  if d["account_id"] == OTHER)
    _age(theirs, 3)
    mtime = theirs.stat().st_mtime_ns

    res = erase_account(home, VICTIM)

    assert res.removed["held_batch_lines"] == n_lines + 1  # the victim's file and one line
    [(name, doc)] = _held(home, "openai-batch").items()
    assert doc["account_id"] == OTHER and first["custom_id"] not in doc["inputs"]
    assert len(doc["inputs"]) == n_lines - 1
    assert VICTIM.encode() not in (held_dir(home) / "openai-batch" / name).read_bytes()
    assert theirs.stat().st_mtime_ns == mtime  # held time kept: retention counts from it
    # the erased inputs can no longer complete the victim's results
    out = _copy(tmp_path / "c", FIX / "openai_batch" / BATCH_OUT, BATCH_OUT)
    res = _ingest(home, out, account_id=VICTIM)
    assert res.accepted > 0 and res.enriched == 0


def test_erase_follows_the_sidecar_account(home, tmp_path):
    folder = tmp_path / "a"
    _copy(folder, FIX / "openai_batch" / BATCH_IN, BATCH_IN)
    (folder / "batch.toml").write_text(f'account_id = "{VICTIM}"\n')
    _ingest(home, folder / BATCH_IN)
    [doc] = _held(home, "openai-batch").values()
    assert doc["sidecar"]["account_id"] == VICTIM and "account_id" not in doc
    erase_account(home, VICTIM)
    assert _held(home, "openai-batch") == {}


def test_erase_removes_langfuse_traces_of_the_account_and_their_observations(home):
    lf = FIX / "langfuse"
    _ingest(home, lf / "observations.json")  # held until their traces come
    _ingest(home, lf / "traces.json")
    traces = {k: v for d in _held(home, "langfuse").values() for k, v in d.items()
              if isinstance(v[0], str | None)}
    mine = {t for t, (user, _session) in traces.items() if user == "user-0"}
    assert mine and len(mine) < len(traces)

    res = erase_account(home, "user-0")  # --account-key user: the trace's userId

    assert res.removed["held_langfuse_entries"] > len(mine)  # traces and their observations
    held = _held(home, "langfuse")
    left_traces = {k for n, d in held.items() if n.startswith("traces-") for k in d}
    left_obs = {k for n, d in held.items() if n.startswith("observations-") for k in d}
    assert left_traces == set(traces) - mine
    assert left_obs and not left_obs & mine
    assert not any(b'"user-0"' in p.read_bytes()
                   for p in (held_dir(home) / "langfuse").glob("*.json"))


def test_held_days():
    def days(held: int, lake: int) -> int:
        return held_days(load_settings("/nonexistent-home", ingest_held_retention_days=held,
                                       retention_days=lake))

    assert days(30, 0) == 30 and days(0, 0) == 0 and days(-1, 0) == 0
    assert days(30, 7) == 7 and days(5, 7) == 5 and days(0, 7) == 7 and days(-1, 7) == 7


def test_held_retention_after_ingest_and_in_detector_retention(home, tmp_path):
    assert home.ingest_held_retention_days == 30 and home.retention_days == 0
    _ingest(home, _copy(tmp_path / "a", FIX / "openai_batch" / BATCH_IN, BATCH_IN),
            account_id=VICTIM)
    [old] = (held_dir(home) / "openai-batch").glob("*.json")
    _age(old, 31)
    _ingest(home, _copy(tmp_path / "b", FIX / "langfuse" / "traces.json", "traces.json"))
    assert not old.exists()  # pruned by the ingest itself (retention_days is 0)
    fresh = sorted((held_dir(home) / "langfuse").glob("*.json"))
    assert fresh
    _age(fresh[0], 29)
    assert prune_held(home) == []
    _age(fresh[0], 400)
    kept = home.replace(ingest_held_retention_days=0)  # 0 keeps forever
    assert prune_held(kept) == [] and fresh[0].exists()
    _age(fresh[0], 29)
    out = apply_all_retention(home.replace(ingest_held_retention_days=10))
    assert out["ingest_held"] == [str(fresh[0])] and not fresh[0].exists()
