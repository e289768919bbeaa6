"""The functions an expression may call: ``round floor ceil int float abs min max len sum make_divisible``
(see :mod:`convcalc.lang.expr` for the language)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from convcalc.lang.expr_values import (
    MAX_LIST_ITEMS,
    MAX_ROUND_DIGITS,
    ExprError,
    _checked,
    _is_list,
    _items,
    _number,
    _show,
)


def _count(name: str, args: tuple[Any, ...], low: int, high: int) -> None:
    if not low <= len(args) <= high:
        raise ExprError(f"{_SIGNATURES[name]}, found {len(args)}")


def _round(*args: Any, ndigits: Any = None) -> Any:
    if ndigits is not None:
        args = (*args, ndigits)
    _count("round", args, 1, 2)
    x = _number(args[0], "round() takes a number")
    if len(args) == 1:
        return round(x)
    n = args[1]
    if not isinstance(n, int) or isinstance(n, bool):
        raise ExprError(f"round's ndigits must be an integer, found {_show(n)}")
    if abs(n) > MAX_ROUND_DIGITS:
        raise ExprError(f"round() to {n} digits: at most {MAX_ROUND_DIGITS} either way (the limit)")
    return round(x, n)


def _one_number(name: str, op: Callable[[Any], Any]) -> Callable[..., Any]:
    def f(*args: Any) -> Any:
        _count(name, args, 1, 1)
        try:
            return op(_number(args[0], f"{name}() takes a number"))
        except OverflowError:  # pragma: no cover - reals are finite, integers at most 200 digits
            raise ExprError(f"{name}() overflows") from None
    return f


def _int(*args: Any) -> int:
    _count("int", args, 1, 1)
    x = args[0]
    return int(x if isinstance(x, bool) else _number(x, "int() takes a number or a boolean"))


def _float(*args: Any) -> float:
    _count("float", args, 1, 1)
    x = args[0]
    return float(x if isinstance(x, bool) else _number(x, "float() takes a number or a boolean"))


def _extreme(name: str, pick: Callable[..., Any]) -> Callable[..., Any]:
    def f(*args: Any) -> Any:
        _count(name, args, 1, MAX_LIST_ITEMS)
        values = args
        if len(args) == 1 and _is_list(args[0]):
            values = tuple(_items(args[0], f"{name}()"))
            if not values:
                raise ExprError(f"{name}() of an empty list")
        return pick(_number(v, f"{name}() takes numbers") for v in values)
    return f


def _len(*args: Any) -> int:
    _count("len", args, 1, 1)
    if not (_is_list(args[0]) or isinstance(args[0], Mapping)):
        raise ExprError(f"len() takes a list or a mapping, found {_show(args[0])}")
    return len(args[0])


def _sum(*args: Any) -> Any:
    _count("sum", args, 1, 1)
    if not _is_list(args[0]):
        raise ExprError(f"sum() takes a list of numbers, found {_show(args[0])}")
    total: Any = 0
    for v in _items(args[0], "sum()"):
        total = _checked(total + _number(v, "sum() takes a list of numbers"))
    return total


def _make_divisible(*args: Any, min_value: Any = None) -> int:
    if min_value is not None:
        if len(args) > 2:
            raise ExprError("make_divisible() got min_value twice (by position and by name)")
        args = (*args, min_value)
    _count("make_divisible", args, 2, 3)
    v = _number(args[0], "make_divisible's v must be a number")
    for what, w in zip(("divisor", "min_value"), args[1:], strict=False):
        if not isinstance(w, int) or isinstance(w, bool):
            raise ExprError(f"make_divisible's {what} must be an integer, found {_show(w)}")
    if args[1] < 1:
        raise ExprError("make_divisible needs a divisor >= 1")
    return make_divisible(v, args[1], args[2] if len(args) == 3 else None)


def make_divisible(v: float, divisor: int, min_value: int | None = None) -> int:
    """torchvision's ``torchvision.models._utils._make_divisible``, literally (with Python floats, so that
    it agrees with torchvision for real ``v`` too): round ``v`` to the nearest multiple of ``divisor``, at
    least ``min_value`` (default ``divisor``), then add ``divisor`` if that lost more than 10%."""
    if divisor < 1:
        raise ExprError("make_divisible needs a divisor >= 1")
    if min_value is None:
        min_value = divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    # Make sure that round down does not go down by more than 10%.
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "round": _round,
    "floor": _one_number("floor", math.floor),
    "ceil": _one_number("ceil", math.ceil),
    "int": _int,
    "float": _float,
    "abs": _one_number("abs", abs),
    "min": _extreme("min", min),
    "max": _extreme("max", max),
    "len": _len,
    "sum": _sum,
    "make_divisible": _make_divisible,
}
_SIGNATURES = {
    "round": "round takes 1 or 2 arguments (x[, ndigits]: a number, an integer)",
    "floor": "floor takes 1 argument (a number)",
    "ceil": "ceil takes 1 argument (a number)",
    "int": "int takes 1 argument (a number or a boolean)",
    "float": "float takes 1 argument (a number or a boolean)",
    "abs": "abs takes 1 argument (a number)",
    "min": "min takes 1 or more arguments (numbers, or one list of numbers)",
    "max": "max takes 1 or more arguments (numbers, or one list of numbers)",
    "len": "len takes 1 argument (a list or a mapping)",
    "sum": "sum takes 1 argument (a list of numbers)",
    "make_divisible": "make_divisible takes 2 or 3 arguments (v, divisor[, min_value])",
}
_KEYWORDS: dict[str, tuple[str, ...]] = {"round": ("ndigits",), "make_divisible": ("min_value",)}
