"""A spawned ingest worker never imports pydantic, pydantic-settings or ``detector.settings``.

Each pool process starts a fresh interpreter (spawn), imports the pool's entry points and
unpickles its arguments; the settings module alone cost about 0.8 CPU-seconds of that start-up
(``bench/results/ingest_worker_imports.json``). Workers get an ``IngestConfig`` instead.
"""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from pathlib import Path

from detector.ingest.config import IngestConfig, ingest_config
from detector.ingest.normalize import Limits
from detector.ingest.pool import init_worker, parse_chunk, run_task
from detector.ingest.worker import FileTask

ROOT = str(Path(__file__).resolve().parents[2])
FORBIDDEN = ("pydantic", "pydantic_settings", "detector.settings", "detector.cluster_params")

# what a spawned pool process does: import the entry points, unpickle a task's arguments
CHILD = """
import pickle, sys, json
import detector.ingest.pool, detector.ingest.worker
payload = pickle.loads(sys.stdin.buffer.read())
print(json.dumps({"modules": sorted(sys.modules), "types": [type(p).__name__ for p in payload]}))
"""


def _child_modules(payload: tuple) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD], input=pickle.dumps(payload),
                         capture_output=True, cwd=ROOT, check=True, timeout=120)
    return json.loads(out.stdout)


def test_spawned_worker_imports_no_pydantic_nor_settings(home):
    task = FileTask("/nonexistent.jsonl", "0" * 64, 0, "native", "job", "2026-11-28", Limits())
    config = ingest_config(home)
    got = _child_modules((init_worker, run_task, parse_chunk, config, task))
    assert got["types"] == ["function", "function", "function", "IngestConfig", "FileTask"]
    modules = got["modules"]
    assert "detector.ingest.worker" in modules and "detector.ingest.pool" in modules
    leaked = [m for m in modules if m.split(".")[0] in FORBIDDEN[:2] or m in FORBIDDEN[2:]]
    assert leaked == []


def test_ingest_config_carries_the_settings_values(home):
    settings = home.replace(keep_prompt_text=False, embedding_sample_k=17)
    config = ingest_config(settings)
    assert isinstance(config, IngestConfig)
    assert (config.home, config.state_dir, config.requests_dir, config.quarantine_dir) == (
        settings.home, settings.state_dir, settings.requests_dir, settings.quarantine_dir)
    assert (config.keep_prompt_text, config.embedding_sample_k) == (False, 17)
    assert pickle.loads(pickle.dumps(config)) == config
