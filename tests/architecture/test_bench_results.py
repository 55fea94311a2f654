"""Bench results a reader can trust: every ``bench/results/*.json`` names the script that wrote
it, the commit, the date and the machine, and every results file the README or ``docs/`` cite
exists."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "bench" / "results"
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md")),
        REPO / "bench" / "foreign" / "README.md"]
#: the provenance fields and the names older writers gave them
FIELDS = {"script": ("script",), "commit": ("commit", "git_commit"),
          "date": ("date", "when", "measured_at"), "machine": ("machine",)}
CITED = re.compile(r"bench/results/([A-Za-z0-9_.-]+\.json)")


def _keys(doc: dict) -> set[str]:
    """Keys at the top level and in ``provenance``; for a file of several runs keyed by name
    (``runs``), the keys every run carries."""
    keys = set(doc) | set(doc.get("provenance") or {})
    runs = doc.get("runs")
    if isinstance(runs, dict) and runs and all(isinstance(r, dict) for r in runs.values()):
        keys |= set.intersection(*(set(r) for r in runs.values()))
    return keys


@pytest.mark.parametrize("path", sorted(RESULTS.glob("*.json")), ids=lambda p: p.name)
def test_result_has_provenance(path: Path) -> None:
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(doc, dict), f"{path.name}: top level is {type(doc).__name__}, not an object"
    keys = _keys(doc)
    missing = [f for f, names in FIELDS.items() if not keys & set(names)]
    assert not missing, f"{path.name}: no {', '.join(missing)} (top level or in 'provenance')"


def test_cited_results_exist() -> None:
    cited = {(doc.relative_to(REPO).as_posix(), name)
             for doc in DOCS for name in CITED.findall(doc.read_text(encoding="utf-8"))}
    assert cited, "no bench/results file cited in the README or docs/: the pattern is stale"
    absent = sorted(f"{doc}: bench/results/{name}" for doc, name in cited
                    if not (RESULTS / name).is_file())
    assert not absent, f"cited results files that do not exist: {absent}"
