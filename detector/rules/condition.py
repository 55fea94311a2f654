"""Rule conditions: a small, safe subset of SQL over feature columns.

A condition is parsed with sqlglot (dialect duckdb) and its syntax tree is walked against an
allow-list: feature column references (known names only, never table-qualified), numeric /
string / boolean / NULL literals, comparisons, BETWEEN, IN over a literal list, IS [NOT] NULL,
IS [NOT] TRUE/FALSE, AND / OR / NOT, + - * /, unary minus, parentheses and the functions abs,
least, greatest, coalesce, ln, log10, sqrt. Anything else (subqueries, table references, several
statements, comments, casts, placeholders, other functions or operators) is rejected with the
offending token and its position inside the condition. The SQL that runs is re-emitted from the
validated tree, never the raw text.
"""

from __future__ import annotations

import math
from collections.abc import Container
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokens import TokenType

from detector.rules.columns import did_you_mean

MAX_CONDITION_CHARS = 4000
MAX_NODES = 400
#: deepest nesting of parentheses plus chained prefix operators (NOT, unary minus) accepted;
#: checked on the tokens before parsing, so no condition can exhaust the parser's recursion
MAX_DEPTH = 64

# Allowed node classes -> the argument names they may carry (anything else set is rejected).
_BINARY = {"this", "expression"}
_ALLOWED: dict[type[exp.Expression], set[str]] = {
    exp.And: _BINARY, exp.Or: _BINARY, exp.Not: {"this"}, exp.Paren: {"this"},
    exp.EQ: _BINARY, exp.NEQ: _BINARY, exp.GT: _BINARY, exp.GTE: _BINARY,
    exp.LT: _BINARY, exp.LTE: _BINARY,
    exp.Between: {"this", "low", "high"},
    exp.In: {"this", "expressions"},
    exp.Is: _BINARY,
    exp.Add: _BINARY, exp.Sub: _BINARY, exp.Mul: _BINARY, exp.Div: _BINARY | {"typed", "safe"},
    exp.Neg: {"this"},
    exp.Column: {"this"}, exp.Identifier: {"this", "quoted"},
    exp.Literal: {"this", "is_string"}, exp.Boolean: {"this"}, exp.Null: set(),
    exp.Abs: {"this"}, exp.Least: {"this", "expressions", "ignore_nulls"},
    exp.Greatest: {"this", "expressions", "ignore_nulls"},
    exp.Coalesce: {"this", "expressions", "is_nvl", "is_null"},
    exp.Ln: {"this"}, exp.Log: _BINARY, exp.Sqrt: {"this"},
}
_PREDICATES = (exp.And, exp.Or, exp.Not, exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE,
               exp.Between, exp.In, exp.Is, exp.Boolean)

FUNCTIONS = ("abs", "least", "greatest", "coalesce", "ln", "log10", "sqrt")


