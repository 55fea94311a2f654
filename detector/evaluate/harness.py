"""Score verdicts against ground truth (``truth.json`` from ``detector simulate``).

Grain: the **account** is the unit that gets flagged. An account is *flagged* when any of its
account-days is ``review`` or ``block``, *blocked* when any is ``block``; its score is its max
score over days. Truth accounts without any verdict count as allowed with score 0 (a detector
that never looks at an account does not get credit for it). Verdicts of accounts absent from
the truth are ignored and counted. Account-day figures are reported too.
"""

from __future__ import annotations

from datetime import date

import pandas as pd

from detector.errors import InputError
from detector.evaluate.metrics import average_precision, ratio, recall_at_fpr, summary_stats

REQUIRED = ("account_id", "date", "score", "decision")
DECISIONS = ("allow", "review", "block")


def _truth_accounts(truth: dict) -> dict[str, dict]:
    accounts = truth.get("accounts", truth) if isinstance(truth, dict) else None
    if not isinstance(accounts, dict) or not all(
            isinstance(v, dict) and "is_distiller" in v for v in accounts.values()):
        raise InputError("truth: expected {'accounts': {account_id: {'is_distiller': ...}}}")
    return accounts


def _clean_verdicts(verdicts: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in REQUIRED if c not in verdicts.columns]
    if missing:
        raise InputError(f"verdicts: missing column(s) {', '.join(missing)}; "
                         f"expected at least {', '.join(REQUIRED)}")
    v = verdicts.loc[:, list(REQUIRED)].copy()
    v["account_id"] = v["account_id"].astype(str)
    v["date"] = pd.to_datetime(v["date"]).dt.date
    v["score"] = pd.to_numeric(v["score"], errors="coerce").fillna(0.0).astype(float)
    v["decision"] = v["decision"].astype(str).str.lower()
    bad = sorted(set(v["decision"]) - set(DECISIONS))
    if bad:
        raise InputError(f"verdicts: column decision: expected allow|review|block, got {bad[:3]}")
    v["flag"] = v["decision"].isin(("review", "block"))
    v["block"] = v["decision"] == "block"
    return v


def _per_account(v: pd.DataFrame) -> pd.DataFrame:
    """One row per account: max score, flagged/blocked, first flag/block date."""
    g = v.groupby("account_id", sort=True)
    out = pd.DataFrame({"score": g["score"].max(), "flag": g["flag"].any(), "block": g["block"].any(),
                        "first_seen": g["date"].min()})
    out["first_flag"] = v[v["flag"]].groupby("account_id")["date"].min()
    out["first_block"] = v[v["block"]].groupby("account_id")["date"].min()
    return out


def _days(later: object, earlier: object) -> int | None:
    if later is None or earlier is None or pd.isna(later) or pd.isna(earlier):
        return None
    return (later - earlier).days  # type: ignore[operator]


