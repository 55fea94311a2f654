"""Loading the rule folder: every file parsed, schema-checked and its condition validated.

Problems are collected across all files (so ``detector rules test`` reports them all at once);
``load_ruleset`` raises RuleSetError when there is any.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Container, Iterable
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

from detector.errors import InputError
from detector.resources import default_rules_dir
from detector.rules.columns import as_container, did_you_mean
from detector.rules.condition import ConditionError, compile_condition
from detector.rules.rule import FAMILIES, Rule, RuleProblem, RuleSetError
from detector.rules.ruleset import RuleSet
from detector.rules.source import RuleSource, SourceError, read_rule_file

SCHEMA_PATH = Path(__file__).with_name("rule.schema.json")
NOT_RULE_FILES = ("known_false_positives",)
_NAME = re.compile("^(" + "|".join(FAMILIES) + r")_[a-z0-9][a-z0-9_]*$")


@cache
def rule_schema() -> dict[str, Any]:
    """The JSON Schema of a rule file (``detector/rules/rule.schema.json``)."""
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def rule_files(rules_dir: Path) -> list[Path]:
    """The rule files of ``rules_dir`` (``*.yaml``/``*.yml``, not recursive, sorted)."""
    if not rules_dir.is_dir():
        raise InputError(f"rules folder not found: {rules_dir}")
    out = []
    for p in sorted(rules_dir.iterdir()):
        if p.suffix not in (".yaml", ".yml") or not p.is_file():
            continue
        if p.name.startswith((".", "_")) or p.stem in NOT_RULE_FILES:
            continue
        out.append(p)
    return out


def _schema_problems(src: RuleSource) -> list[RuleProblem]:
    validator = jsonschema.Draft202012Validator(rule_schema())
    out = []
    for err in sorted(validator.iter_errors(src.data), key=lambda e: list(map(str, e.path))):
        path = list(err.path)
        top = str(path[0]) if path else None
        line = src.lines.get(top) if top else 1
        if top == "tests" and len(path) >= 3:
            line = src.test_lines.get((str(path[1]), int(path[2])), line)
        field = ".".join(str(p) for p in path) or "(file)"
        out.append(RuleProblem(src.path, line, f"{field}: {err.message}"))
    return out


def _condition_line(src: RuleSource, err: ConditionError) -> int | None:
    base = src.condition_line
    if base is None:
        return None
    if src.condition_literal and err.line:
        return base + err.line - 1
    return base


def _test_row_problems(src: RuleSource, known: Container[str]) -> list[RuleProblem]:
    out = []
    tests = src.data.get("tests") or {}
    for kind in ("match", "no_match"):
        for i, row in enumerate(tests.get(kind) or []):
            if not isinstance(row, dict):
                continue
            for col in row:
                if col not in known and col not in ("account_id", "date"):
                    hint = did_you_mean(col, known)
                    out.append(RuleProblem(src.path, src.test_lines.get((kind, i)),
                                           f"tests.{kind}[{i}]: unknown feature column '{col}'"
                                           + (f"; {hint}" if hint else "")))
    return out


def _build_rule(src: RuleSource, known: Container[str]) -> tuple[Rule | None, list[RuleProblem]]:
    problems = _schema_problems(src)
    name = src.path.stem
    if not _NAME.match(name):
        problems.append(RuleProblem(src.path, None, f"file name '{name}' must be "
                                    f"<family>_<what> with family one of {', '.join(FAMILIES)}"))
    d = src.data
    created, modified = str(d.get("created", "")), str(d.get("modified", ""))
    if created and modified and modified < created:
        problems.append(RuleProblem(src.path, src.lines.get("modified"),
                                    f"modified ({modified}) is before created ({created})"))
    compiled = None
    if isinstance(d.get("condition"), str):
        try:
            compiled = compile_condition(d["condition"], known)
        except ConditionError as err:
            problems.append(RuleProblem(src.path, _condition_line(src, err),
                                        f"condition rejected: {err}"))
    problems += _test_row_problems(src, known)
    if problems or compiled is None:
        return None, problems
    tests = d["tests"]
    rule = Rule(
        id=d["id"].lower(), name=name, family=name.split("_", 1)[0], title=d["title"],
        status=d["status"], severity=d["severity"], action=d["action"],
        score=float(d["score"]) if d.get("score") is not None else None,
        condition=compiled.sql, source_condition=d["condition"], columns=compiled.columns,
        description=d["description"], references=tuple(d["references"]), author=d["author"],
        created=created, modified=modified, tags=tuple(d["tags"]),
        falsepositives=tuple(d["falsepositives"]),
        tests_match=tuple(tests["match"]), tests_no_match=tuple(tests["no_match"]),
        deprecation_reason=d.get("deprecation_reason"), path=src.path,
        condition_line=src.condition_line, test_lines=dict(src.test_lines),
    )
    return rule, []


def _duplicate_problems(rules: list[Rule], sources: dict[Path, RuleSource]) -> list[RuleProblem]:
    out = []
    seen_id: dict[str, Rule] = {}
    seen_name: dict[str, Rule] = {}
    seen_cond: dict[str, Rule] = {}
    seen_text: dict[str, Path] = {}
    for path, src in sources.items():
        digest = hashlib.sha256(src.text.strip().encode()).hexdigest()
        if digest in seen_text:
            out.append(RuleProblem(path, None, f"same content as {seen_text[digest].name}"))
        seen_text.setdefault(digest, path)
    for r in rules:
        for key, seen, what in ((r.id, seen_id, "id"), (r.name, seen_name, "name")):
            if key in seen:
                out.append(RuleProblem(r.path, None if what == "name" else 1,
                                       f"duplicate {what} '{key}' (also in {seen[key].path})"))
            seen.setdefault(key, r)
        if r.evaluated:
            if r.condition in seen_cond:
                out.append(RuleProblem(r.path, r.condition_line, "same condition as "
                                       f"{seen_cond[r.condition].name}: a duplicate rule"))
            seen_cond.setdefault(r.condition, r)
    return out


def collect_ruleset(rules_dir: Path | None = None,
                    known_columns: Iterable[str] | Container[str] | None = None,
                    ) -> tuple[RuleSet, list[RuleProblem]]:
    """Load every valid rule of ``rules_dir`` and list every problem (nothing raised for bad
    rules; InputError when the folder itself is missing)."""
    folder = Path(rules_dir) if rules_dir is not None else default_rules_dir()
    known = as_container(known_columns)
    rules: list[Rule] = []
    problems: list[RuleProblem] = []
    sources: dict[Path, RuleSource] = {}
    for path in rule_files(folder):
        try:
            src = read_rule_file(path)
        except SourceError as err:
            problems.append(RuleProblem(path, err.line, str(err)))
            continue
        except RecursionError:  # guards in source/condition stop this first; never a crash
            problems.append(RuleProblem(path, None, "rule file nested too deeply"))
            continue
        sources[path] = src
        try:
            rule, probs = _build_rule(src, known)
        except RecursionError:
            rule, probs = None, [RuleProblem(path, None, "rule nested too deeply")]
        problems += probs
        if rule is not None:
            rules.append(rule)
    problems += _duplicate_problems(rules, sources)
    return RuleSet(rules=rules, rules_dir=folder), problems


def load_ruleset(rules_dir: Path | None = None,
                 known_columns: Iterable[str] | Container[str] | None = None) -> RuleSet:
    """The validated rule set of ``rules_dir`` (default: ``default_rules_dir()``).

    ``known_columns`` defaults to the feature catalog. Raises RuleSetError (a ConfigError, exit
    status 2 in the CLI) listing every problem when any rule file is invalid.
    """
    ruleset, problems = collect_ruleset(rules_dir, known_columns)
    if problems:
        raise RuleSetError(problems)
    return ruleset
