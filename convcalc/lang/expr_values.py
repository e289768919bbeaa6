"""The values of the expression language: its limits, its errors, and the checks every operation shares
(see :mod:`convcalc.lang.expr` for the language)."""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

#: Longest expression text, in characters.
MAX_EXPR_LENGTH = 500
#: Most digits of an integer along the way (a partial result, a literal, a ``**``).
MAX_EXPR_DIGITS = 200
_TOO_MANY_DIGITS = 10**MAX_EXPR_DIGITS
#: Deepest nesting of an expression's syntax tree (``-(-(-…)))``, ``a + b + c + …``).
MAX_EXPR_DEPTH = 50
#: Most items of a list that an expression builds, or walks (``sum``, ``min``, ``max``, ``in``).
MAX_LIST_ITEMS = 10_000
#: ``round(x, n)``: the most digits ``n`` may ask for, either way.
MAX_ROUND_DIGITS = 200


class ExprError(ValueError):
    """The expression is malformed or uses something that is not allowed."""


class Unknown(ExprError):
    """The expression needs a value that an earlier error left unknown (the caller reports nothing)."""


class _UnknownValue:
    def __repr__(self) -> str:
        return "unknown"


#: Bound to names (in_channels, …) whose value is unknown after an earlier error.
UNKNOWN: Any = _UnknownValue()


# ------------------------------------------------------------------ values


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _is_list(v: Any) -> bool:
    return isinstance(v, (list, tuple))


def describe(value: object) -> str:
    """How a found value is shown in an error message."""
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if value is None:
        return "nothing (null)"
    if isinstance(value, str):
        return f"string {value!r}" if len(value) <= 60 else f"string {value[:50]!r}… ({len(value)} characters)"
    if isinstance(value, float):
        return f"number {value!r}"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return f"a list of {len(value)}"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _show(v: Any) -> str:
    """A value as an expression's error message shows it: :func:`describe`, with the size of a huge
    integer, the items of a list and the keys of a mapping."""
    if isinstance(v, int) and not isinstance(v, bool):
        return str(v) if abs(v) < 10**40 else f"an integer of {len(str(abs(v)))} digits"
    if isinstance(v, str):
        return f"string {v!r}" if len(v) <= 40 else f"string {v[:30]!r}… ({len(v)} characters)"
    if _is_list(v):
        return f"a list of {len(v)} item{'' if len(v) == 1 else 's'}"
    if isinstance(v, Mapping):
        return f"a mapping ({_keys(v)})"
    return describe(v)


def _keys(m: Mapping[Any, Any]) -> str:
    if not m:
        return "no keys"
    keys = [str(k) for k in list(m)[:20]]
    more = f", … ({len(m)} in all)" if len(m) > 20 else ""
    return "keys: " + ", ".join(keys) + more


def _checked(r: Any) -> Any:
    """A number along the way: an integer of at most MAX_EXPR_DIGITS digits, or a finite real."""
    if isinstance(r, complex):
        raise ExprError("a negative number to a fractional power has no real value")
    if isinstance(r, float):
        if math.isinf(r):
            raise ExprError("the result is too large for a real number (past about 1.8e308)")
        if math.isnan(r):
            raise ExprError("the result is not a number (nan)")
    elif isinstance(r, int) and not isinstance(r, bool) and abs(r) >= _TOO_MANY_DIGITS:
        raise ExprError(f"an intermediate value has more than {MAX_EXPR_DIGITS} digits")
    return r


def _number(v: Any, needs: str) -> int | float:
    """``v`` if it is a number (booleans are not); else an error that starts with ``needs``."""
    if not _is_number(v):
        raise ExprError(f"{needs}, found {_show(v)}")
    return v  # type: ignore[no-any-return]


def _items(v: Any, what: str) -> list[Any] | tuple[Any, ...]:
    if len(v) > MAX_LIST_ITEMS:
        raise ExprError(f"{what} walks a list of {len(v)} items, more than the limit of {MAX_LIST_ITEMS}")
    return v  # type: ignore[no-any-return]


_WHOLE = re.compile(r"^\$([A-Za-z_][A-Za-z0-9_]*)$|^\$\{(.*)\}$", re.S)


@lru_cache(maxsize=4096)
def whole(text: str) -> tuple[str | None, str | None] | None:
    """How a spec string is a whole expression: ``$name`` (name, None), ``${expr}`` (None, expr), or None when
    it is not one; remembered per text (a named block's values are read again at every call of it)."""
    m = _WHOLE.match(text.strip())
    return None if m is None else (m.group(1), m.group(2))


