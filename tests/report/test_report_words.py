"""The report reads as words: rule titles, a plain summary, a trend without empty padding,
clusters only with flagged members, account links when a base URL is set."""

from __future__ import annotations

import base64
import re

import pytest

from detector.columns import column
from detector.errors import ConfigError
from detector.report import collect_report_data, render_html
from detector.report.extras import _detail
from detector.rules import load_ruleset
from detector.settings import load_settings

from .reportkit import write_requests, write_verdicts


@pytest.fixture(scope="module")
def rule():
    """A real rule of the shipped rule set (verdicts carry its name; its id is a UUID)."""
    r = load_ruleset().rules[0]
    assert r.id != r.name and r.title
    return r


@pytest.fixture
def words_home(tmp_path, rule):
    settings = load_settings(tmp_path / "home")
    # 03-10: nothing flagged at all (an "empty" day for the review/block lines)
    write_verdicts(settings, "2024-03-10", [("q1", 0.1, "allow", "", "c9", [], []),
                                            ("q2", 0.2, "allow", "", "c9", [], [])])
    write_verdicts(settings, "2024-03-12", [
        ("acct-with-a-long-id/x", 0.93, "review", f"{rule.name};vol_requests", "c1",
         [rule.name], []),
        ("b1", 0.99, "block", rule.name, "c1", [rule.name], []),
        ("b2", 0.97, "block", "hv_logprobs", None, [], []),
        ("q1", 0.1, "allow", "", "c9", [], []),
        ("q2", 0.1, "allow", "", "c9", [], []),
        ("q3", 0.1, "allow", "", "c9", [], []),  # c9 grows but has no flagged member
    ])
    write_requests(settings, "2024-03-10", [("q1", 5)])
    write_requests(settings, "2024-03-12", [("b1", 700), ("b2", 300), ("q1", 9)])
    return settings


def _svg_texts(data_uri: str) -> list[str]:
    svg = base64.b64decode(data_uri.split(",", 1)[1]).decode()
    return re.findall(r"<text[^>]*>([^<]*)</text>", svg)


def test_rule_titles_are_filled_from_rule_names(words_home, rule):
    data = collect_report_data(words_home)
    rules = {r["rule_id"]: r for r in data.rules}
    assert rules[rule.name]["title"] == rule.title
    assert rules[rule.name]["accounts"] == 2
    review = next(a for a in data.top_accounts if a["decision"] == "review")
    first, second = review["reason_items"][:2]  # structured reasons (detector.decide.reasons)
    assert (first["kind"], first["code"], first["text"]) == ("rule", rule.name, rule.title)
    assert second["kind"] == "feature" and second["code"] == "vol_requests"
    assert second["text"].startswith(column("vol_requests").label) and "_" not in second["text"]
    html = render_html(data, words_home)
    assert f">{rule.title}</span>" in html.replace("&#39;", "'")


def test_clusters_without_flagged_members_are_not_listed(words_home):
    clusters = collect_report_data(words_home).clusters
    assert [c["cluster_id"] for c in clusters] == ["c1"]
    assert all(c["flagged"] > 0 for c in clusters)


def test_trend_starts_at_first_data_day_and_counts_whole_accounts(words_home):
    from detector.report.plots import trend_chart

    data = collect_report_data(words_home)
    assert [t["date"] for t in data.trend] == ["2024-03-10", "2024-03-11", "2024-03-12"]
    first_day_only = collect_report_data(words_home, "2024-03-10")
    assert [t["date"] for t in first_day_only.trend] == ["2024-03-10"]
    assert (first_day_only.trend[0]["review"], first_day_only.trend[0]["block"]) == (0, 0)
    for trend in (first_day_only.trend, data.trend):
        labels = _svg_texts(trend_chart(trend))
        fractions = [t for t in labels if re.fullmatch(r"\s*[\d.]+\s*", t) and "." in t]
        assert fractions == [], labels  # no 0.000-0.045 "accounts"


def test_plain_summary_in_three_sentences(words_home):
    data = collect_report_data(words_home)
    changed, person, blocked = data.summary
    assert changed.startswith("On 2024-03-12, 6 accounts were active (+4 since 2024-03-10)")
    assert "3 accounts were newly flagged or blocked" in changed
    assert person.startswith("1 account needs a person to review it, starting with "
                             "acct-with-a-long-id/x")
    assert "1 new or growing group of linked accounts" in person
    assert blocked == "2 accounts were blocked automatically; they took 1,000 output tokens " \
                      "that day."
    html = render_html(data, words_home)
    assert html.index('id="summary"') < html.index('id="headline"')
    first = collect_report_data(words_home, "2024-03-10").summary
    assert "first evaluated day" in first[0]
    assert first[1:] == ["No account needs a person to review it.",
                         "No account was blocked automatically."]


def test_account_ids_link_to_account_pages_when_a_base_url_is_set(words_home):
    data = collect_report_data(words_home)
    plain = render_html(data, words_home)
    assert "/accounts/" not in plain
    assert '<td class="acct"><code>acct-with-a-long-id/x</code>' in plain
    linked = render_html(data, words_home.replace(report_base_url="https://dg.example.com/"))
    assert '<a href="https://dg.example.com/accounts/acct-with-a-long-id%2Fx">' in linked
    assert "td.acct, td.acct code { white-space: nowrap;" in linked
    with pytest.raises(ConfigError, match="report_base_url"):
        render_html(data, words_home.replace(report_base_url="javascript:alert(1)"))


def test_cluster_details_in_words():
    campaign = _detail({"kind": "campaign", "size": 4, "group_surprise_nats": 60.2,
                        "first_seen": "2024-03-01", "summary": "campaign: 4 ... (60 nats)"})
    assert "nats" not in campaign
    assert campaign == ("campaign: 4 flagged accounts split one topic sweep between them - a "
                        "split this clean happens by chance less than once in 10^26, first "
                        "seen 2024-03-01")
    linked = _detail({"kind": "linked", "size": 3, "first_seen": "2024-03-02"})
    assert linked.startswith("linked: 3 accounts tied by shared payment")
