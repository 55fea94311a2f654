"""The console script's target stays light: spawned workers import it again."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("pydantic", "pydantic_settings", "duckdb", "pandas", "typer", "detector.settings",
         "detector.cli.main")


def test_the_console_script_points_at_the_light_launcher():
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["detector"] == "detector.cli.launch:main"


def test_importing_the_launcher_loads_no_command_dependencies():
    code = ("import sys, detector.cli.launch as m; assert callable(m.main); "
            f"print(','.join(n for n in {HEAVY!r} if n in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=ROOT)
    assert out.stdout.strip() == "", f"the launcher imported {out.stdout.strip()}"


def test_the_launcher_runs_the_command_line():
    code = "import sys; sys.argv = ['detector', '--help']; from detector.cli.launch import main; main()"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "ingest" in out.stdout
