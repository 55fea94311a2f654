"""The Rule record (one YAML file) and the problems a rule set can have."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from detector.errors import ConfigError

FAMILIES = ("volume", "harvest", "diversity", "coverage", "timing", "cluster", "infra", "release")
STATUSES = ("experimental", "test", "stable", "deprecated")
ACTIONS = ("review", "block")
SEVERITIES = ("informational", "low", "medium", "high", "critical")


@dataclass(frozen=True)
class RuleProblem:
    """One thing wrong with a rule file: where (file, 1-based line) and what."""

    path: Path | None
    line: int | None
    message: str

    def __str__(self) -> str:
        where = str(self.path) if self.path else "<rules>"
        if self.line:
            where += f":{self.line}"
        return f"{where}: {self.message}"


class RuleSetError(ConfigError):
    """The rule set cannot be loaded; ``problems`` lists every problem found."""

    def __init__(self, problems: list[RuleProblem]) -> None:
        self.problems = list(problems)
        n = len(self.problems)
        head = f"{n} problem{'s' if n != 1 else ''} in rules: "
        super().__init__(head + "; ".join(str(p) for p in self.problems))


@dataclass(frozen=True, eq=False)
class Rule:
    """One detection rule. ``name`` is the file stem, ``condition`` the SQL re-emitted from the
    validated syntax tree, ``columns`` the feature columns it reads, ``score`` an optional
    contribution in [0, 1] (None when the rule sets none)."""

    id: str
    name: str
    family: str
    title: str
    status: str
    severity: str
    action: str
    score: float | None
    condition: str
    source_condition: str
    columns: tuple[str, ...]
    description: str
    references: tuple[str, ...]
    author: str
    created: str
    modified: str
    tags: tuple[str, ...]
    falsepositives: tuple[str, ...]
    tests_match: tuple[dict[str, Any], ...] = ()
    tests_no_match: tuple[dict[str, Any], ...] = ()
    deprecation_reason: str | None = None
    path: Path | None = None
    condition_line: int | None = None
    test_lines: dict[tuple[str, int], int] = field(default_factory=dict)

    @property
    def shadow(self) -> bool:
        """Experimental rules run in shadow: their hits are recorded, never acted on."""
        return self.status == "experimental"

    @property
    def evaluated(self) -> bool:
        """Deprecated rules are loaded (so their ids stay reserved) but never evaluated."""
        return self.status != "deprecated"

    def canonical(self) -> dict[str, Any]:
        """The rule's content without where it was read from: what the rule-set hash covers."""
        return {
            "id": self.id, "name": self.name, "title": self.title, "status": self.status,
            "severity": self.severity, "action": self.action, "score": self.score,
            "condition": self.condition, "description": self.description,
            "references": list(self.references), "author": self.author,
            "created": self.created, "modified": self.modified, "tags": list(self.tags),
            "falsepositives": list(self.falsepositives),
            "tests": {"match": list(self.tests_match), "no_match": list(self.tests_no_match)},
            "deprecation_reason": self.deprecation_reason,
        }
