"""`detector simulate` through the CLI: JSON summary, scenario defaults, usage errors exit 2."""

from __future__ import annotations

import json

import typer
from typer.testing import CliRunner

from detector.cli import simulate_cmd


def _app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def root() -> None:
        """Test root."""

    simulate_cmd.register(app)
    return app


def test_simulate_cli_writes_files_and_summary(tmp_path):
    res = CliRunner().invoke(_app(), ["simulate", "--out", str(tmp_path), "--accounts", "30",
                                      "--days", "1", "--seed", "4", "--json"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert summary["accounts"] <= 30 and summary["requests"] > 0 and summary["scenario"] == "demo"
    assert (tmp_path / "truth.json").exists() and (tmp_path / "requests-2026-11-24.jsonl").exists()


def test_unknown_scenario_exits_2(tmp_path):
    res = CliRunner().invoke(_app(), ["simulate", "--out", str(tmp_path), "--scenario",
                                      str(tmp_path / "none.toml")])
    assert res.exit_code == 2
    assert "none.toml" in res.output and "not found" in res.output
