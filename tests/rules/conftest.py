"""Helpers for rule tests: write a valid rule file with chosen overrides."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml


def rule_doc(**overrides: Any) -> dict[str, Any]:
    """A valid rule document; ``overrides`` replace (or with value None, remove) keys."""
    doc: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "title": "Many requests in a day",
        "status": "stable",
        "severity": "medium",
        "action": "review",
        "score": 0.5,
        "description": "A test rule: accounts that send many requests a day are worth a look.",
        "references": ["https://atlas.mitre.org/techniques/AML.T0024.002"],
        "author": "tests",
        "created": "2026-11-20",
        "modified": "2026-11-21",
        "tags": ["attack.AML.T0024.002"],
        "falsepositives": ["Busy legitimate apps"],
        "condition": "vol_requests >= 100",
        "tests": {"match": [{"vol_requests": 100}], "no_match": [{"vol_requests": 99}]},
    }
    for key, value in overrides.items():
        if value is None:
            doc.pop(key, None)
        else:
            doc[key] = value
    return doc


@pytest.fixture
def write_rule(tmp_path: Path) -> Callable[..., Path]:
    """write_rule(name, text=None, **overrides) -> path of tmp_path/rules/<name>.yaml."""
    folder = tmp_path / "rules"
    folder.mkdir(exist_ok=True)

    def _write(name: str, text: str | None = None, **overrides: Any) -> Path:
        path = folder / f"{name}.yaml"
        path.write_text(text if text is not None else yaml.safe_dump(rule_doc(**overrides),
                                                                     sort_keys=False))
        return path

    return _write


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "rules"
    folder.mkdir(exist_ok=True)
    return folder
