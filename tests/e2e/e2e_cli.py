"""Run the real `detector` executable (helpers for the end-to-end tests)."""

import os
import subprocess
import sys
from pathlib import Path

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
