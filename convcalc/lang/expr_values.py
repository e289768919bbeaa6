"""The values of the expression language: its limits, its errors, and the checks every operation shares
(see :mod:`convcalc.lang.expr` for the language)."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
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


def is_expression(value: object) -> bool:
    return isinstance(value, str) and _WHOLE.match(value.strip()) is not None


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
