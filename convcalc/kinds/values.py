"""Argument values: parsers from spec values to typed values, and how a found value is described.

Every spatial value is an ``(h, w)`` pair. A parser returns the typed value or raises :class:`ArgError`
(expected vs found, with a hint); booleans are never accepted as integers.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Literal

from convcalc.lang.expr_values import describe

Pair = tuple[int, int]
#: Explicit padding per axis: ((top, bottom), (left, right)), or TensorFlow's resolution-dependent SAME.
Padding = tuple[Pair, Pair] | Literal["same"]


class ArgError(ValueError):
    """A spec value does not have the expected form."""

    def __init__(self, expected: str, found: object, hint: str = "") -> None:
        self.expected = expected
        self.found = found
        self.hint = hint
        super().__init__(f"expected {expected}, found {describe(found)}")


# ---------------------------------------------------------------- argument parsers


def _int(v: object, minimum: int) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        hint = "YAML reads yes/no/true/false as booleans" if isinstance(v, bool) else ""
        if isinstance(v, float) and v.is_integer():
            hint = f"write {int(v)} (an integer, without the decimal point)"
        raise ArgError(f"an integer >= {minimum}", v, hint)
    if v < minimum:
        raise ArgError(f"an integer >= {minimum}", v)
    return v


def positive(v: object) -> int:
    return _int(v, 1)


def non_negative(v: object) -> int:
    return _int(v, 0)


def _pair(v: object, minimum: int) -> Pair:
    if isinstance(v, list):
        if len(v) != 2:
            raise ArgError(f"an integer >= {minimum} or [h, w]", v)
        return (_int(v[0], minimum), _int(v[1], minimum))
    try:
        n = _int(v, minimum)
    except ArgError as exc:
        raise ArgError(f"an integer >= {minimum} or [h, w]", v, exc.hint) from None
    return (n, n)


def pos_pair(v: object) -> Pair:
    return _pair(v, 1)


def nonneg_pair(v: object) -> Pair:
    return _pair(v, 0)


def padding(v: object) -> Padding:
    if v == "same":
        return "same"
    if v == "valid":
        return ((0, 0), (0, 0))
    expected = "an integer >= 0, [h, w], [[top, bottom], [left, right]], 'same' or 'valid'"
    if isinstance(v, list) and len(v) == 2 and all(isinstance(x, list) for x in v):
        try:
            a, b = nonneg_pair(v[0]), nonneg_pair(v[1])
        except ArgError:
            raise ArgError(expected, v) from None
        return (a, b)
    if isinstance(v, str):
        close = [o for o in ("same", "valid") if o.startswith(v.lower()[:2]) or v.lower().startswith(o[:2])]
        raise ArgError(expected, v, f"did you mean {close[0]!r}?" if close and v else "")
    try:
        h, w = nonneg_pair(v)
    except ArgError as exc:
        raise ArgError(expected, v, exc.hint) from None
    return ((h, h), (w, w))


def factor_pair(v: object) -> tuple[int | float, int | float]:
    """A factor > 0: a number or [h, w] (integers stay integers)."""
    items = v if isinstance(v, list) and len(v) == 2 else [v, v]
    out: list[int | float] = []
    for x in items:
        if isinstance(x, bool) or not isinstance(x, (int, float)) or not x > 0 or not math.isfinite(x):
            raise ArgError("a number > 0 or [h, w]", v)
        out.append(int(x) if isinstance(x, int) else x)
    return out[0], out[1]


def reference(v: object) -> str:
    """The name of an earlier layer or named block (resolved by the graph, like ``from:``)."""
    if not isinstance(v, str) or not v.strip("/ "):
        raise ArgError("the name of an earlier layer or block", v)
    return v.strip("/ ")


def boolean(v: object) -> bool:
    if not isinstance(v, bool):
        raise ArgError("true or false", v)
    return v


def number(v: object) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        hint = ""
        if isinstance(v, str):
            try:
                float(v)
                mantissa, _, exponent = v.strip().lower().partition("e")
                if exponent and "." not in mantissa:
                    hint = f"YAML reads {v} as text: write {mantissa}.0e{exponent} (a decimal point before the e)"
            except ValueError:
                pass
        raise ArgError("a number", v, hint)
    return float(v)


def positive_number(v: object) -> float:
    """A real number > 0 (an attention ratio)."""
    x = number(v)
    if x <= 0:
        raise ArgError("a number > 0", v)
    return x


def probability(v: object) -> float:
    p = number(v)
    if not 0 <= p <= 1:
        raise ArgError("a probability between 0 and 1", v)
    return p


def choice(*options: str) -> Callable[[object], str]:
    def parse(v: object) -> str:
        if v not in options:
            raise ArgError("one of " + ", ".join(options), v)
        return str(v)

    parse.options = options  # type: ignore[attr-defined]
    return parse


def one_of(*values: int) -> Callable[[object], int]:
    def parse(v: object) -> int:
        if isinstance(v, bool) or v not in values:
            raise ArgError("one of " + ", ".join(map(str, values)), v)
        return int(v)

    parse.values = values  # type: ignore[attr-defined]
    return parse


#: The JSON Schema fragment of each parser, for ``convcalc schema``.
_INT_SCHEMA: dict[str, Any] = {"type": "integer"}
_PAIR = {"oneOf": [_INT_SCHEMA, {"type": "array", "items": _INT_SCHEMA, "minItems": 2, "maxItems": 2}]}
_EXPR = {"type": "string", "pattern": r"^\$"}


def parser_schema(p: Callable[[object], Any]) -> dict[str, Any]:
    """JSON Schema of the values a parser accepts (template expressions ``$x`` always allowed)."""
    if p is positive:
        s: dict[str, Any] = {"type": "integer", "minimum": 1}
    elif p is non_negative:
        s = {"type": "integer", "minimum": 0}
    elif p in (pos_pair, nonneg_pair):
        s = _PAIR
    elif p is padding:
        s = {"oneOf": [_PAIR, {"enum": ["same", "valid"]},
                       {"type": "array", "minItems": 2, "maxItems": 2, "items": _PAIR}]}
    elif p is boolean:
        s = {"type": "boolean"}
    elif p is reference:
        s = {"type": "string", "minLength": 1}
    elif p is probability:
        s = {"type": "number", "minimum": 0, "maximum": 1}
    elif p is factor_pair:
        s = {"oneOf": [{"type": "number", "exclusiveMinimum": 0},
                       {"type": "array", "items": {"type": "number", "exclusiveMinimum": 0}, "minItems": 2,
                        "maxItems": 2}]}
    elif p is number:
        s = {"type": "number"}
    elif p is positive_number:
        s = {"type": "number", "exclusiveMinimum": 0}
    elif hasattr(p, "options"):
        s = {"enum": list(p.options)}
    elif hasattr(p, "values"):
        s = {"enum": list(p.values)}
    else:  # pragma: no cover - every parser is listed above
        s = {}
    return {"anyOf": [s, _EXPR]}
