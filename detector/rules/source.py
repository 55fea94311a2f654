"""Reading one rule file: YAML values plus the line numbers that error messages cite."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

MAX_RULE_FILE_BYTES = 1_000_000
#: deepest YAML nesting accepted (a rule file needs 4); aliases are refused outright: an alias
#: bomb (each level referring to the one before many times) would expand exponentially
MAX_YAML_DEPTH = 32


class SourceError(ValueError):
    """A rule file that cannot be read as one YAML mapping; ``line`` is 1-based or None."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


@dataclass
class RuleSource:
    """The parsed content of one rule file.

    ``lines`` maps a top-level key to the 1-based line of its value; ``condition_line`` is the
    line where the condition text itself starts; ``test_lines`` maps ``("match", i)`` /
    ``("no_match", i)`` to the line of that test row.
    """

    path: Path
    text: str
    data: dict[str, Any]
    lines: dict[str, int] = field(default_factory=dict)
    condition_line: int | None = None
    condition_literal: bool = False
    test_lines: dict[tuple[str, int], int] = field(default_factory=dict)


def _plain(value: Any) -> Any:
    """Dates become ISO strings so that the JSON Schema sees what the author wrote."""
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()[:10] if not isinstance(value, dt.datetime) else value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _check_duplicate_keys(node: yaml.Node) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key, value in node.value:
            name = str(key.value)
            if name in seen:
                raise SourceError(f"duplicate key '{name}' (first on line {seen[name]})",
                                  key.start_mark.line + 1)
            seen[name] = key.start_mark.line + 1
            _check_duplicate_keys(value)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _check_duplicate_keys(item)


def _record_lines(src: RuleSource, root: yaml.MappingNode) -> None:
    for key, value in root.value:
        name = str(key.value)
        src.lines[name] = value.start_mark.line + 1
        if name == "condition" and isinstance(value, yaml.ScalarNode):
            block = value.style in ("|", ">")
            src.condition_literal = value.style == "|"
            src.condition_line = value.start_mark.line + (2 if block else 1)
        if name == "tests" and isinstance(value, yaml.MappingNode):
            for tkey, tval in value.value:
                if isinstance(tval, yaml.SequenceNode):
                    for i, item in enumerate(tval.value):
                        src.test_lines[(str(tkey.value), i)] = item.start_mark.line + 1


_OPEN = (yaml.BlockMappingStartToken, yaml.BlockSequenceStartToken,
         yaml.FlowMappingStartToken, yaml.FlowSequenceStartToken)
_CLOSE = (yaml.BlockEndToken, yaml.FlowMappingEndToken, yaml.FlowSequenceEndToken)


def _check_yaml_shape(text: str) -> None:
    """Refuse anchors/aliases and nesting deeper than MAX_YAML_DEPTH, from the token stream
    (linear; before anything recursive or expanding runs)."""
    depth = 0
    try:
        for tok in yaml.scan(text, Loader=yaml.SafeLoader):
            if isinstance(tok, yaml.AliasToken | yaml.AnchorToken):
                raise SourceError("YAML anchors and aliases are not allowed in a rule file",
                                  tok.start_mark.line + 1)
            if isinstance(tok, _OPEN):
                depth += 1
                if depth > MAX_YAML_DEPTH:
                    raise SourceError(f"YAML nested deeper than {MAX_YAML_DEPTH} levels",
                                      tok.start_mark.line + 1)
            elif isinstance(tok, _CLOSE):
                depth -= 1
    except yaml.YAMLError:
        return  # composing reports the syntax error with its line
    except RecursionError:
        raise SourceError("YAML nested too deeply") from None


def read_rule_file(path: Path) -> RuleSource:
    """Parse ``path`` (safe YAML only); raise SourceError with the line when it cannot."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SourceError(f"cannot read file ({exc.strerror})") from None
    if len(raw) > MAX_RULE_FILE_BYTES:
        raise SourceError(f"file larger than {MAX_RULE_FILE_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SourceError(f"not UTF-8 (byte {exc.start})") from None
    _check_yaml_shape(text)
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise SourceError(f"not valid YAML: {problem}",
                          mark.line + 1 if mark is not None else None) from None
    if not isinstance(node, yaml.MappingNode) or not isinstance(data, dict):
        raise SourceError("a rule file must hold one YAML mapping", 1)
    _check_duplicate_keys(node)
    src = RuleSource(path=path, text=text, data=_plain(data))
    _record_lines(src, node)
    return src