class ConditionError(ValueError):
    """A condition outside the allowed subset: ``token`` is the offending text, ``line`` and
    ``col`` its 1-based position inside the condition (None when unknown)."""

    def __init__(self, message: str, token: str, line: int | None = None,
                 col: int | None = None, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.token = token
        self.line = line
        self.col = col
        self.hint = hint

    def __str__(self) -> str:
        where = f" (line {self.line}, col {self.col} of the condition)" if self.line else ""
        return f"{self.message}: {self.token!r}{where}" + (f"; {self.hint}" if self.hint else "")


@dataclass(frozen=True)
class CompiledCondition:
    """A validated condition: ``sql`` re-emitted from the checked tree, the feature ``columns``
    it reads (sorted) and the ``tree`` itself."""

    sql: str
    columns: tuple[str, ...]
    tree: exp.Expression


def _position(node: exp.Expression) -> tuple[int | None, int | None]:
    for sub in node.walk():
        meta = sub.meta
        if "line" in meta:
            return meta["line"], meta.get("col")
    return None, None


def _fail(node: exp.Expression, message: str, hint: str = "") -> ConditionError:
    text = node.sql(dialect="duckdb", comments=False)
    if len(text) > 60:
        text = text[:57] + "..."
    line, col = _position(node)
    return ConditionError(message, text, line, col, hint)


def _check_tokens(text: str) -> None:
    try:
        tokens = sqlglot.tokenize(text, read="duckdb")
    except TokenError as exc:
        raise ConditionError("cannot tokenize condition", str(exc).splitlines()[0][:60]) from None
    for tok in tokens:
        if tok.comments:
            raise ConditionError("comments are not allowed in a condition",
                                 tok.comments[0].strip()[:40], tok.line, tok.col)
        if tok.token_type == TokenType.SEMICOLON:
            raise ConditionError("only one expression is allowed (found ';')", ";",
                                 tok.line, tok.col)
    _check_depth(tokens)


_PREFIX_OPS = (TokenType.NOT, TokenType.DASH, TokenType.PLUS)


def _check_depth(tokens: list) -> None:
    """Reject nesting deeper than MAX_DEPTH: open parentheses plus the prefix operators
    (NOT, unary -/+) chained in front of an operand."""
    parens = 0
    chain = 0
    prev = None
    for tok in tokens:
        kind = tok.token_type
        if kind == TokenType.L_PAREN:
            parens += 1
            chain = 0
        elif kind == TokenType.R_PAREN:
            parens = max(parens - 1, 0)
        elif kind in _PREFIX_OPS and (prev is None or prev.token_type in _PREFIX_OPS
                                      or prev.token_type == TokenType.L_PAREN
                                      or prev.token_type in (TokenType.AND, TokenType.OR)
                                      or kind == TokenType.NOT):
            chain += 1
        else:
            chain = 0
        if parens + chain > MAX_DEPTH:
            raise ConditionError(f"condition nested deeper than {MAX_DEPTH} levels "
                                 "(parentheses and chained NOT / unary minus)",
                                 tok.text[:40], tok.line, tok.col)
        prev = tok


def _check_literal(node: exp.Literal) -> None:
    if node.is_string:
        return
    try:
        value = float(node.this)
    except ValueError:
        raise _fail(node, "not a plain number") from None
    if not math.isfinite(value):
        raise _fail(node, "number out of range")


def _check_node(node: exp.Expression, known: Container[str], columns: set[str]) -> None:
    kind = type(node)
    if kind not in _ALLOWED:
        if isinstance(node, exp.Cast | exp.TryCast):
            raise _fail(node, "casts are not allowed in a condition")
        if isinstance(node, exp.Func):
            raise _fail(node, f"function not allowed (allowed: {', '.join(FUNCTIONS)})")
        raise _fail(node, f"{kind.__name__} not allowed in a condition")
    extra = [k for k, v in node.args.items() if k not in _ALLOWED[kind] and v not in (None, False, [])]
    if extra:
        raise _fail(node, f"{kind.__name__} with {', '.join(extra)} not allowed")
    if isinstance(node, exp.Column):
        if node.args.get("table") or node.args.get("db") or node.args.get("catalog"):
            raise _fail(node, "table-qualified column not allowed")
        name = node.name
        if name not in known:
            raise _fail(node, "unknown feature column", did_you_mean(name, known))
        columns.add(name)
    elif isinstance(node, exp.Identifier):
        if not isinstance(node.parent, exp.Column):
            raise _fail(node, "identifier not allowed here")
    elif isinstance(node, exp.Literal):
        _check_literal(node)
    elif isinstance(node, exp.Log):
        base = node.this
        if node.expression is None or not (isinstance(base, exp.Literal) and base.this == "10"):
            raise _fail(node, "only log10(x) is allowed")
    elif isinstance(node, exp.Is) and not isinstance(node.expression, exp.Null | exp.Boolean):
        raise _fail(node, "IS must be followed by NULL, TRUE or FALSE")


def compile_condition(text: str, known_columns: Container[str]) -> CompiledCondition:
    """Parse and validate ``text``; raise ConditionError naming the offending token."""
    if not isinstance(text, str) or not text.strip():
        raise ConditionError("condition must be a non-empty string", repr(text)[:40])
    if len(text) > MAX_CONDITION_CHARS:
        raise ConditionError(f"condition longer than {MAX_CONDITION_CHARS} characters",
                             text[:40] + "...")
    _check_tokens(text)
    try:
        return _compile(text, known_columns)
    except RecursionError:  # a shape the depth check did not foresee: still a clear error
        raise ConditionError("condition nested too deeply", text[:40]) from None


def _compile(text: str, known_columns: Container[str]) -> CompiledCondition:
    try:
        statements = sqlglot.parse(text, read="duckdb")
    except ParseError as exc:
        err = exc.errors[0] if exc.errors else {}
        token = str(err.get("highlight") or err.get("description") or exc)[:60]
        raise ConditionError("not a valid expression", token, err.get("line"), err.get("col")) from None
    statements = [s for s in statements if s is not None]
    if len(statements) != 1:
        raise ConditionError("exactly one expression is required", text[:40])
    tree = statements[0]
    columns: set[str] = set()
    for count, node in enumerate(tree.walk()):
        if count >= MAX_NODES:
            raise ConditionError(f"condition has more than {MAX_NODES} syntax nodes", text[:40])
        _check_node(node, known_columns, columns)
    core = tree
    while isinstance(core, exp.Paren):
        core = core.this
    if not isinstance(core, _PREDICATES) and not isinstance(core, exp.Column):
        raise _fail(tree, "condition must be a boolean expression (a comparison or AND/OR/NOT)")
    sql = tree.sql(dialect="duckdb", comments=False)
    return CompiledCondition(sql=sql, columns=tuple(sorted(columns)), tree=tree)
