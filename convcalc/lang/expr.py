"""A tiny, safe expression language for template and repeat parameters: ``${…}``.

``${width * 4}``, ``${2 if i == 0 else 1}``, ``${make_divisible(32 * width_mult, 8)}``,
``${stages[i].out}``. A whole value ``$name`` or ``${expr}`` is replaced by the value; inside a longer
string (a name such as ``stage${i + 1}``) each ``${expr}`` is replaced by its text. The text is parsed
with Python's own parser and walked node by node (compiled once per text into plain functions of the
variables, see "the evaluator" below); nothing is ever passed to ``eval`` and no Python attribute or
function of a value is ever reached.

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
    _SYMBOLS,
    _TOO_MANY_DIGITS,
    MAX_EXPR_DEPTH,
    MAX_EXPR_DIGITS,
    MAX_EXPR_LENGTH,
    MAX_LIST_ITEMS,
    MAX_ROUND_DIGITS,
    UNKNOWN,
    ExprError,
    Unknown,
    _checked,
    _compare,
    _index,
    _is_number,
    _key,
    _number,
    _power,
    _show,
    integral,
    is_computed,
    is_expression,
    whole,
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
    form = whole(value)
    if form is None:
        return value
    name, text = form
    if name is not None:
        if name not in env:
            raise ExprError(f"unknown parameter ${name}" + _known(env))
        if env[name] is UNKNOWN:
            raise Unknown(name)
        return env[name]
    assert text is not None
    return evaluate(text, env)


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
        run = _compiled(text.strip())
    except ExprError:  # too deep: already says why
        raise
    except (SyntaxError, ValueError, MemoryError, RecursionError):  # ValueError: a NUL character
        shown = text.strip() if len(text.strip()) <= 60 else text.strip()[:57] + "..."
        raise ExprError(f"cannot parse expression {shown!r}") from None
    return _final(run(env))


@lru_cache(maxsize=4096)
def _compiled(text: str) -> Run:
    """The parsed expression compiled (:func:`_compile`), once per text."""
    return _compile(_parse(text).body)


def _final(value: Any, what: str = "the value") -> Any:
    """A number that leaves an expression stays below 10^30 in magnitude, as the spec's own integers."""
    if _is_number(value) and not abs(_checked(value)) <= MAX_INT:
        raise ExprError(f"{what} has more than {MAX_INT_DIGITS} digits (the limit)")
    return value


# ------------------------------------------------------------------ the evaluator
#
# Each node of the syntax tree is compiled once (per expression text) into a function of the environment that
# does what evaluating the node does, its children compiled before: the same checks, in the same order, the
# same errors when it runs (never when it is compiled: a branch that is not taken raises nothing).

#: An expression compiled: its value over an environment.
Run = Callable[[Mapping[str, Any]], Any]

_OPERATORS = "+ - * / // % **"


def _compile(node: ast.AST) -> Run:
    maker = _NODES.get(type(node))
    return _raises(_not_allowed(node)) if maker is None else maker(node)


def _raises(message: str) -> Run:
    def run(env: Mapping[str, Any]) -> Any:
        raise ExprError(message)
    return run


def _constant(node: ast.Constant) -> Run:
    v = node.value
    if isinstance(v, float) and math.isinf(v):
        return _raises("the number is too large for a real number (past about 1.8e308)")
    if not isinstance(v, (str, int, float)):  # (booleans are ints)
        return _raises(_not_allowed(node))
    try:
        value = v if isinstance(v, str) else _checked(v)
    except ExprError as exc:
        return _raises(str(exc))
    return lambda env: value


def _name(node: ast.Name) -> Run:
    name = node.id

    def run(env: Mapping[str, Any]) -> Any:
        if name not in env:
            if name in _FUNCTIONS:
                raise ExprError(f"{name} is a function, not a parameter: {_SIGNATURES[name]}")
            spelled = "; booleans are written True and False" if name in ("true", "false") else ""
            raise ExprError(f"unknown parameter {name!r}" + _known(env) + spelled)
        value = env[name]
        if value is UNKNOWN:
            raise Unknown(name)
        return value
    return run


def _unary(node: ast.UnaryOp) -> Run:
    operand, op = _compile(node.operand), node.op
    if isinstance(op, ast.Not):
        return lambda env: not operand(env)
    if isinstance(op, (ast.USub, ast.UAdd)):
        needs, negate = f"unary {_SYMBOLS[type(op)]} needs a number", isinstance(op, ast.USub)

        def run(env: Mapping[str, Any]) -> Any:
            n = _number(operand(env), needs)
            return -n if negate else n
        return run
    refused = _raises(f"operator {_SYMBOLS.get(type(op), '?')} is not allowed (use {_OPERATORS})")
    return lambda env: (operand(env), refused(env))


