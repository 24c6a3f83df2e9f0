"""Safe arithmetic for table cells: numbers, + - * / **, parentheses, sqrt/exp/log, pi, e.

The text is parsed with `ast` and only a whitelist of node types is evaluated by
this module's own walker; nothing is ever passed to eval or exec.
"""

from __future__ import annotations

import ast
import math
import operator
import warnings
from collections.abc import Callable

MAX_EXPRESSION_CHARS = 200
_MAX_POWER = 1024.0

_BINARY: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
}
_UNARY: dict[type[ast.unaryop], Callable[[float], float]] = {
    ast.UAdd: operator.pos,
    ast.USub: operator.neg,
}
_FUNCTIONS: dict[str, Callable[[float], float]] = {
    "sqrt": math.sqrt,
    "exp": math.exp,
    "log": math.log,
    "ln": math.log,
    "abs": abs,
}
_CONSTANTS = {"pi": math.pi, "e": math.e}
# The program shows real minus signs, × and ÷ (tables, Explain); text copied from it
# and typed back must read as the same arithmetic.
_TYPOGRAPHY = str.maketrans({"\N{MINUS SIGN}": "-", "\N{MULTIPLICATION SIGN}": "*", "÷": "/"})


class ExpressionError(ValueError):
    """Text that is not a number or a simple arithmetic expression."""


def parse_number(text: str) -> float:
    """The finite float a cell's text stands for, or ExpressionError saying why not."""
    stripped = text.strip().translate(_TYPOGRAPHY)
    if not stripped:
        raise ExpressionError("empty cell: type a number")
    if len(stripped) > MAX_EXPRESSION_CHARS:
        raise ExpressionError(f"expression longer than {MAX_EXPRESSION_CHARS} characters")
    try:
        value = float(stripped)
    except ValueError:
        value = _evaluate(stripped)
    if not math.isfinite(value):
        raise ExpressionError(f"{stripped!r} is not a finite number")
    return value


def _evaluate(text: str) -> float:
    try:
        with warnings.catch_warnings():  # e.g. "invalid decimal literal" for "1e"
            warnings.simplefilter("ignore")
            tree = ast.parse(text, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        raise ExpressionError(f"{text!r} is not a number or arithmetic expression") from None
    try:
        return float(_walk(tree.body, text))
    except ExpressionError:
        raise
    except ZeroDivisionError:
        raise ExpressionError(f"{text!r} divides by zero") from None
    except (OverflowError, ValueError, RecursionError):
        raise ExpressionError(f"{text!r} has no finite value") from None


def _walk(node: ast.AST, text: str) -> float:
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, int | float):
            raise ExpressionError(f"{text!r}: only numbers are allowed")
        return float(node.value)
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left = _walk(node.left, text)
        right = _walk(node.right, text)
        if isinstance(node.op, ast.Pow) and abs(right) > _MAX_POWER:
            raise ExpressionError(f"{text!r}: exponent too large")
        result = _BINARY[type(node.op)](left, right)
        if isinstance(result, complex):
            raise ExpressionError(f"{text!r} has no real value")
        return result
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_walk(node.operand, text))
    if isinstance(node, ast.Name) and node.id in _CONSTANTS:
        return _CONSTANTS[node.id]
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in _FUNCTIONS
        and len(node.args) == 1
        and not node.keywords
    ):
        return _FUNCTIONS[node.func.id](_walk(node.args[0], text))
    allowed = "numbers, + - * / **, ( ), sqrt, exp, log, abs, pi, e"
    raise ExpressionError(f"{text!r} is not allowed in a cell (allowed: {allowed})")
