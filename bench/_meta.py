"""Provenance of a bench result: the script and its arguments, commit, date and machine.

Every writer of ``bench/results/*.json`` adds ``"provenance": stamp(...)`` to its document
(``tests/architecture/test_bench_results.py`` checks that each file has them) and writes it with
``write_atomic``, so a reader can tell which code, on which machine and when, gave a figure.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def git_commit(tree: Path = REPO) -> str | None:
    """HEAD of ``tree``, with ``+dirty`` when tracked files differ from it; None outside git."""
    try:
        head = subprocess.run(["git", "-C", str(tree), "rev-parse", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(tree), "status", "--porcelain",
                                "--untracked-files=no"], capture_output=True, text=True,
                               check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("+dirty" if dirty else "")


def _memory_gib() -> float | None:
    try:
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError):
        return None


def machine() -> dict:
    """CPU count, memory, load average now, Python and platform of this machine."""
    return {"cpus": os.cpu_count(), "memory_gib": _memory_gib(),
            "load_avg": [round(x, 2) for x in os.getloadavg()],
            "python": platform.python_version(), "platform": platform.platform()}


def stamp(script: str, script_args: list[str] | None = None) -> dict:
    """``{"script", "commit", "date", "machine"}`` for a result written by ``script`` (a path
    relative to the repository, e.g. ``bench/api.py``) run with ``script_args`` (default: this
    process's arguments)."""
    args = sys.argv[1:] if script_args is None else script_args
    return {"script": " ".join([script, *args]), "commit": git_commit(),
            "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "machine": machine()}


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
