"""The conditions of alarms: a small expression language read with ``ast`` and a whitelist, never eval.

``RB_1.rate_hz < 0.5 and not (Fkt_2.restarts > 3 or disk_free_gb <= 1)``: comparisons (chained ones too),
``and``, ``or``, ``not``, parentheses, numbers and variable names with dots. Anything else (calls,
arithmetic, strings, subscripts) is refused with the position of the first offending part, so a setup
cannot hide code in an alarm.

A parsed condition is a tree of small closures: evaluating it each sample costs a few dictionary look-ups.
A variable that has no value (yet) makes the condition unknown (``None``), which never raises an alarm.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass

Values = Mapping[str, float]
_Node = Callable[[Values], "float | bool | None"]

_COMPARE: dict[type, Callable[[float, float], bool]] = {
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
}
_WORDS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Call: "a call", ast.Subscript: "[]"}


class ExpressionError(ValueError):
    """A condition outside the language; the message says what was found, where, and what is allowed."""


@dataclass(frozen=True)
class Condition:
    """A parsed condition: its text, the variables it names (in order of appearance), its evaluator."""

    text: str
    variables: tuple[str, ...]
    _evaluate: _Node

    def holds(self, values: Values) -> bool | None:
        """True or False by the values; None while a variable it names has no value."""
        result = self._evaluate(values)
        return None if result is None else bool(result)


def parse(text: str) -> Condition:
    """The condition ``text`` (see the module docstring); ExpressionError if it is not one."""
    if not isinstance(text, str) or not text.strip():
        raise ExpressionError("expected a condition such as 'RB_1.rate_hz < 0.5', found an empty text")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise ExpressionError(f"not a condition: {exc.msg} at column {exc.offset or 0}") from None
    names: list[str] = []
    node = _compile(tree.body, names)
    if not isinstance(tree.body, (ast.Compare, ast.BoolOp)) and not _is_not(tree.body):
        raise ExpressionError("expected a comparison such as 'RB_1.rate_hz < 0.5', found a value alone")
    return Condition(text.strip(), tuple(dict.fromkeys(names)), node)


def _is_not(node: ast.expr) -> bool:
    return isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not)


def _compile(node: ast.expr, names: list[str]) -> _Node:
    """One node of the whitelist as a closure; ExpressionError for anything else."""
    if isinstance(node, ast.BoolOp):
        parts = [_compile(v, names) for v in node.values]
        return _all(parts) if isinstance(node.op, ast.And) else _any(parts)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        inner = _compile(node.operand, names)
        return lambda values: None if (v := inner(values)) is None else not v
    if isinstance(node, ast.Compare):
        return _compare(node, names)
    if isinstance(node, (ast.Name, ast.Attribute)):
        name = _dotted(node)
        names.append(name)
        return lambda values: values.get(name)
    number = _number(node)
    if number is not None:
        return lambda values: number
    raise ExpressionError(_refusal(node))


def _compare(node: ast.Compare, names: list[str]) -> _Node:
    for op in node.ops:
        if type(op) not in _COMPARE:
            raise ExpressionError(f"expected <, <=, >, >=, == or != at column {node.col_offset + 1}")
    tests = [_COMPARE[type(op)] for op in node.ops]
    operands = [_compile(node.left, names)] + [_compile(c, names) for c in node.comparators]

    def compare(values: Values) -> bool | None:
        found = [operand(values) for operand in operands]
        if any(v is None for v in found):
            return None
        return all(test(a, b) for test, a, b in zip(tests, found, found[1:], strict=False))  # type: ignore[arg-type]

    return compare


def _all(parts: list[_Node]) -> _Node:
    def both(values: Values) -> bool | None:
        unknown = False
        for part in parts:
            v = part(values)
            if v is None:
                unknown = True
            elif not v:
                return False
        return None if unknown else True

    return both


def _any(parts: list[_Node]) -> _Node:
    def either(values: Values) -> bool | None:
        unknown = False
        for part in parts:
            v = part(values)
            if v is None:
                unknown = True
            elif v:
                return True
        return None if unknown else False

    return either


def _dotted(node: ast.expr) -> str:
    """``RB_1.rate_hz`` is an attribute of a name to ``ast``; here it is one variable name."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        raise ExpressionError(_refusal(node))
    parts.append(node.id)
    return ".".join(reversed(parts))


def _number(node: ast.expr) -> float | None:
    """A number, also a negative one; booleans and strings are not numbers here."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        inner = _number(node.operand)
        return None if inner is None else (-inner if isinstance(node.op, ast.USub) else inner)
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
        return None if isinstance(node.value, bool) else float(node.value)
    return None


def _refusal(node: ast.expr) -> str:
    if isinstance(node, ast.BinOp):
        found = _WORDS.get(type(node.op), "arithmetic")
    elif isinstance(node, ast.Constant):
        found = repr(node.value)
    else:
        found = _WORDS.get(type(node), type(node).__name__)
    return (
        f"{found} at column {node.col_offset + 1} is not allowed; a condition has comparisons, and, or, "
        "not, parentheses, numbers and variable names such as RB_1.rate_hz"
    )
