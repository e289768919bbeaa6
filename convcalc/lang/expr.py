"""A tiny, safe expression language for template and repeat parameters: ``${…}``.

``${width * 4}``, ``${2 if i == 0 else 1}``, ``${make_divisible(32 * width_mult, 8)}``,
``${stages[i].out}``. A whole value ``$name`` or ``${expr}`` is replaced by the value; inside a longer
string (a name such as ``stage${i + 1}``) each ``${expr}`` is replaced by its text. The text is parsed
with Python's own parser and walked node by node; nothing is ever passed to ``eval`` and no Python
attribute or function of a value is ever reached.

Values
    integers (exact, any size up to the limits), real numbers (Python floats: ``0.75``, ``1.1``, ``1e-3``),
    booleans ``True``/``False``, strings in quotes, lists (``[a, b]`` or a list from the spec) and
    mappings (from the spec only: there is no ``{…}`` literal). Names are the parameters bound by the
    enclosing template, repeat or dense block (``i``, ``in_channels``, …). Whether a value fits where it
    lands is the caller's check: ``${c / 2}`` is the real ``4.0``, and an integer field may refuse it.

Arithmetic (Python's semantics, on numbers only: booleans, strings, lists are refused)
    ``+ - * / // % **`` and unary ``-``/``+``. An integer with an integer stays an exact integer, except
    ``/``, which always gives a real (``6 / 2`` is ``3.0``); an integer with a real gives a real.
    ``//`` and ``%`` floor as in Python (``-7 // 2`` is ``-4``). ``2 ** 3`` is the integer ``8``,
    ``2 ** -1`` is ``0.5``; a negative number to a fractional power (no real value) and ``0`` to a
    negative power are errors, and so is any division by zero.

Comparisons and logic
    ``== !=`` on any values; ``< <= > >=`` on numbers; chains (``0 <= i < n``) as in Python;
    ``x in [1, 2]`` / ``not in`` (a list's items, a mapping's keys, or text within a string);
    ``and``/``or``/``not`` (``and``/``or`` stop at the first operand that decides and give ``True`` or
    ``False``); ``a if cond else b`` over any values (only the chosen branch is evaluated).

Lists and mappings
    ``stages[i]`` (an integer index, negative from the end as in Python; no slices); ``cfg['width']``
    or ``cfg.width`` read a mapping's key (the dot works on mappings only).

Functions (arguments by position; ``make_divisible`` also takes ``min_value=`` and ``round`` ``ndigits=``)
    ``round(x)`` (to the nearest integer, ties to even: ``round(2.5)`` is ``2``), ``round(x, n)``;
    ``floor(x)``, ``ceil(x)`` (integers); ``int(x)`` (truncates toward zero; also of a boolean),
    ``float(x)``; ``abs(x)``; ``min(…)``, ``max(…)`` of numbers (one number, several, or one list);
    ``len(list or mapping)``; ``sum(list)``; ``make_divisible(v, divisor, min_value=divisor)``,
    torchvision's ``_make_divisible`` exactly (computed with Python floats as torchvision does): the
    multiple of ``divisor`` nearest ``v``, at least ``min_value``, plus ``divisor`` if that is more than
    10% below ``v``; always an integer. (For integer ``v`` it equals exact integer rounding at any size a
    network uses, checked for v up to 5000 and divisors up to 64; past 2^52 float rounding shows, as in
    torchvision.)

Limits (each an error that names it)
    an expression has at most 500 characters and 50 levels of nesting; an integer along the way has at
    most 200 digits (``**`` is refused before computing when its result would pass that); a real number
    that overflows (``1e308 * 10``, ``1e400``) or is not a number is an error; a list built or walked by
    an expression has at most 10,000 items; ``round``'s ``ndigits`` is within ±200; the value of a
    whole expression (and every number of a list literal) stays below 10^30 in magnitude, as every
    integer of a spec does.
"""

from __future__ import annotations