def _comparison(node: ast.Compare) -> Run:
    first = _compile(node.left)
    rest = [(op, _compile(right)) for op, right in zip(node.ops, node.comparators, strict=True)]

    def run(env: Mapping[str, Any]) -> bool:
        left = first(env)
        for op, right_of in rest:
            right = right_of(env)
            if not _compare(op, left, right):
                return False
            left = right
        return True
    return run


def _logic(node: ast.BoolOp) -> Run:
    want = isinstance(node.op, ast.Or)  # the operand value that decides: true for or, false for and
    operands = [_compile(v) for v in node.values]

    def run(env: Mapping[str, Any]) -> bool:
        for operand in operands:
            if bool(operand(env)) is want:
                return want
        return not want
    return run


def _conditional(node: ast.IfExp) -> Run:
    test, body, orelse = _compile(node.test), _compile(node.body), _compile(node.orelse)
    return lambda env: body(env) if test(env) else orelse(env)


def _list(node: ast.List) -> Run:
    if len(node.elts) > MAX_LIST_ITEMS:  # pragma: no cover - the length limit comes first
        return _raises(f"a list of more than {MAX_LIST_ITEMS} items (the limit)")
    if any(isinstance(e, ast.Starred) for e in node.elts):
        return _raises("unpacking (*) is not allowed in a list")
    items = [_compile(e) for e in node.elts]
    return lambda env: [_final(item(env), "an item of a list") for item in items]


def _subscript(node: ast.Subscript) -> Run:
    target = _compile(node.value)
    if isinstance(node.slice, ast.Slice):
        refused = _raises("slices ([a:b]) are not supported: index one item, stages[i]")
    elif isinstance(node.slice, ast.Tuple):
        refused = _raises("index with one value, stages[i] (or stages[i][j])")
    else:
        index = _compile(node.slice)
        return lambda env: _index(target(env), index(env))
    return lambda env: (target(env), refused(env))


def _attribute(node: ast.Attribute) -> Run:
    target, attr = _compile(node.value), node.attr

    def run(env: Mapping[str, Any]) -> Any:
        mapping = target(env)
        if not isinstance(mapping, Mapping):
            raise ExprError(f".{attr} reads a key of a mapping, found {_show(mapping)}")
        return _key(mapping, attr)
    return run


_PLAIN = (int, float)


def _binary(node: ast.BinOp) -> Run:
    op = _ARITHMETIC.get(type(node.op))
    if op is None:
        return _raises(f"operator {_SYMBOLS.get(type(node.op), '?')} is not allowed (use {_OPERATORS})")
    left, right, symbol = _compile(node.left), _compile(node.right), _SYMBOLS[type(node.op)]
    dividing = op in _DIVIDING

    def run(env: Mapping[str, Any]) -> Any:
        a, b = left(env), right(env)
        if type(a) not in _PLAIN or type(b) not in _PLAIN:  # a bool, a str, …: the message is built only here
            needs = f"{symbol} needs numbers"
            a, b = _number(a, needs), _number(b, needs)
        if b == 0 and dividing:
            raise ExprError("division by zero")
        try:
            r = op(a, b)
        except OverflowError:
            raise ExprError("the result is too large for a real number (past about 1.8e308)") from None
        if type(r) is int and -_TOO_MANY_DIGITS < r < _TOO_MANY_DIGITS:
            return r
        return _checked(r)
    return run


_ARITHMETIC: dict[type[ast.AST], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: _power,
}
_DIVIDING = (operator.truediv, operator.floordiv, operator.mod)


# ------------------------------------------------------------------ functions


def _call(node: ast.Call) -> Run:
    name = node.func.id if isinstance(node.func, ast.Name) else ""
    if name not in _FUNCTIONS:
        return _raises(_not_allowed(node))
    if any(isinstance(a, ast.Starred) for a in node.args) or any(k.arg is None for k in node.keywords):
        return _raises(f"{name}() takes plain arguments (no * or ** unpacking): {_SIGNATURES[name]}")
    keywords = _KEYWORDS.get(name, ())
    for k in node.keywords:
        if k.arg not in keywords:
            takes = f"takes only {', '.join(f'{w}=' for w in keywords)} by name" if keywords else \
                "takes no keyword arguments"
            return _raises(f"{name}() {takes}, found {k.arg}=: {_SIGNATURES[name]}")
    function = _FUNCTIONS[name]
    args = [_compile(a) for a in node.args]
    kwargs = [(str(k.arg), _compile(k.value)) for k in node.keywords]
    return lambda env: _checked(function(*[a(env) for a in args], **{k: v(env) for k, v in kwargs}))


#: The syntax the evaluator knows, by node type; any other node is refused (_not_allowed says why).
_NODES: dict[type[ast.AST], Callable[[Any], Run]] = {
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
