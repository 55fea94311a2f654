"""`detector clusters list|show|compute` through the real CLI app."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from detector.cli.main import app

from .conftest import DAY, scenario, write_lake

runner = CliRunner()


def _run(home, *args: str):
    return runner.invoke(app, ["--home", str(home.home), "clusters", *args])


def test_compute_list_show(home):
    rows, _ = scenario()
    write_lake(home, rows)
    assert _run(home, "compute", "--date", DAY).exit_code == 0
    res = _run(home, "list", "--json")
    assert res.exit_code == 0, res.output
    listed = json.loads(res.stdout)
    hydra = next(c for c in listed if c["size"] == 8)
    res = _run(home, "show", hydra["cluster_id"], "--json")
    shown = json.loads(res.stdout)
    assert shown["cluster_id"] == hydra["cluster_id"] and len(shown["members"]) == 8
    table = _run(home, "show", hydra["cluster_id"])
    assert table.exit_code == 0 and "hydra00" in table.stdout and "payment" in table.stdout


def test_usage_errors_exit_2_with_one_line(home):
    rows, _ = scenario()
    write_lake(home, rows)
    res = _run(home, "show", "c_nope")
    assert res.exit_code == 2 and "c_nope" in res.stderr and res.stderr.count("\n") == 1
    res = _run(home, "list", "--date", "2020-01-01")
    assert res.exit_code == 2 and "2020-01-01" in res.stderr
    res = _run(home, "compute", "--date", "2020-01-01")
    assert res.exit_code == 2 and "no ingested data" in res.stderr