import ast
import math
import operator
import re
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from convcalc.lang.expr_functions import _FUNCTIONS, _KEYWORDS, _SIGNATURES, make_divisible
from convcalc.lang.expr_values import (
    _TOO_MANY_DIGITS,
    _WHOLE,
    MAX_EXPR_DEPTH,
    MAX_EXPR_DIGITS,
    MAX_EXPR_LENGTH,
    MAX_LIST_ITEMS,
    MAX_ROUND_DIGITS,
    UNKNOWN,
    ExprError,
    Unknown,
    _checked,
    _is_list,
    _is_number,
    _items,
    _keys,
    _number,
    _show,
    integral,
    is_computed,
    is_expression,
)
from convcalc.lang.yaml_source import MAX_INT, MAX_INT_DIGITS

__all__ = ["MAX_EXPR_DEPTH", "MAX_EXPR_DIGITS", "MAX_EXPR_LENGTH", "MAX_LIST_ITEMS", "MAX_ROUND_DIGITS", "UNKNOWN",
           "ExprError", "Unknown", "evaluate", "integral", "interpolate_text", "is_computed", "is_expression",
           "make_divisible", "substitute"]



def substitute(value: object, env: Mapping[str, Any]) -> Any:
    """Replace ``$name`` / ``${expr}`` strings by their values; other values are returned as is.

    The value may be any value of the language: an int, a float, a bool, a string, a list or a mapping. In a
    list written in the spec (``size: ["${h}", "${w}"]``), each item is substituted."""
    if isinstance(value, list):
        return [substitute(v, env) for v in value] if any(isinstance(v, (str, list)) for v in value) else value
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
    """Replace each ``${expr}`` inside a longer string by its value (``denselayer${i + 1}``); a real number
    is written as Python's ``repr`` does, the shortest text that reads back the same (``0.75``, ``1e-05``)."""
    return _EMBEDDED.sub(lambda m: _text(evaluate(m.group(1), env)), text)


def _text(value: Any) -> str:
    return repr(value) if isinstance(value, float) else str(value)


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
    if len(text) > MAX_EXPR_LENGTH:
        raise ExprError(f"expression longer than {MAX_EXPR_LENGTH} characters")
    try:
        tree = _parse(text.strip())
    except ExprError:  # too deep: already says why
        raise
    except (SyntaxError, ValueError, MemoryError, RecursionError):  # ValueError: a NUL character
        shown = text.strip() if len(text.strip()) <= 60 else text.strip()[:57] + "..."
        raise ExprError(f"cannot parse expression {shown!r}") from None
    return _final(_eval(tree.body, env))


def _final(value: Any, what: str = "the value") -> Any:
    """A number that leaves an expression stays below 10^30 in magnitude, as the spec's own integers."""
    if _is_number(value) and not abs(_checked(value)) <= MAX_INT:
        raise ExprError(f"{what} has more than {MAX_INT_DIGITS} digits (the limit)")
    return value


# ------------------------------------------------------------------ the evaluator

_SYMBOLS: dict[type[ast.AST], str] = {
    ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%", ast.Pow: "**",
    ast.MatMult: "@", ast.BitAnd: "&", ast.BitOr: "|", ast.BitXor: "^", ast.LShift: "<<", ast.RShift: ">>",
    ast.USub: "-", ast.UAdd: "+", ast.Invert: "~", ast.Not: "not",
    ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.In: "in",
    ast.NotIn: "not in", ast.Is: "is", ast.IsNot: "is not",
}
_OPERATORS = "+ - * / // % **"


def _eval(node: ast.AST, env: Mapping[str, Any]) -> Any:
    handler = _NODES.get(type(node))
    if handler is None:
        raise ExprError(_not_allowed(node))
    return handler(node, env)


def _constant(node: ast.Constant, env: Mapping[str, Any]) -> Any:
    v = node.value
    if isinstance(v, str):
        return v
    if isinstance(v, float) and math.isinf(v):
        raise ExprError("the number is too large for a real number (past about 1.8e308)")
    if isinstance(v, (int, float)):  # and booleans
        return _checked(v)
    raise ExprError(_not_allowed(node))


