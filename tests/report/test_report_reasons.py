"""Every reason the daily report renders reads as words: a day whose flagged
accounts carry every reason token that can reach a verdict (each rule of ``rules/``, each
feature of the shipped model with its explanation, each policy marker), rendered to HTML; the
reason cells are enumerated and none holds a raw column code, rule name or marker."""

from __future__ import annotations

import datetime as dt
import html
import json
import re
from pathlib import Path

import pyarrow as pa

import detector
from detector.columns.reasons import POLICY_REASONS
from detector.decide.reasons import default_rule_words
from detector.lake.io import write_parquet_atomic
from detector.report import collect_report_data, render_html
from detector.settings import load_settings
from detector.verdicts import VERDICT_SCHEMA

DAY = "2024-05-02"
#: a feature column's name (family prefix, optionally behind w7_)
CODE = re.compile(r"\b(w7_)?(vol|tim|div|hv|inf|rel|cov|clu|hist)_[a-z0-9_]+\b")
PER_ACCOUNT = 6  # the report shows six reasons per account


def _tokens() -> tuple[list[str], list[str], list[str]]:
    card = json.loads((Path(detector.__file__).parent / "model" / "default" / "card.json")
                      .read_text())
    return sorted(default_rule_words()), list(card["features"]), sorted(POLICY_REASONS)


def _explanation(tokens: list[str], features: set[str]) -> str:
    words = default_rule_words()
    top = [{"feature": t, "value": 0.5, "percentile": 97.0, "median": 0.1, "contribution": 0.2}
           for t in tokens if t in features]
    values = {t: {c: 0.5 for c in words[t].columns} for t in tokens if t in words}
    return json.dumps({"top_features": top, "rule_values": values})


def _home(tmp_path):
    s = load_settings(tmp_path / "home")
    rules, features, policy = _tokens()
    everything = rules + features + policy
    chunks = [everything[i:i + PER_ACCOUNT] for i in range(0, len(everything), PER_ACCOUNT)]
    rows = []
    for i, chunk in enumerate(chunks):
        row = {f.name: None for f in VERDICT_SCHEMA}
        row.update(account_id=f"acct_{i:03d}", date=dt.date.fromisoformat(DAY),
                   score=0.9, decision="review" if i % 2 else "block",
                   reasons=";".join(chunk), rule_hits=[t for t in chunk if t in rules],
                   shadow_hits=[], explanation_json=_explanation(chunk, set(features)),
                   model_version="m1", ruleset_hash="rs1", run_id="run1")
        rows.append(row)
    table = pa.Table.from_pylist(rows, schema=VERDICT_SCHEMA)
    write_parquet_atomic(s.verdicts_dir / f"date={DAY}" / "verdicts.parquet", table)
    return s, everything


def _visible(cell: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", cell))


def test_every_rendered_reason_reads_as_words(tmp_path):
    settings, everything = _home(tmp_path)
    data = collect_report_data(settings, top_n=1000)
    page = render_html(data, settings)
    cells = re.findall(r'<td class="reasons">(.*?)</td>', page, re.S)
    assert len(cells) == len(data.flagged)
    spans = [(code, _visible(text)) for cell in cells
             for code, text in re.findall(r'<span title="([^"]*)">(.*?)</span>', cell, re.S)]
    # every token rendered (low-is-suspicious features at the 97th percentile are not reasons)
    shown = {html.unescape(code) for code, _ in spans}
    features = set(_tokens()[1])
    assert set(everything) - features <= shown
    assert len(shown & features) >= len(features) // 2
    rule_names = set(default_rule_words())
    for code, text in spans:
        assert text.strip() and text.strip() != code, code
        assert not CODE.search(text), f"{code}: a raw column code in {text!r}"
        assert not any(re.search(rf"\b{re.escape(n)}\b", text) for n in rule_names), \
            f"{code}: a raw rule name in {text!r}"
        if "_" in code or ":" in code:
            assert code not in text, f"{code} renders as {text!r}"
    # the rule table leads with each rule's title (its file name is secondary)
    rules_section = page[page.index('id="rules"'):page.index('id="provenance"')]
    for rule in data.rules:
        row = re.search(rf'<tr data-rule="{re.escape(rule["rule_id"])}".*?</tr>',
                        rules_section, re.S).group(0)
        first_cell = _visible(re.search(r"<td>(.*?)</td>", row, re.S).group(1))
        assert first_cell.strip().startswith(rule["title"]), (rule["rule_id"], first_cell)


def test_summary_names_the_top_review_by_risk(tmp_path):
    """The summary's "starting with" is the queue's first review: highest risk, not the
    highest score (saturated scores tie at 1.0)."""
    s = load_settings(tmp_path / "home")
    rows = []
    for acc, score, risk in (("r_low_risk", 1.0, 2.0), ("r_high_risk", 0.95, 5.0),
                             ("r_no_risk", 1.0, None)):
        row = {f.name: None for f in VERDICT_SCHEMA}
        row.update(account_id=acc, date=dt.date.fromisoformat(DAY), score=score, risk=risk,
                   decision="review", reasons="hv_logprobs", rule_hits=[], shadow_hits=[])
        rows.append(row)
    table = pa.Table.from_pylist(rows, schema=VERDICT_SCHEMA)
    write_parquet_atomic(s.verdicts_dir / f"date={DAY}" / "verdicts.parquet", table)
    person = collect_report_data(s).summary[1]
    assert person.startswith("3 accounts need a person to review them, starting with "
                             "r_high_risk (score 0.95)"), person
