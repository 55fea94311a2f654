"""evaluate() on a hand-built truth and verdict table; every figure computed by hand."""

from __future__ import annotations

import pandas as pd
import pytest

from detector.errors import InputError
from detector.evaluate import evaluate

TRUTH = {"seed": 1, "scenario": "hand", "accounts": {
    # two hydra members (cluster c1), a proxy, two benign accounts, one benign never scored
    "h1": {"archetype": "hydra", "is_distiller": True, "cluster": "c1",
           "distilled_completion_tokens": 600, "first_active": "2026-01-01"},
    "h2": {"archetype": "hydra", "is_distiller": True, "cluster": "c1",
           "distilled_completion_tokens": 300, "first_active": "2026-01-01"},
    "p": {"archetype": "proxy_mixer", "is_distiller": True, "cluster": None,
          "distilled_completion_tokens": 100, "first_active": "2026-01-02"},
    "b1": {"archetype": "casual", "is_distiller": False, "cluster": None,
           "distilled_completion_tokens": 0, "first_active": "2026-01-01"},
    "b2": {"archetype": "templated_app", "is_distiller": False, "cluster": None,
           "distilled_completion_tokens": 0, "first_active": "2026-01-01"},
    "b3": {"archetype": "casual", "is_distiller": False, "cluster": None,
           "distilled_completion_tokens": 0, "first_active": "2026-01-03"},
}}

ROWS = [  # account, date, score, decision
    ("h1", "2026-01-01", 0.4, "allow"), ("h1", "2026-01-03", 0.95, "block"),
    ("h2", "2026-01-01", 0.3, "allow"), ("h2", "2026-01-02", 0.2, "allow"),
    ("p", "2026-01-02", 0.7, "review"), ("p", "2026-01-03", 0.6, "allow"),
    ("b1", "2026-01-01", 0.8, "review"), ("b1", "2026-01-02", 0.1, "allow"),
    ("b2", "2026-01-01", 0.1, "allow"),
    ("zz", "2026-01-01", 0.9, "block"),  # not in truth: ignored, counted
]


@pytest.fixture()
def result():
    df = pd.DataFrame(ROWS, columns=["account_id", "date", "score", "decision"])
    return evaluate(TRUTH, df)


def test_account_counts(result):
    assert result["accounts"] == {"total": 6, "distillers": 3, "benign": 3, "without_verdicts": 1,
                                  "verdict_accounts_not_in_truth": 1}


def test_account_level_rates(result):
    # flagged: h1 (block), p (review), b1 (review); blocked: h1 only
    assert result["recall"] == {"flag": pytest.approx(2 / 3), "block": pytest.approx(1 / 3)}
    assert result["benign_fpr"] == {"flag": pytest.approx(1 / 3), "block": 0.0}
    assert result["precision"] == {"flag": pytest.approx(2 / 3), "block": 1.0}
    # distilled tokens: h1 600 + p 100 of 1000 flagged; blocked h1 600
    assert result["distilled_token_share"] == {"flag": pytest.approx(0.7), "block": pytest.approx(0.6)}


def test_average_precision_of_max_scores(result):
    # max scores: h1 .95(+) b1 .8(-) p .7(+) h2 .3(+) b2 .1(-) b3 0(-)
    # P@1=1 (R 1/3); P@3=2/3 (R 2/3); P@4=3/4 (R 1)  -> AP = (1 + 2/3 + 3/4) / 3
    assert result["average_precision"] == pytest.approx((1 + 2 / 3 + 3 / 4) / 3)


def test_days_to_detect(result):
    # h1 first flagged 01-03, active from 01-01: 2 days; p flagged on its first day: 0
    d = result["days_to_detect"]["flag"]
    assert (d["detected"], d["never"]) == (2, 1)
    assert d["mean"] == 1.0 and d["max"] == 2.0
    assert result["days_to_detect"]["block"]["max"] == 2.0


def test_per_archetype_and_clusters(result):
    hydra = result["per_archetype"]["hydra"]
    assert (hydra["accounts"], hydra["flagged"], hydra["blocked"]) == (2, 1, 1)
    assert hydra["flag_rate"] == 0.5 and hydra["mean_score"] == pytest.approx((0.95 + 0.3) / 2)
    assert result["per_archetype"]["casual"]["flag_rate"] == 0.5
    assert result["clusters"]["clusters"] == 1
    assert result["clusters"]["member_recall_flag"] == 0.5
    assert result["clusters"]["per_cluster"]["c1"] == {"archetype": "hydra", "members": 2,
                                                       "flagged": 1, "blocked": 1}


def test_account_day_figures(result):
    ad = result["account_day"]
    # 9 rows of truth accounts: 6 distiller rows (2 flagged, 1 blocked), 3 benign (1 flagged)
    assert (ad["rows"], ad["distiller_rows"]) == (9, 6)
    assert ad["recall"] == {"flag": pytest.approx(2 / 6), "block": pytest.approx(1 / 6)}
    assert ad["benign_fpr"] == {"flag": pytest.approx(1 / 3), "block": 0.0}


def test_input_errors():
    with pytest.raises(InputError, match="missing column"):
        evaluate(TRUTH, pd.DataFrame({"account_id": ["h1"]}))
    bad = pd.DataFrame([("h1", "2026-01-01", 0.5, "maybe")],
                       columns=["account_id", "date", "score", "decision"])
    with pytest.raises(InputError, match="allow\\|review\\|block"):
        evaluate(TRUTH, bad)
    with pytest.raises(InputError, match="truth"):
        evaluate({"accounts": {"a": {}}}, pd.DataFrame(columns=["account_id", "date", "score", "decision"]))
