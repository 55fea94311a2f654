"""The number a rule condition compares a column with, found in the parsed condition.

Notebooks tune a rule by moving one threshold (``vol_output_tokens >= 100000`` ->
``>= 250000``). The condition is read with the same parser scoring uses
(:func:`detector.rules.condition.compile_condition`), and the number is replaced in the
original text at the position the parser reports, so the rest of the text (line breaks,
spacing, other comparisons) is kept as written.
"""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass

from sqlglot import exp

from detector.rules.columns import as_container
from detector.rules.condition import compile_condition

_COMPARISONS = (exp.GT, exp.GTE, exp.LT, exp.LTE)
_OPERATORS = ("<", ">", "=")


@dataclass(frozen=True)
class Threshold:
    """One ``column >= | > | <= | < number`` comparison: the number's ``value`` and its
    characters ``text[start:end]`` in the condition (a sign written before it included)."""

    column: str
    value: float
    start: int
    end: int


def _number(node: exp.Expression) -> tuple[exp.Literal, bool] | None:
    """(literal, negated) when ``node`` is a number or a negated number, else None."""
    negated = isinstance(node, exp.Neg)
    inner = node.this if negated else node
    if isinstance(inner, exp.Literal) and not inner.is_string:
        return inner, negated
    return None


def _span(text: str, literal: exp.Literal, negated: bool) -> tuple[int, int]:
    start, end = literal.meta.get("start"), literal.meta.get("end")
    if start is None or end is None or text[start:end + 1] != literal.this:
        raise ValueError(f"condition: cannot locate the number {literal.this!r} in the text "
                         f"{text[:60]!r}")
    before = text[:start].rstrip()
    if negated and before.endswith("-"):
        start = len(before) - 1
    elif before.endswith("+") and before[:-1].rstrip().endswith(_OPERATORS):
        start = len(before) - 1  # a unary plus written before the number
    return start, end + 1


def find_threshold(text: str, column: str,
                   known_columns: Container[str] | None = None) -> Threshold:
    """The comparison of ``column`` with a number in the condition ``text``.

    ``known_columns`` defaults to the column registry. ConditionError (a ValueError) when the
    condition does not parse; ValueError naming ``column`` unless exactly one comparison
    ``column >= | > | <= | < number`` exists.
    """
    tree = compile_condition(text, as_container(known_columns)).tree
    found = []
    for node in tree.find_all(*_COMPARISONS):
        number = _number(node.expression)
        if isinstance(node.this, exp.Column) and node.this.name == column and number:
            found.append(number)
    if len(found) != 1:
        raise ValueError(f"column: expected exactly one comparison of {column!r} with a number "
                         f"in the condition, got {len(found)}")
    literal, negated = found[0]
    start, end = _span(text, literal, negated)
    value = float(literal.this)
    return Threshold(column=column, value=-value if negated else value, start=start, end=end)


def format_number(value: float) -> str:
    """``value`` as a condition literal: an integer without ``.0``, else Python's repr."""
    v = float(value)
    return str(int(v)) if v.is_integer() and abs(v) < 1e15 else repr(v)


def replace_threshold(text: str, column: str, value: float,
                      known_columns: Container[str] | None = None) -> str:
    """``text`` with the number compared with ``column`` replaced by ``value`` (everything
    else kept as written); errors as :func:`find_threshold`."""
    found = find_threshold(text, column, known_columns)
    return text[:found.start] + format_number(value) + text[found.end:]
