"""Labels a backtest measures rules against: generated truth and analyst decisions.

Both become one frame, columns ``account_id`` (str), ``date`` (YYYY-MM-DD str, or None for a
label about the account as a whole), ``is_distiller`` (bool) and ``archetype`` (str or None).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from detector.cases.store import CaseStore
from detector.errors import InputError
from detector.settings import Settings

LABEL_COLUMNS = ["account_id", "date", "is_distiller", "archetype"]


def empty_labels() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="object") for c in LABEL_COLUMNS})


def truth_labels(truth: dict[str, Any]) -> pd.DataFrame:
    """Account-level labels from a simulator ``truth.json`` object
    (``{"accounts": {account_id: {"is_distiller": bool, "archetype": str, ...}}}``)."""
    accounts = truth.get("accounts") if isinstance(truth, dict) else None
    if not isinstance(accounts, dict):
        raise InputError("truth: expected an object with an 'accounts' mapping")
    rows = []
    for acct, info in accounts.items():
        if not isinstance(info, dict) or not isinstance(info.get("is_distiller"), bool):
            raise InputError(f"truth: account {acct!r} lacks a boolean 'is_distiller'")
        rows.append({"account_id": str(acct), "date": None,
                     "is_distiller": info["is_distiller"], "archetype": info.get("archetype")})
    return pd.DataFrame(rows, columns=LABEL_COLUMNS) if rows else empty_labels()


def read_truth(path: Path) -> pd.DataFrame:
    """``truth_labels`` of the JSON file at ``path``; InputError naming the file otherwise."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"--truth: file not found: {path}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"--truth: cannot read {path}: {exc}") from None
    try:
        return truth_labels(data)
    except InputError as exc:
        raise InputError(f"{path}: {exc}") from None


def analyst_labels(settings: Settings) -> pd.DataFrame | None:
    """Labels from the case store (explicit labels plus confirm-block / clear decisions), the
    latest per (account, date); None when there is no case store."""
    if not settings.cases_db.exists():
        return None
    frame = CaseStore(settings).labels()
    if frame is None or not len(frame):
        return None
    frame = frame.copy()
    if "created_at" in frame.columns:
        frame = frame.sort_values("created_at", kind="stable")
    frame["date"] = frame["date"].map(lambda d: None if d is None or pd.isna(d) else str(d)[:10])
    frame = frame.drop_duplicates(["account_id", "date"], keep="last")
    frame["is_distiller"] = frame["is_distiller"].astype(bool)
    frame["archetype"] = None
    return frame[LABEL_COLUMNS].reset_index(drop=True)
