import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

DETECTOR = str(Path(sys.executable).with_name("detector"))


def cli(*args: str, home: Path | None = None, check: bool = True, env: dict | None = None,
        timeout: int = 600) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **(env or {})}
    full_env.pop("DETECTOR_HOME", None)
    cmd = [DETECTOR, *(["--home", str(home)] if home else []), *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=full_env, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"{cmd} exited {proc.returncode}\nstdout:{proc.stdout[-2000:]}\n"
                             f"stderr:{proc.stderr[-4000:]}")
    return proc


@pytest.fixture(scope="session")
def demo(tmp_path_factory):
    """A small simulated traffic set, ingested and scored once through the real CLI."""
    root = tmp_path_factory.mktemp("e2e")
    logs, home = root / "logs", root / "home"
    cli("simulate", "--out", str(logs), "--accounts", "300", "--days", "2", "--seed", "11")
    ingest = json.loads(cli("ingest", str(logs), "--json", home=home).stdout)
    run = cli("run", "--all", home=home)
    return {"logs": logs, "home": home, "ingest": ingest, "run": run, "root": root}
