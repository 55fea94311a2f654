"""The three report files: self-contained HTML, report.json and flagged.csv, and the CLI."""

from __future__ import annotations

import base64
import csv
import json
import re
from html.parser import HTMLParser

import pyarrow.parquet as pq
from typer.testing import CliRunner

from detector.report import write_report


class _Page(HTMLParser):
    """Collects ids, images, links and text of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.imgs: list[dict] = []
        self.urls: list[str] = []
        self.tags: list[str] = []
        self.tiles: dict[str, int] = {}
        self.rows: list[dict] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append(tag)
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "img":
            self.imgs.append(a)
        for key in ("src", "href"):
            if key in a:
                self.urls.append(a[key])
        if "data-key" in a:
            self.tiles[a["data-key"]] = int(a["data-value"])
        if tag == "tr" and any(k.startswith("data-") for k in a):
            self.rows.append(a)


def test_three_files_beside_each_other(report_files):
    files = report_files
    assert files.html.name == "day.html"
    assert files.json == files.html.with_name("report.json")
    assert files.csv == files.html.with_name("flagged.csv")
    assert all(p.stat().st_size > 0 for p in (files.html, files.json, files.csv))


def test_html_structure_is_self_contained_and_escaped(report_files):
    html = report_files.html.read_text()
    page = _Page()
    page.feed(html)
    assert {"headline", "charts", "top-accounts", "clusters", "rules", "provenance"} <= page.ids
    assert 'name="viewport"' in html  # readable on a phone
    assert page.tiles == {"active": 7, "flagged": 2, "blocked": 2, "new_flagged": 2,
                          "distilled_tokens": 2650}
    # images embedded, no external resource of any kind, no script
    assert len(page.imgs) == 2
    for img in page.imgs:
        assert img["src"].startswith("data:image/svg+xml;base64,")
        svg = base64.b64decode(img["src"].split(",", 1)[1]).decode()
        assert "<svg" in svg and "</svg>" in svg
        assert img.get("alt")
    assert all(u.startswith("data:") for u in page.urls)
    assert "script" not in page.tags
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # reason text from a5's verdict
    accounts = [r["data-account"] for r in page.rows if "data-account" in r]
    assert accounts == ["a3", "a5", "a1", "a2"]
    shadow = {r["data-rule"]: r["data-shadow"] for r in page.rows if "data-rule" in r}
    assert shadow == {"hv_logprobs": "false", "vol_burst": "false", "exp_x": "true"}
    assert [r["data-cluster"] for r in page.rows if "data-cluster" in r] == ["c2", "c1"]
    assert re.search(r"m-test-1", html)


def test_report_json_matches_the_verdicts(report_files):
    report = json.loads(report_files.json.read_text())
    assert report["date"] == "2024-03-04" and report["previous_date"] == "2024-03-02"
    tiles = {t["key"]: t for t in report["tiles"]}
    assert (tiles["blocked"]["value"], tiles["blocked"]["delta"]) == (2, 1)
    assert tiles["distilled_tokens"]["value"] == 2650
    assert report["flagged_count"] == 4
    # the trend starts at the first day with verdicts (03-01), not 14 days back
    assert len(report["trend"]) == 4 and len(report["score_hist"]) == 20
    assert len(report["summary"]) == 3
    assert "flagged" not in report


def test_flagged_csv_is_exactly_the_flagged_verdicts(report_files):
    rows = list(csv.DictReader(report_files.csv.open()))
    verdict_file = report_files.html.parent.parent / "home" / "verdicts" / "date=2024-03-04"
    verdicts = pq.read_table(verdict_file / "verdicts.parquet").to_pylist()
    expected = {(v["account_id"], v["decision"]) for v in verdicts
                if v["decision"] in ("review", "block")}
    assert {(r["account_id"], r["decision"]) for r in rows} == expected
    a3 = next(r for r in rows if r["account_id"] == "a3")
    assert (a3["score"], a3["cluster_id"], a3["completion_tokens"], a3["new"]) == \
        ("0.97", "c1", "2000", "false")


def test_flagged_csv_neutralises_spreadsheet_formulas(tmp_path, monkeypatch):
    from detector.settings import load_settings

    from .reportkit import write_verdicts

    settings = load_settings(tmp_path / "h")
    write_verdicts(settings, "2024-05-01",
                   [("=HYPERLINK(\"x\")", 0.9, "block", "@SUM(A1)", None, [], [])])
    rows = list(csv.DictReader(write_report(settings, tmp_path / "r.html").csv.open()))
    assert rows[0]["account_id"] == "'=HYPERLINK(\"x\")"
    assert rows[0]["reasons"] == "'@SUM(A1)"


def test_cli_report_writes_files_and_reports_errors(home, tmp_path):
    from detector.cli import main as cli_main

    runner = CliRunner()
    out = tmp_path / "cli" / "r.html"
    ok = runner.invoke(cli_main.app, ["--home", str(home.home), "report", "--date", "2024-03-02",
                             "--out", str(out)])
    assert ok.exit_code == 0, ok.output
    assert out.exists() and out.with_name("flagged.csv").exists()
    assert json.loads(out.with_name("report.json").read_text())["date"] == "2024-03-02"

    default = runner.invoke(cli_main.app, ["--home", str(home.home), "report"])
    assert default.exit_code == 0
    assert (home.reports_dir / "daily" / "2024-03-04" / "report.html").exists()

    bad = runner.invoke(cli_main.app, ["--home", str(home.home), "report", "--date", "2024-13-01",
                              "--out", str(out)])
    assert bad.exit_code == 2
    assert "--date" in bad.output and len(bad.output.strip().splitlines()) == 1
    empty = runner.invoke(cli_main.app, ["--home", str(tmp_path / "empty"), "report", "--out", str(out)])
    assert empty.exit_code == 2 and "no verdicts" in empty.output
