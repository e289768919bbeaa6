"""A tiny, safe integer expression language for template and repeat parameters.

``${width * 4}``, ``${2 if i == 0 else 1}``, ``${max(8, c // 4)}``. Only integers, names bound by the
enclosing template/repeat, ``+ - * // %``, comparisons, ``and``/``or``/``not``, conditional expressions
``min``/``max`` and ``make_divisible(v, d)`` (torchvision's rounding) are allowed; nothing is ever
passed to ``eval``.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from convcalc.yaml_source import MAX_INT, MAX_INT_DIGITS

_WHOLE = re.compile(r"^\$([A-Za-z_][A-Za-z0-9_]*)$|^\$\{(.*)\}$", re.S)
_MAX_LEN = 500
_MAX_MAGNITUDE_DIGITS = 200
#: Deepest nesting of an expression's syntax tree (``-(-(-…)))``, ``a + b + c + …``).
MAX_EXPR_DEPTH = 50


class ExprError(ValueError):
    """The expression is malformed or uses something that is not allowed."""


class Unknown(ExprError):
    """The expression needs a value that an earlier error left unknown (the caller reports nothing)."""


class _UnknownValue:
    def __repr__(self) -> str:
        return "unknown"


#: Bound to names (in_channels, …) whose value is unknown after an earlier error.
UNKNOWN: Any = _UnknownValue()


def is_expression(value: object) -> bool:
    return isinstance(value, str) and _WHOLE.match(value.strip()) is not None


def substitute(value: object, env: Mapping[str, Any]) -> Any:
    """Replace ``$name`` / ``${expr}`` strings by their values; other values are returned as is."""
    if not isinstance(value, str):
        return value
    m = _WHOLE.match(value.strip())
    if m is None:
        return value
    if m.group(1) is not None:
        name = m.group(1)
        if name not in env:
            raise ExprError(f"unknown parameter ${name}" + _known(env))
        if env[name] is UNKNOWN:
            raise Unknown(name)
        return env[name]
    return evaluate(m.group(2), env)


_EMBEDDED = re.compile(r"\$\{([^}]*)\}")


def interpolate_text(text: str, env: Mapping[str, Any]) -> str:
    """Replace each ``${expr}`` inside a longer string by its value (``denselayer${i + 1}``)."""
    return _EMBEDDED.sub(lambda m: str(evaluate(m.group(1), env)), text)


def _known(env: Mapping[str, Any]) -> str:
    return f" (known: {', '.join(sorted(env))})" if env else " (no parameters are defined here)"


@lru_cache(maxsize=4096)
def _parse(text: str) -> ast.Expression:
    """``ast.parse`` in eval mode and the depth check, cached: a template's expressions repeat at every call of
    it (the tree is never mutated)."""
    tree = ast.parse(text, mode="eval")
    stack: list[tuple[ast.AST, int]] = [(tree.body, 1)]
    while stack:  # iteratively: the evaluator recurses, so its depth is bounded first
        node, depth = stack.pop()
        if depth > MAX_EXPR_DEPTH:
            raise ExprError(f"expression nests deeper than {MAX_EXPR_DEPTH} levels (the limit)")
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return tree


def evaluate(text: str, env: Mapping[str, Any]) -> Any:
    """Evaluate one expression over ``env``."""
    if len(text) > _MAX_LEN:
        raise ExprError(f"expression longer than {_MAX_LEN} characters")
    try:
        tree = _parse(text.strip())
    except ExprError:  # too deep: already says why
        raise
    except (SyntaxError, ValueError, MemoryError, RecursionError):  # ValueError: a NUL character
        shown = text.strip() if len(text.strip()) <= 60 else text.strip()[:57] + "..."
        raise ExprError(f"cannot parse expression {shown!r}") from None
    value = _eval(tree.body, env)
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INT:
        raise ExprError(f"the value has more than {MAX_INT_DIGITS} digits (the limit)")
    return value


def _eval(node: ast.AST, env: Mapping[str, Any]) -> Any:
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, str)) and not isinstance(node.value, bool):
        return node.value
    if isinstance(node, ast.Name):
        if node.id in ("True", "False"):
            return node.id == "True"
        if node.id not in env:
            raise ExprError(f"unknown parameter {node.id!r}" + _known(env))
        if env[node.id] is UNKNOWN:
            raise Unknown(node.id)
        return env[node.id]
    if isinstance(node, ast.UnaryOp):
        v = _eval(node.operand, env)
        if isinstance(node.op, ast.USub):
            return -_int(v)
        if isinstance(node.op, ast.UAdd):
            return _int(v)
        if isinstance(node.op, ast.Not):
            return not v
    if isinstance(node, ast.BinOp):
        a, b = _int(_eval(node.left, env)), _int(_eval(node.right, env))
        if isinstance(node.op, ast.Add):
            r = a + b
        elif isinstance(node.op, ast.Sub):
            r = a - b
        elif isinstance(node.op, ast.Mult):
            r = a * b
        elif isinstance(node.op, (ast.FloorDiv, ast.Mod)):
            if b == 0:
                raise ExprError("division by zero")
            r = a // b if isinstance(node.op, ast.FloorDiv) else a % b
        else:
            raise ExprError(f"operator {type(node.op).__name__} is not allowed (use + - * // %)")
        if len(str(abs(r))) > _MAX_MAGNITUDE_DIGITS:
            raise ExprError(f"an intermediate value has more than {_MAX_MAGNITUDE_DIGITS} digits")
        return r
    if isinstance(node, ast.Compare):
        left = _eval(node.left, env)
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            right = _eval(right_node, env)
            ok = {ast.Eq: left == right, ast.NotEq: left != right}.get(type(op))
            if ok is None:
                a, b = _int(left), _int(right)
                ok = {ast.Lt: a < b, ast.LtE: a <= b, ast.Gt: a > b, ast.GtE: a >= b}.get(type(op))
            if ok is None:
                raise ExprError("only == != < <= > >= comparisons are allowed")
            if not ok:
                return False
            left = right
        return True
    if isinstance(node, ast.BoolOp):
        values = [_eval(v, env) for v in node.values]
        return all(values) if isinstance(node.op, ast.And) else any(values)
    if isinstance(node, ast.IfExp):
        return _eval(node.body if _eval(node.test, env) else node.orelse, env)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUNCTIONS \
            and node.args and not node.keywords:
        args = [_int(_eval(a, env)) for a in node.args]
        if node.func.id == "make_divisible" and len(args) not in (2, 3):
            raise ExprError(f"make_divisible takes 2 or 3 arguments (v, divisor[, min_value]), found {len(args)}")
        return _FUNCTIONS[node.func.id](*args)
    raise ExprError(_not_allowed(node))


def _not_allowed(node: ast.AST) -> str:
    """Why a piece of syntax is refused, in the user's terms."""
    if isinstance(node, ast.Call):
        name = node.func.id if isinstance(node.func, ast.Name) else ""
        if name in _FUNCTIONS:
            return f"{name}() takes plain arguments (no keywords, at least one)"
        known = ", ".join(f"{f}()" for f in _FUNCTIONS)
        return f"calling {name + '()' if name else 'a function'} is not allowed (only {known})"
    if isinstance(node, ast.Attribute):
        return f"attribute access (.{node.attr}) is not allowed in an expression"
    if isinstance(node, ast.Subscript):
        return "indexing ([…]) is not allowed in an expression"
    if isinstance(node, ast.Constant):
        return f"{node.value!r} is not allowed: expressions use integers only"
    return f"{type(node).__name__} is not allowed in an expression"


def make_divisible(v: int, divisor: int, min_value: int | None = None) -> int:
    """torchvision's ``_make_divisible``: round v to the nearest multiple of divisor (at least min_value,
    default divisor), then add divisor if that lost more than 10%."""
    if divisor < 1:
        raise ExprError("make_divisible needs a divisor >= 1")
    floor = divisor if min_value is None else min_value
    new = max(floor, (2 * v + divisor) // (2 * divisor) * divisor)
    if 10 * new < 9 * v:
        new += divisor
    return new


def _min(*args: int) -> int:
    return min(args)


def _max(*args: int) -> int:
    return max(args)


_FUNCTIONS: dict[str, Callable[..., int]] = {"min": _min, "max": _max, "make_divisible": make_divisible}


def _int(v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        text = repr(v)
        raise ExprError(f"expected an integer, found {text if len(text) <= 60 else text[:57] + '...'}")
    return v
