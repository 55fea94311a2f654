import json

import pytest

from .e2e_cli import cli


@pytest.fixture(scope="session")
def demo(tmp_path_factory):
    """A small simulated traffic set, ingested and scored once through the real CLI."""
    root = tmp_path_factory.mktemp("e2e")
    logs, home = root / "logs", root / "home"
    cli("simulate", "--out", str(logs), "--accounts", "300", "--days", "2", "--seed", "11")
    ingest = json.loads(cli("ingest", str(logs), "--json", home=home).stdout)
    run = cli("run", "--all", home=home)
    return {"logs": logs, "home": home, "ingest": ingest, "run": run, "root": root}