def is_expression(value: object) -> bool:
    return isinstance(value, str) and whole(value) is not None


def is_computed(raw: object) -> bool:
    """Whether a spec value is written as an expression (or is a list with one)."""
    return is_expression(raw) or isinstance(raw, list) and any(is_expression(r) for r in raw)


def integral(v: Any) -> Any:
    """A computed value with its integral floats as ints (``16.0`` → 16), also inside a list: where an
    integer field takes a computed value, an integral real is that integer."""
    if isinstance(v, float) and v.is_integer():
        return int(v)
    if isinstance(v, list):
        return [integral(x) for x in v]
    return v


# ------------------------------------------------------------------ operations on values

#: How the operators are written (in error messages).
_SYMBOLS: dict[type[ast.AST], str] = {
    ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%", ast.Pow: "**",
    ast.MatMult: "@", ast.BitAnd: "&", ast.BitOr: "|", ast.BitXor: "^", ast.LShift: "<<", ast.RShift: ">>",
    ast.USub: "-", ast.UAdd: "+", ast.Invert: "~", ast.Not: "not",
    ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.In: "in",
    ast.NotIn: "not in", ast.Is: "is", ast.IsNot: "is not",
}

def _compare(op: ast.cmpop, left: Any, right: Any) -> bool:
    if isinstance(op, ast.Eq):
        return bool(left == right)
    if isinstance(op, ast.NotEq):
        return bool(left != right)
    if isinstance(op, (ast.In, ast.NotIn)):
        if _is_list(right):
            found = left in _items(right, "in")
        elif isinstance(right, Mapping):
            found = _has_key(right, left)
        elif isinstance(right, str) and isinstance(left, str):
            found = left in right
        else:
            raise ExprError(f"in needs a list, a mapping or a string on its right, found {_show(right)}")
        return found is isinstance(op, ast.In)
    symbol = _SYMBOLS.get(type(op), "?")
    if not isinstance(op, (ast.Lt, ast.LtE, ast.Gt, ast.GtE)):
        raise ExprError(f"the comparison {symbol!r} is not allowed (use == != < <= > >= in, not in)")
    a, b = _number(left, f"{symbol} needs numbers"), _number(right, f"{symbol} needs numbers")
    if isinstance(op, ast.Lt):
        return a < b
    if isinstance(op, ast.LtE):
        return a <= b
    if isinstance(op, ast.Gt):
        return a > b
    return a >= b


def _power(a: int | float, b: int | float) -> Any:
    if a == 0 and b < 0:
        raise ExprError("0 cannot be raised to a negative power")
    if isinstance(a, int) and isinstance(b, int) and b > 0 and abs(a) >= 2 \
            and b * math.log10(abs(a)) > MAX_EXPR_DIGITS:  # refused before Python computes it
        raise ExprError(f"** would give an integer of more than {MAX_EXPR_DIGITS} digits (the limit)")
    return a**b


def _has_key(mapping: Mapping[Any, Any], key: Any) -> bool:
    try:
        return key in mapping
    except TypeError:  # a list or a mapping as the key
        return False


def _index(target: Any, index: Any) -> Any:
    if _is_list(target):
        if not isinstance(index, int) or isinstance(index, bool):
            raise ExprError(f"a list index is an integer, found {_show(index)}")
        if not -len(target) <= index < len(target):
            raise ExprError(f"index {index} is out of range for a list of {len(target)} "
                            f"item{'' if len(target) == 1 else 's'}")
        return target[index]
    if isinstance(target, Mapping):
        return _key(target, index)
    raise ExprError(f"only lists and mappings can be indexed, found {_show(target)}")


def _key(mapping: Mapping[Any, Any], key: Any) -> Any:
    if not _has_key(mapping, key) and isinstance(key, int) and not isinstance(key, bool) \
            and _has_key(mapping, str(key)):
        key = str(key)  # a spec's mapping keys are text: `{50: …}[depth]` with depth 50
    if not _has_key(mapping, key):
        shown = repr(key) if isinstance(key, str) else _show(key)
        raise ExprError(f"the mapping has no key {shown} ({_keys(mapping)})")
    value = mapping[key]
    if value is UNKNOWN:
        raise Unknown(str(key))
    return value