def _name(node: ast.Name, env: Mapping[str, Any]) -> Any:
    if node.id not in env:
        if node.id in _FUNCTIONS:
            raise ExprError(f"{node.id} is a function, not a parameter: {_SIGNATURES[node.id]}")
        spelled = "; booleans are written True and False" if node.id in ("true", "false") else ""
        raise ExprError(f"unknown parameter {node.id!r}" + _known(env) + spelled)
    value = env[node.id]
    if value is UNKNOWN:
        raise Unknown(node.id)
    return value


def _unary(node: ast.UnaryOp, env: Mapping[str, Any]) -> Any:
    v = _eval(node.operand, env)
    if isinstance(node.op, ast.Not):
        return not v
    if isinstance(node.op, (ast.USub, ast.UAdd)):
        n = _number(v, f"unary {_SYMBOLS[type(node.op)]} needs a number")
        return -n if isinstance(node.op, ast.USub) else n
    raise ExprError(f"operator {_SYMBOLS.get(type(node.op), '?')} is not allowed (use {_OPERATORS})")


def _comparison(node: ast.Compare, env: Mapping[str, Any]) -> bool:
    left = _eval(node.left, env)
    for op, right_node in zip(node.ops, node.comparators, strict=True):
        right = _eval(right_node, env)
        if not _compare(op, left, right):
            return False
        left = right
    return True


def _logic(node: ast.BoolOp, env: Mapping[str, Any]) -> bool:
    want = isinstance(node.op, ast.Or)  # the operand value that decides: true for or, false for and
    for operand in node.values:
        if bool(_eval(operand, env)) is want:
            return want
    return not want


def _conditional(node: ast.IfExp, env: Mapping[str, Any]) -> Any:
    return _eval(node.body if _eval(node.test, env) else node.orelse, env)


def _list(node: ast.List, env: Mapping[str, Any]) -> list[Any]:
    if len(node.elts) > MAX_LIST_ITEMS:  # pragma: no cover - the length limit comes first
        raise ExprError(f"a list of more than {MAX_LIST_ITEMS} items (the limit)")
    if any(isinstance(e, ast.Starred) for e in node.elts):
        raise ExprError("unpacking (*) is not allowed in a list")
    return [_final(_eval(e, env), "an item of a list") for e in node.elts]


def _subscript(node: ast.Subscript, env: Mapping[str, Any]) -> Any:
    return _index(_eval(node.value, env), node.slice, env)


def _attribute(node: ast.Attribute, env: Mapping[str, Any]) -> Any:
    target = _eval(node.value, env)
    if not isinstance(target, Mapping):
        raise ExprError(f".{node.attr} reads a key of a mapping, found {_show(target)}")
    return _key(target, node.attr)


_PLAIN = (int, float)


def _binary(node: ast.BinOp, env: Mapping[str, Any]) -> Any:
    op = _ARITHMETIC.get(type(node.op))
    if op is None:
        raise ExprError(f"operator {_SYMBOLS.get(type(node.op), '?')} is not allowed (use {_OPERATORS})")
    a, b = _eval(node.left, env), _eval(node.right, env)
    if type(a) not in _PLAIN or type(b) not in _PLAIN:  # a bool, a str, …: the message is built only here
        needs = f"{_SYMBOLS[type(node.op)]} needs numbers"
        a, b = _number(a, needs), _number(b, needs)
    if b == 0 and op in _DIVIDING:
        raise ExprError("division by zero")
    try:
        r = op(a, b)
    except OverflowError:
        raise ExprError("the result is too large for a real number (past about 1.8e308)") from None
    if type(r) is int and -_TOO_MANY_DIGITS < r < _TOO_MANY_DIGITS:
        return r
    return _checked(r)


