"""Reading the harness inputs: truth.json and verdicts (CSV, JSON, JSON Lines or the home)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from detector.errors import InputError
from detector.settings import Settings


def read_truth(path: str | Path) -> dict:
    """The parsed ``truth.json`` written by ``detector simulate``."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"--truth {p}: file not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"--truth {p}: not readable JSON ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("accounts"), dict):
        raise InputError(f"--truth {p}: expected an object with an 'accounts' table")
    return data


def read_verdicts_file(path: str | Path) -> pd.DataFrame:
    """Verdict rows from a CSV (``detector verdicts --format csv``), a JSON array (or an object
    with a ``verdicts`` array) or JSON Lines file."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"--verdicts {p}: file not found")
    try:
        if p.suffix.lower() == ".csv":
            return pd.read_csv(p, dtype={"account_id": str, "cluster_id": str, "decision": str})
        text = p.read_text(encoding="utf-8").strip()
        if not text:
            return pd.DataFrame(columns=["account_id", "date", "score", "decision"])
        if text[0] == "[" or text[0] == "{" and "\n" not in text:
            data = json.loads(text)
            rows = data.get("verdicts", data) if isinstance(data, dict) else data
        else:
            rows = [json.loads(line) for line in text.splitlines() if line.strip()]
        return pd.DataFrame(rows)
    except (OSError, UnicodeDecodeError, ValueError, pd.errors.ParserError) as exc:
        raise InputError(f"--verdicts {p}: not readable CSV or JSON ({exc})") from None


def read_verdicts_home(settings: Settings) -> pd.DataFrame:
    """Every verdict row stored in the home (``detector.verdicts.read``)."""
    from detector.verdicts import evaluated_dates, read

    if not evaluated_dates(settings):
        raise InputError(f"no verdicts in home {settings.home}: run `detector run` first "
                         "or pass --verdicts FILE")
    return read(settings, ["account_id", "date", "score", "decision"], order="")
