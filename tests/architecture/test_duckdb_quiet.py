"""DuckDB never writes to stdout: the commands' machine-readable output (``ingest --json``,
``verdicts --format csv``) is parsed by hooks and harnesses, and DuckDB 2 draws a progress bar
on stdout for long queries even when stdout is not a terminal."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb

from detector.features import engine
from detector.lake.db import open_duckdb, silence
from detector.settings import load_settings

PACKAGE = Path(__file__).resolve().parents[2] / "detector"
QUERY = "SELECT count(*) FROM range(20000000) t(i) WHERE i % 7 = 3"


def _printed(con, capfd) -> str:
    con.execute("SET progress_bar_time = 0")  # draw at once instead of after two seconds
    con.sql(QUERY).fetchall()
    return capfd.readouterr().out


def test_the_package_connection_prints_nothing_where_a_plain_one_draws_a_bar(capfd):
    plain = duckdb.connect()
    plain.execute("SET enable_progress_bar = true")  # DuckDB 1.x: off outside notebooks
    assert _printed(plain, capfd) != ""  # the check can see a bar
    assert _printed(open_duckdb(), capfd) == ""
    cur = open_duckdb().cursor()
    silence(cur)
    assert _printed(cur, capfd) == ""


def test_the_feature_engines_duckdb_prints_nothing(tmp_path, capfd):
    eng = engine.connect(load_settings(tmp_path / "h"), "duckdb")
    try:
        assert _printed(eng.backend.con, capfd) == ""
    finally:
        eng.close()


def test_every_duckdb_connection_is_opened_by_open_duckdb():
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        if re.search(r"(?<![\w.])duckdb\.connect\(", text) and path.name != "db.py":
            found.append(str(path.relative_to(PACKAGE)))
    assert found == []
