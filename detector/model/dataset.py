"""Labelled account-days for training and evaluation.

Labels come from generated truth (``truth.json`` of a simulation: per account ``is_distiller``)
and from analyst labels in the case store; analyst labels override generated ones (an account-day
label overrides an account-wide label).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from detector.errors import InputError
from detector.features.assemble import account_features
from detector.lake.db import connect
from detector.settings import Settings


def read_truth(path: Path) -> dict:
    try:
        truth = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"--truth {path}: file not found") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"--truth {path}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
    if "accounts" not in truth or not isinstance(truth["accounts"], dict):
        raise InputError(f"--truth {path}: expected an object with an 'accounts' mapping")
    return truth


def truth_labels(truth: dict) -> pd.DataFrame:
    rows = [{"account_id": a, "is_distiller": bool(v.get("is_distiller")),
             "archetype": v.get("archetype")} for a, v in truth["accounts"].items()]
    return pd.DataFrame(rows, columns=["account_id", "is_distiller", "archetype"])


def case_labels(settings: Settings) -> pd.DataFrame:
    if not settings.cases_db.exists():
        return pd.DataFrame(columns=["account_id", "date", "is_distiller"])
    from detector.cases import CaseStore

    return CaseStore(settings).labels()[["account_id", "date", "is_distiller"]]


def feature_frame(settings: Settings, dates: list[str]) -> pd.DataFrame:
    con = connect(settings)
    view = account_features(con, settings, dates)
    frame = con.sql(f"SELECT * FROM {view} ORDER BY date, account_id").df()
    frame["date"] = pd.to_datetime(frame["date"]).dt.date
    return frame


def labelled_frame(settings: Settings, dates: list[str], truth: dict | None = None) -> pd.DataFrame:
    """Account-day features with an ``is_distiller`` label; unlabelled rows are dropped."""
    frame = feature_frame(settings, dates)
    frame["is_distiller"] = pd.NA
    if truth is not None:
        t = truth_labels(truth)
        frame = frame.drop(columns=["is_distiller"]).merge(
            t[["account_id", "is_distiller", "archetype"]], on="account_id", how="left")
    cases = case_labels(settings)
    if not cases.empty:
        acct = cases[cases["date"].isna()].drop_duplicates("account_id", keep="last")
        frame = _override(frame, acct[["account_id", "is_distiller"]], ["account_id"])
        day = cases[cases["date"].notna()].copy()
        day["date"] = pd.to_datetime(day["date"]).dt.date
        frame = _override(frame, day.drop_duplicates(["account_id", "date"], keep="last"),
                          ["account_id", "date"])
    frame = frame[frame["is_distiller"].notna()].copy()
    frame["is_distiller"] = frame["is_distiller"].astype(bool).astype(int)
    return frame.reset_index(drop=True)


def _override(frame: pd.DataFrame, labels: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    if labels.empty:
        return frame
    merged = frame.merge(labels[[*keys, "is_distiller"]].rename(columns={"is_distiller": "_case"}),
                         on=keys, how="left")
    merged["is_distiller"] = merged["_case"].where(merged["_case"].notna(), merged["is_distiller"])
    return merged.drop(columns=["_case"])