def _frame(accounts: dict[str, dict], per: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for acct, t in accounts.items():
        seen = acct in per.index
        p = per.loc[acct] if seen else None
        first_active = t.get("first_active")
        first_active = date.fromisoformat(first_active) if first_active else (
            p["first_seen"] if seen else None)
        rows.append({
            "account_id": acct, "archetype": t.get("archetype", "unknown"),
            "is_distiller": bool(t["is_distiller"]), "cluster": t.get("cluster"),
            "distilled_tokens": int(t.get("distilled_completion_tokens", 0) or 0),
            "has_verdict": seen, "score": float(p["score"]) if seen else 0.0,
            "flag": bool(p["flag"]) if seen else False, "block": bool(p["block"]) if seen else False,
            "days_to_flag": _days(p["first_flag"], first_active) if seen else None,
            "days_to_block": _days(p["first_block"], first_active) if seen else None,
        })
    return pd.DataFrame(rows)


def _rates(df: pd.DataFrame) -> dict:
    pos, neg = df[df["is_distiller"]], df[~df["is_distiller"]]
    tok = pos["distilled_tokens"].sum() + neg["distilled_tokens"].sum()
    y, s = df["is_distiller"].to_numpy(), df["score"].to_numpy()
    return {
        "recall": {"flag": ratio(pos["flag"].sum(), len(pos)), "block": ratio(pos["block"].sum(), len(pos))},
        "precision": {"flag": ratio(pos["flag"].sum(), df["flag"].sum()),
                      "block": ratio(pos["block"].sum(), df["block"].sum())},
        "benign_fpr": {"flag": ratio(neg["flag"].sum(), len(neg)), "block": ratio(neg["block"].sum(), len(neg))},
        "distilled_token_share": {
            "flag": ratio(df.loc[df["flag"], "distilled_tokens"].sum(), tok),
            "block": ratio(df.loc[df["block"], "distilled_tokens"].sum(), tok)},
        "average_precision": average_precision(y, s),
        "recall_at_benign_fpr": {"0.001": recall_at_fpr(y, s, 0.001), "0.01": recall_at_fpr(y, s, 0.01)},
    }


def _days_to_detect(pos: pd.DataFrame) -> dict:
    out = {}
    for kind in ("flag", "block"):
        vals = [int(x) for x in pos[f"days_to_{kind}"].dropna()]
        out[kind] = {**summary_stats(vals), "detected": len(vals), "never": int(len(pos) - len(vals))}
    return out


def _per_archetype(df: pd.DataFrame) -> dict:
    out = {}
    for arch, grp in df.groupby("archetype", sort=True):
        days = [int(x) for x in grp["days_to_flag"].dropna()]
        out[str(arch)] = {
            "is_distiller": bool(grp["is_distiller"].iloc[0]), "accounts": int(len(grp)),
            "flagged": int(grp["flag"].sum()), "blocked": int(grp["block"].sum()),
            "flag_rate": ratio(grp["flag"].sum(), len(grp)), "block_rate": ratio(grp["block"].sum(), len(grp)),
            "mean_score": float(grp["score"].mean()),
            "median_days_to_flag": summary_stats(days)["median"],
        }
    return out


def _per_cluster(df: pd.DataFrame) -> dict:
    clusters = df[df["is_distiller"] & df["cluster"].notna()]
    per = {str(c): {"archetype": str(g["archetype"].iloc[0]), "members": int(len(g)),
                    "flagged": int(g["flag"].sum()), "blocked": int(g["block"].sum())}
           for c, g in clusters.groupby("cluster", sort=True)}
    return {"clusters": len(per),
            "member_recall_flag": ratio(clusters["flag"].sum(), len(clusters)),
            "clusters_with_any_flag": sum(1 for c in per.values() if c["flagged"] > 0),
            "per_cluster": per}


def _account_days(v: pd.DataFrame, accounts: dict[str, dict]) -> dict:
    label = {a: bool(t["is_distiller"]) for a, t in accounts.items()}
    d = v[v["account_id"].isin(label.keys())].copy()
    d["is_distiller"] = d["account_id"].map(label).astype(bool)
    pos, neg = d[d["is_distiller"]], d[~d["is_distiller"]]
    return {"rows": int(len(d)), "distiller_rows": int(len(pos)),
            "recall": {"flag": ratio(pos["flag"].sum(), len(pos)), "block": ratio(pos["block"].sum(), len(pos))},
            "benign_fpr": {"flag": ratio(neg["flag"].sum(), len(neg)), "block": ratio(neg["block"].sum(), len(neg))},
            "average_precision": average_precision(d["is_distiller"].to_numpy(), d["score"].to_numpy())}


def evaluate(truth: dict, verdicts: pd.DataFrame) -> dict:
    """Detection quality of ``verdicts`` (columns account_id, date, score, decision) against
    ``truth`` (the parsed ``truth.json``). Returns a JSON-ready dict; see module docstring."""
    accounts = _truth_accounts(truth)
    v = _clean_verdicts(verdicts)
    per = _per_account(v)
    df = _frame(accounts, per)
    if df.empty:
        raise InputError("truth: no accounts")
    pos = df[df["is_distiller"]]
    return {
        "scenario": truth.get("scenario"), "seed": truth.get("seed"),
        "accounts": {"total": int(len(df)), "distillers": int(len(pos)),
                     "benign": int(len(df) - len(pos)),
                     "without_verdicts": int((~df["has_verdict"]).sum()),
                     "verdict_accounts_not_in_truth": int((~per.index.isin(list(accounts))).sum())},
        **_rates(df),
        "days_to_detect": _days_to_detect(pos),
        "per_archetype": _per_archetype(df),
        "clusters": _per_cluster(df),
        "account_day": _account_days(v, accounts),
    }