def _power(a: int | float, b: int | float) -> Any:
    if a == 0 and b < 0:
        raise ExprError("0 cannot be raised to a negative power")
    if isinstance(a, int) and isinstance(b, int) and b > 0 and abs(a) >= 2 \
            and b * math.log10(abs(a)) > MAX_EXPR_DIGITS:  # refused before Python computes it
        raise ExprError(f"** would give an integer of more than {MAX_EXPR_DIGITS} digits (the limit)")
    return a**b


_ARITHMETIC: dict[type[ast.AST], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: _power,
}
_DIVIDING = (operator.truediv, operator.floordiv, operator.mod)


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


def _has_key(mapping: Mapping[Any, Any], key: Any) -> bool:
    try:
        return key in mapping
    except TypeError:  # a list or a mapping as the key
        return False


def _index(target: Any, index_node: ast.AST, env: Mapping[str, Any]) -> Any:
    if isinstance(index_node, ast.Slice):
        raise ExprError("slices ([a:b]) are not supported: index one item, stages[i]")
    if isinstance(index_node, ast.Tuple):
        raise ExprError("index with one value, stages[i] (or stages[i][j])")
    index = _eval(index_node, env)
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


# ------------------------------------------------------------------ functions


def _call(node: ast.Call, env: Mapping[str, Any]) -> Any:
    name = node.func.id if isinstance(node.func, ast.Name) else ""
    if name not in _FUNCTIONS:
        raise ExprError(_not_allowed(node))
    if any(isinstance(a, ast.Starred) for a in node.args) or any(k.arg is None for k in node.keywords):
        raise ExprError(f"{name}() takes plain arguments (no * or ** unpacking): {_SIGNATURES[name]}")
    keywords = _KEYWORDS.get(name, ())
    for k in node.keywords:
        if k.arg not in keywords:
            takes = f"takes only {', '.join(f'{w}=' for w in keywords)} by name" if keywords else \
                "takes no keyword arguments"
            raise ExprError(f"{name}() {takes}, found {k.arg}=: {_SIGNATURES[name]}")
    args = [_eval(a, env) for a in node.args]
    kwargs = {str(k.arg): _eval(k.value, env) for k in node.keywords}
    return _checked(_FUNCTIONS[name](*args, **kwargs))
#: The syntax the evaluator knows, by node type; any other node is refused (_not_allowed says why).
_NODES: dict[type[ast.AST], Callable[[Any, Mapping[str, Any]], Any]] = {
    ast.Constant: _constant, ast.Name: _name, ast.UnaryOp: _unary, ast.BinOp: _binary, ast.Compare: _comparison,
    ast.BoolOp: _logic, ast.IfExp: _conditional, ast.List: _list, ast.Subscript: _subscript,
    ast.Attribute: _attribute, ast.Call: _call,
}


def _not_allowed(node: ast.AST) -> str:
    """Why a piece of syntax is refused, in the user's terms."""
    if isinstance(node, ast.Call):
        name = node.func.id if isinstance(node.func, ast.Name) else ""
        known = ", ".join(f"{f}()" for f in _FUNCTIONS)
        return f"calling {name + '()' if name else 'a function'} is not allowed (only {known})"
    if isinstance(node, ast.Constant):
        return f"{node.value!r} is not allowed: expressions use numbers, lists and mappings (and strings) only"
    if isinstance(node, ast.Tuple):
        return "a tuple (a, b) is not allowed in an expression: write a list [a, b]"
    words = {ast.Dict: "a mapping literal {…}",
             ast.Set: "a set {…}", ast.Lambda: "lambda", ast.NamedExpr: "assignment (:=)",
             ast.JoinedStr: "an f-string", ast.ListComp: "a list comprehension",
             ast.SetComp: "a set comprehension", ast.DictComp: "a mapping comprehension",
             ast.GeneratorExp: "a generator expression", ast.Starred: "unpacking (*)"}
    what = words.get(type(node), type(node).__name__)
    return f"{what} is not allowed in an expression"
