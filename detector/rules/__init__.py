"""Declarative detection rules: YAML files in ``rules/``, validated, tested and backtested.

Public API: ``load_ruleset`` -> ``RuleSet`` (``.rules``, ``.hash``, ``.evaluate(con, view)``),
``collect_ruleset`` (every problem, nothing raised), ``run_rule_tests``, ``backtest``.
"""

from detector.rules.evaluate import HIT_COLUMNS, Evaluation
from detector.rules.loader import collect_ruleset, default_rules_dir, load_ruleset
from detector.rules.rule import Rule, RuleProblem, RuleSetError
from detector.rules.ruleset import RuleSet

__all__ = ["HIT_COLUMNS", "Evaluation", "Rule", "RuleProblem", "RuleSet", "RuleSetError",
           "collect_ruleset", "default_rules_dir", "load_ruleset"]
