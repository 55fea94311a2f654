"""The "goodlog" check: acting rules must stay quiet on benign traffic, at every volume.

Hits of acting rules (``stable`` and ``test``: both send accounts to review) on accounts
labelled benign are failures unless the (rule, archetype)
pair is listed in ``rules/known_false_positives.yaml`` with a reason::

    entries:
      - rule: harvest_logprobs_long_outputs    # rule name (file stem) or id
        archetype: classifier_app               # benign archetype of the generated truth
        reason: why this is accepted and what limits it
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import yaml

from detector.errors import ConfigError
from detector.rules.ruleset import RuleSet

KNOWN_FP_FILE = "known_false_positives.yaml"


@dataclass(frozen=True)
class KnownFalsePositive:
    """An accepted hit of ``rule`` (name or id) on benign accounts of ``archetype``."""

    rule: str
    archetype: str
    reason: str


def load_known_false_positives(path: Path) -> list[KnownFalsePositive]:
    """Entries of the known-false-positive file; [] when it does not exist."""
    if not path.exists():
        return []
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from None
    entries = data.get("entries") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise ConfigError(f"{path}: expected a mapping with an 'entries' list")
    out = []
    for i, e in enumerate(entries):
        if not isinstance(e, dict) or not all(isinstance(e.get(k), str) and e.get(k).strip()
                                              for k in ("rule", "archetype", "reason")):
            raise ConfigError(f"{path}: entries[{i}] needs non-empty rule, archetype and reason")
        out.append(KnownFalsePositive(e["rule"], e["archetype"], e["reason"]))
    return out


def benign_stable_hits(ruleset: RuleSet, hits: pd.DataFrame, labels: pd.DataFrame,
                       statuses: tuple[str, ...] = ("stable",)) -> pd.DataFrame:
    """Hits of rules of ``statuses`` (default: stable) on benign accounts, with their
    archetype (columns account_id, date, rule_id, rule_name, archetype)."""
    stable = {r.id for r in ruleset.rules if r.status in statuses}
    benign = labels[~labels["is_distiller"].astype(bool)][["account_id", "archetype"]]
    sub = hits[hits["rule_id"].isin(stable)][["account_id", "date", "rule_id", "rule_name"]]
    return sub.merge(benign.drop_duplicates("account_id"), on="account_id", how="inner")


def unexplained_hits(hits: pd.DataFrame, known: list[KnownFalsePositive]) -> pd.DataFrame:
    """Rows of ``benign_stable_hits`` not covered by a known-false-positive entry."""
    allowed = {(k.rule, k.archetype) for k in known}
    keep = [(rid, a) not in allowed and (name, a) not in allowed
            for rid, name, a in zip(hits["rule_id"], hits["rule_name"], hits["archetype"],
                                    strict=True)]
    return hits[keep].reset_index(drop=True)
