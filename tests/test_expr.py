"""The ``${…}`` expression language (convcalc.lang.expr): every expected value below is written by hand.

Integers stay exact, reals follow Python's floats, lists and mappings from a spec can be read, and every
limit is an ExprError that says why (never a hang, a traceback or a huge number).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from convcalc.lang import expr
from convcalc.lang.expr import (
    MAX_EXPR_DEPTH,
    MAX_LIST_ITEMS,
    UNKNOWN,
    ExprError,
    Unknown,
    evaluate,
    interpolate_text,
    is_expression,
    make_divisible,
    substitute,
)

ENV: dict[str, Any] = {
    "c": 8, "width": 64, "expansion": 4, "i": 1, "w": 0.75, "flag": True, "act": "relu",
    "stages": [{"out": 16, "n": 1, "se": False}, {"out": 24, "n": 2, "se": True}],
    "cfg": {"width": 1.1, "depth": 1.2, "kernels": [3, 5]},
}


def ev(text: str, **extra: Any) -> Any:
    return evaluate(text, {**ENV, **extra})


def same(value: Any, expected: Any) -> bool:
    """Equal and of the same type (3 is not 3.0 here, and neither is True)."""
    return type(value) is type(expected) and value == expected


def error(text: str, **extra: Any) -> str:
    with pytest.raises(ExprError) as info:
        ev(text, **extra)
    return str(info.value)


# ------------------------------------------------------------------ the integer language, as before


@pytest.mark.parametrize(("text", "expected"), [
    ("width * expansion", 256),
    ("2 if i == 0 else 1", 1),
    ("max(8, c // 4)", 8),
    ("min(c, 3, 5)", 3),
    ("min(5)", 5),
    ("c + 1 - 2 * 3", 3),
    ("-7 // 2", -4),
    ("-7 % 3", 2),
    ("7 % -3", -2),
    ("-c", -8),
    ("+c", 8),
    ("(c - 1) // 2", 3),
    ("c == 8 and i != 0", True),
    ("c < 8 or i > 5", False),
    ("not 0", True),
    ("0 or 5", True),  # and/or give a boolean, as they always did
    ("1 and 0", False),
    ("1 < 2 < 1", False),
    ("0 <= i < 2", True),
    ("'relu6' if c > 4 else 'relu'", "relu6"),
    ("act == 'relu'", True),
    ("1 if 0 else 'x'", "x"),
    ("make_divisible(100, 8)", 104),
    ("make_divisible(c * 3, 8, 32)", 32),
    ("10 ** 29 * 10 ** 29 // 10 ** 29", 10**29),  # a 59-digit partial result is fine
    ("9" * 30, int("9" * 30)),
    ("0x1F + 1_000", 1031),
])
def test_integer_behaviours(text: str, expected: Any) -> None:
    assert same(ev(text), expected)


def test_old_error_messages() -> None:
    assert error("c // 0") == "division by zero"
    assert error("c % 0") == "division by zero"
    assert error("e", e=UNKNOWN) == "e"
    assert evaluate("1", {}) == 1
    with pytest.raises(ExprError, match=r"^unknown parameter 'e' \(known: c, in_channels\)$"):
        evaluate("e + 1", {"c": 1, "in_channels": 3})
    with pytest.raises(ExprError, match=r"^unknown parameter \$d \(known: c\)$"):
        substitute("$d", {"c": 1})
    with pytest.raises(ExprError, match=r"^unknown parameter \$c \(no parameters are defined here\)$"):
        substitute("$c", {})
    assert error("(c +") == "cannot parse expression '(c +'"
    assert error("make_divisible(c)") == "make_divisible takes 2 or 3 arguments (v, divisor[, min_value]), found 1"
    assert error("make_divisible(c, 0)") == "make_divisible needs a divisor >= 1"
    assert error("9" * 31) == "the value has more than 30 digits (the limit)"
    assert error("10 ** 15 * 10 ** 15") == "the value has more than 30 digits (the limit)"
    assert error("9" * 201 + " // 10") == "an intermediate value has more than 200 digits"
    assert error("10 ** 150 * 10 ** 60") == "an intermediate value has more than 200 digits"


def test_depth_and_length_limits() -> None:
    assert ev("-" * (MAX_EXPR_DEPTH - 2) + "1") == 1
    assert error("-" * 60 + "1") == f"expression nests deeper than {MAX_EXPR_DEPTH} levels (the limit)"
    assert error("c + " * 130 + "1") == "expression longer than 500 characters"
    assert error("c +" + " " * 497 + "1") == "expression longer than 500 characters"


def test_substitute_contract() -> None:
    env = {**ENV, "in_channels": UNKNOWN}
    assert substitute(3, env) == 3
    assert substitute(0.5, env) == 0.5
    assert substitute(None, env) is None
    assert substitute("relu", env) == "relu"
    assert substitute("a${c}", env) == "a${c}"  # only interpolate_text replaces inside a longer string
    assert substitute("$stages", env) is ENV["stages"]  # a bound value, as is
    assert substitute(" ${c * 2} ", env) == 16
    assert same(substitute("${w * 2}", env), 1.5)
    with pytest.raises(Unknown):
        substitute("$in_channels", env)
    with pytest.raises(Unknown):
        substitute("${in_channels * 2}", env)
    assert is_expression("$x") and is_expression("${x + 1}") and is_expression(" ${x} ")
    assert not is_expression("x") and not is_expression("a${x}") and not is_expression(3)


def test_interpolate_text() -> None:
    assert interpolate_text("stage${i + 1}", ENV) == "stage2"
    assert interpolate_text("denselayer${i + 1}_${c * 2}", ENV) == "denselayer2_16"
    assert interpolate_text("w${w}", ENV) == "w0.75"
    assert interpolate_text("${1 / 3}", ENV) == "0.3333333333333333"
    assert interpolate_text("${6 / 2}", ENV) == "3.0"
    assert interpolate_text("${1e-5}", ENV) == "1e-05"
    assert interpolate_text("${cfg.width * 2}", ENV) == "2.2"
    assert interpolate_text("${act}-${flag}", ENV) == "relu-True"


# ------------------------------------------------------------------ real numbers


@pytest.mark.parametrize(("text", "expected"), [
    ("0.75", 0.75),
    ("1.1", 1.1),
    ("1e-3", 0.001),
    ("2.5e2", 250.0),
    ("7 / 2", 3.5),
    ("6 / 2", 3.0),  # true division is always real
    ("1 / 3", 0.3333333333333333),
    ("10 / 4", 2.5),
    ("1 + 2.0", 3.0),
    ("0.1 + 0.2", 0.30000000000000004),
    ("0.1 + 0.2 == 0.3", False),
    ("1 == 1.0", True),
    ("1 < 1.5 <= 2", True),
    ("c * w", 6.0),
    ("-w", -0.75),
    ("-0.5 * 2", -1.0),
    ("7 // 2.0", 3.0),
    ("-7.5 // 2", -4.0),
    ("7.5 % 2", 1.5),
    ("-7.5 % 2", 0.5),
    ("2 ** 3", 8),
    ("(-2) ** 3", -8),
    ("-2 ** 2", -4),
    ("0 ** 0", 1),
    ("2 ** -1", 0.5),
    ("2 ** -2", 0.25),
    ("(-2) ** -1", -0.5),
    ("2.0 ** 3", 8.0),
    ("4 ** 0.5", 2.0),
    ("2 ** 0.5", 1.4142135623730951),
    ("2 ** 664 // 2 ** 660", 16),  # 2 ** 664 has 200 digits: the most
    ("1 ** 10 ** 150", 1),
    ("(-1) ** (10 ** 150 + 1)", -1),
    ("0.5 ** 10 ** 150", 0.0),
    ("1e-320", 1e-320),
    ("float(10 ** 29)", 1e29),
    ("w if flag else 1", 0.75),
])
def test_reals(text: str, expected: Any) -> None:
    assert same(ev(text), expected)


def test_real_limits() -> None:
    too_large = "the result is too large for a real number (past about 1.8e308)"
    assert error("1e308 * 10") == too_large
    assert error("-1e308 * 10") == too_large
    assert error("1e308 + 1e308") == too_large
    assert error("2.0 ** 10000") == too_large
    assert error("10 ** 400.0") == too_large
    assert error("2.0 ** 10 ** 150") == too_large
    assert error("1e308 // 1e-308") == too_large
    assert error("1e400") == "the number is too large for a real number (past about 1.8e308)"
    assert error("x + 1", x=float("nan")) == "the result is not a number (nan)"
    assert error("x", x=float("nan")) == "the result is not a number (nan)"
    assert error("x", x=float("inf")) == too_large
    assert error("1e30") == "the value has more than 30 digits (the limit)"
    assert same(ev("1e29"), 1e29)
    assert error("(-8) ** (1 / 3)") == "a negative number to a fractional power has no real value"
    assert error("0 ** -1") == "0 cannot be raised to a negative power"
    assert error("0.0 ** -2") == "0 cannot be raised to a negative power"
    for zero in ("1 / 0", "1.5 / 0", "1 / 0.0", "1.0 // 0.0", "5 % 0.0", "5.5 % 0"):
        assert error(zero) == "division by zero", zero


def test_huge_powers_are_refused_before_computing() -> None:
    start = time.perf_counter()
    for text in ("2 ** 10 ** 9", "10 ** 10 ** 10", "(10 ** 100) ** (10 ** 100)", "2 ** 665", "(-3) ** 1000",
                 "c ** (c ** 20)"):
        assert error(text) == "** would give an integer of more than 200 digits (the limit)", text
    assert time.perf_counter() - start < 1.0


# ------------------------------------------------------------------ functions


@pytest.mark.parametrize(("text", "expected"), [
    ("round(0.5)", 0),
    ("round(1.5)", 2),
    ("round(2.5)", 2),  # ties to even, as Python
    ("round(-2.5)", -2),
    ("round(2.6)", 3),
    ("round(c)", 8),
    ("round(2.675, 2)", 2.67),  # 2.675 is stored as 2.67499999…
    ("round(2.5, 0)", 2.0),
    ("round(1234, -2)", 1200),
    ("round(1250, -2)", 1200),
    ("round(1350, -2)", 1400),
    ("round(7, 1)", 7),
    ("round(0.125, ndigits=2)", 0.12),
    ("round(10 ** 25, -200)", 0),
    ("floor(2.7)", 2),
    ("floor(-0.5)", -1),
    ("floor(3)", 3),
    ("ceil(2.1)", 3),
    ("ceil(-0.5)", 0),
    ("ceil(4.0)", 4),
    ("int(2.7)", 2),
    ("int(-2.7)", -2),
    ("int(c)", 8),
    ("int(flag)", 1),
    ("float(3)", 3.0),
    ("float(False)", 0.0),
    ("float(w)", 0.75),
    ("abs(-2.5)", 2.5),
    ("abs(-c)", 8),
    ("min(3, 1.5)", 1.5),
    ("max(2, 2.0)", 2),  # the first of equals, as Python
    ("max([1, 5, 2])", 5),
    ("min(cfg.kernels)", 3),
    ("max(w)", 0.75),
    ("len(stages)", 2),
    ("len(cfg)", 3),
    ("len([])", 0),
    ("sum([1, 2, 3])", 6),
    ("sum([1, 2.5])", 3.5),
    ("sum([])", 0),
    ("sum(cfg.kernels)", 8),
    ("make_divisible(w * 100, 8)", 72),
])
def test_functions(text: str, expected: Any) -> None:
    assert same(ev(text), expected)


def test_function_errors() -> None:
    assert error("round('a')") == "round() takes a number, found string 'a'"
    assert error("round(flag)") == "round() takes a number, found boolean true"
    assert error("round(1, 2, 3)") == "round takes 1 or 2 arguments (x[, ndigits]: a number, an integer), found 3"
    assert error("round(1.5, 0.5)") == "round's ndigits must be an integer, found number 0.5"
    assert error("round(1.5, 300)") == "round() to 300 digits: at most 200 either way (the limit)"
    assert error("floor(1, 2)") == "floor takes 1 argument (a number), found 2"
    assert error("ceil()") == "ceil takes 1 argument (a number), found 0"
    assert error("floor(stages)") == "floor() takes a number, found a list of 2 items"
    assert error("int('8')") == "int() takes a number or a boolean, found string '8'"
    assert error("float(cfg)") == "float() takes a number or a boolean, found a mapping (keys: width, depth, kernels)"
    assert error("abs(x=1)") == "abs() takes no keyword arguments, found x=: abs takes 1 argument (a number)"
    assert error("min()") == "min takes 1 or more arguments (numbers, or one list of numbers), found 0"
    assert error("max([])") == "max() of an empty list"
    assert error("min([1, 'a'])") == "min() takes numbers, found string 'a'"
    assert error("max(1, stages)") == "max() takes numbers, found a list of 2 items"
    assert error("min(*stages)").startswith("min() takes plain arguments (no * or ** unpacking)")
    assert error("len(3)") == "len() takes a list or a mapping, found 3"
    assert error("len('abc')") == "len() takes a list or a mapping, found string 'abc'"
    assert error("sum(3)") == "sum() takes a list of numbers, found 3"
    assert error("sum([1, flag])") == "sum() takes a list of numbers, found boolean true"
    assert error("sum(xs)", xs=[1e308, 1e308]) == "the result is too large for a real number (past about 1.8e308)"
    assert error("floor(1e300)") == "an intermediate value has more than 200 digits"
    assert error("round(1e300)") == "an intermediate value has more than 200 digits"
    assert error("make_divisible('a', 8)") == "make_divisible's v must be a number, found string 'a'"
    assert error("make_divisible(8, 2.0)") == "make_divisible's divisor must be an integer, found number 2.0"
    assert error("make_divisible(8, 8, 0.5)") == "make_divisible's min_value must be an integer, found number 0.5"
    assert error("make_divisible(8, 8, 4, min_value=4)") == \
        "make_divisible() got min_value twice (by position and by name)"
    assert error("make_divisible(8, 8, 4, 4)") == \
        "make_divisible takes 2 or 3 arguments (v, divisor[, min_value]), found 4"
    assert error("make_divisible(8, divisor=8)") == \
        "make_divisible() takes only min_value= by name, found divisor=: make_divisible takes 2 or 3 arguments " \
        "(v, divisor[, min_value])"
    assert error("make_divisible(1e300, 8)") == "an intermediate value has more than 200 digits"
    assert error("min") == \
        "min is a function, not a parameter: min takes 1 or more arguments (numbers, or one list of numbers)"
    known = "round(), floor(), ceil(), int(), float(), abs(), min(), max(), len(), sum(), make_divisible()"
    assert error("foo(1)") == f"calling foo() is not allowed (only {known})"
    assert error("c.bit_length()") == f"calling a function is not allowed (only {known})"
    assert error("stages[0].get('out')") == f"calling a function is not allowed (only {known})"


def _torchvision_make_divisible(v: float, divisor: int, min_value: int | None = None) -> int:
    """torchvision.models._utils._make_divisible, copied."""
    if min_value is None:
        min_value = divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    # Make sure that round down does not go down by more than 10%.
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


#: (expression, its arguments in Python, the value derived by hand from the formula): the width multipliers
#: of torchvision's EfficientNet (B2 1.1, B3 1.2, B4 1.4, B5 1.6, B6 1.8, B7 2.0), MobileNetV3 (0.75) and MobileNetV2
#: (0.5, 0.35), all with divisor 8.
MAKE_DIVISIBLE = [
    ("make_divisible(32 * 1.1, 8)", (32 * 1.1, 8), 32),    # 35.2 + 4 = 39.2 -> 39 // 8 * 8 = 32 >= 31.68
    ("make_divisible(16 * 0.75, 8)", (16 * 0.75, 8), 16),   # 12.0 + 4 = 16 -> 16; 16 >= 10.8
    ("make_divisible(24 * 0.75, 8)", (24 * 0.75, 8), 24),   # 18 + 4 = 22 -> 16; 16 < 0.9 * 18 = 16.2, so + 8
    ("make_divisible(24 * 1.1, 8)", (24 * 1.1, 8), 24),    # 26.4 + 4 = 30.4 -> 24; 24 >= 23.76
    ("make_divisible(40 * 1.1, 8)", (40 * 1.1, 8), 48),    # 44.000…01 + 4 -> 48
    ("make_divisible(80 * 1.1, 8)", (80 * 1.1, 8), 88),    # 88 + 4 = 92 -> 88
    ("make_divisible(112 * 1.1, 8)", (112 * 1.1, 8), 120),  # 123.2 + 4 = 127.2 -> 120; 120 >= 110.88
    ("make_divisible(192 * 1.1, 8)", (192 * 1.1, 8), 208),  # 211.2 + 4 = 215.2 -> 208; 208 >= 190.08
    ("make_divisible(320 * 1.1, 8)", (320 * 1.1, 8), 352),  # 352 + 4 = 356 -> 352
    ("make_divisible(32 * 1.2, 8)", (32 * 1.2, 8), 40),    # 38.4 + 4 = 42.4 -> 40; 40 >= 34.56
    ("make_divisible(24 * 1.2, 8)", (24 * 1.2, 8), 32),    # 28.8 + 4 = 32.8 -> 32
    ("make_divisible(16 * 1.4, 8)", (16 * 1.4, 8), 24),    # 22.4 + 4 = 26.4 -> 24; 24 >= 20.16
    ("make_divisible(32 * 1.4, 8)", (32 * 1.4, 8), 48),    # 44.8 + 4 = 48.8 -> 48
    ("make_divisible(24 * 1.6, 8)", (24 * 1.6, 8), 40),    # 38.4 + 4 = 42.4 -> 40
    ("make_divisible(40 * 1.6, 8)", (40 * 1.6, 8), 64),    # 64 + 4 = 68 -> 64
    ("make_divisible(16 * 1.8, 8)", (16 * 1.8, 8), 32),    # 28.8 + 4 = 32.8 -> 32
    ("make_divisible(24 * 1.8, 8)", (24 * 1.8, 8), 40),    # 43.2 + 4 = 47.2 -> 40; 40 >= 38.88
    ("make_divisible(40 * 1.8, 8)", (40 * 1.8, 8), 72),    # 72 + 4 = 76 -> 72
    ("make_divisible(32 * 2.0, 8)", (32 * 2.0, 8), 64),
    ("make_divisible(40 * 0.75, 8)", (40 * 0.75, 8), 32),   # 30 + 4 = 34 -> 32
    ("make_divisible(72 * 0.75, 8)", (72 * 0.75, 8), 56),   # 54 + 4 = 58 -> 56; 56 >= 48.6
    ("make_divisible(960 * 0.75, 8)", (960 * 0.75, 8), 720),  # 720 + 4 = 724 -> 720
    ("make_divisible(32 * 0.5, 8)", (32 * 0.5, 8), 16),    # 16 + 4 = 20 -> 16
    ("make_divisible(16 * 0.5, 8)", (16 * 0.5, 8), 8),     # 8 + 4 = 12 -> 8
    ("make_divisible(24 * 0.35, 8)", (24 * 0.35, 8), 8),    # 8.4 + 4 = 12.4 -> 8; 8 >= 7.56
    ("make_divisible(100, 8)", (100, 8), 104),        # 104 -> 104
    ("make_divisible(11, 8)", (11, 8), 16),          # 15 -> 8; 8 < 9.9, so + 8
    ("make_divisible(3, 8)", (3, 8), 8),            # 7 -> 0; at least the divisor
    ("make_divisible(3, 8, 4)", (3, 8, 4), 4),         # at least min_value 4; 4 >= 2.7
    ("make_divisible(3, 8, min_value=1)", (3, 8, 1), 9),  # max(1, 0) = 1 < 2.7, so + 8: torchvision's quirk
    ("make_divisible(240 // 4, 8)", (240 // 4, 8), 64),    # MobileNetV3's squeeze width: 60 + 4 = 64
]


@pytest.mark.parametrize(("text", "args", "expected"), MAKE_DIVISIBLE)
def test_make_divisible_torchvision_widths(text: str, args: tuple[Any, ...], expected: int) -> None:
    assert same(ev(text), expected)
    assert same(make_divisible(*args), expected)
    assert _torchvision_make_divisible(*args) == expected


def test_make_divisible_equals_the_integer_formula_for_integers() -> None:
    """The exact-integer version convcalc had before gives the same on v in 1..5000, divisor 1..64."""
    for divisor in range(1, 65):
        for v in range(1, 5001):
            exact = max(divisor, (2 * v + divisor) // (2 * divisor) * divisor)
            exact += divisor if 10 * exact < 9 * v else 0
            assert make_divisible(v, divisor) == exact == _torchvision_make_divisible(v, divisor), (v, divisor)
    for v in range(1, 300):
        for divisor in range(1, 17):
            for min_value in range(0, 40, 3):
                got = evaluate("make_divisible(v, d, m)", {"v": v, "d": divisor, "m": min_value})
                assert got == _torchvision_make_divisible(v, divisor, min_value), (v, divisor, min_value)


# ------------------------------------------------------------------ lists and mappings


@pytest.mark.parametrize(("text", "expected"), [
    ("stages[i].out", 24),
    ("stages[0]['n']", 1),
    ("stages[-1].out", 24),
    ("stages[-2].out", 16),
    ("stages[i]['se']", True),
    ("cfg.width", 1.1),
    ("cfg['kernels'][1]", 5),
    ("cfg.kernels[-1]", 5),
    ("[c, c * 2]", [8, 16]),
    ("[c, [w, 'a']]", [8, [0.75, "a"]]),
    ("[]", []),
    ("[1, 2][i]", 2),
    ("stages[i] if i < len(stages) else stages[0]", {"out": 24, "n": 2, "se": True}),
    ("cfg if flag else 3", ENV["cfg"]),
    ("2 in [1, 2]", True),
    ("3 not in [1, 2]", True),
    ("'out' in stages[0]", True),
    ("'widht' in stages[0]", False),
    ("[1] in stages[0]", False),
    ("'el' in 'relu'", True),
    ("c in cfg.kernels", False),
    ("stages[0] == stages[-2]", True),
    ("[1, 2] == [1, 2]", True),
    ("len(stages) > 1 and stages[1].se", True),
    ("len(stages) > 5 and stages[5].se", False),  # and stops at the first false operand
    ("i == 1 or stages[9]", True),
    ("not []", True),
])
def test_lists_and_mappings(text: str, expected: Any) -> None:
    assert ev(text) == expected


def test_list_and_mapping_errors() -> None:
    assert error("stages[5]") == "index 5 is out of range for a list of 2 items"
    assert error("stages[-3]") == "index -3 is out of range for a list of 2 items"
    assert error("[c][1]") == "index 1 is out of range for a list of 1 item"
    assert error("stages[1.0]") == "a list index is an integer, found number 1.0"
    assert error("stages[flag]") == "a list index is an integer, found boolean true"
    assert error("stages['out']") == "a list index is an integer, found string 'out'"
    assert error("stages[0].widht") == "the mapping has no key 'widht' (keys: out, n, se)"
    assert error("stages[0]['widht']") == "the mapping has no key 'widht' (keys: out, n, se)"
    assert error("stages[0][0]") == "the mapping has no key 0 (keys: out, n, se)"
    assert error("stages[0][[1]]") == "the mapping has no key a list of 1 item (keys: out, n, se)"
    assert error("m.a", m={}) == "the mapping has no key 'a' (no keys)"
    many = {f"k{n}": n for n in range(25)}
    assert error("m.x", m=many).endswith("k18, k19, … (25 in all))")
    assert error("c[0]") == "only lists and mappings can be indexed, found 8"
    assert error("w[0]") == "only lists and mappings can be indexed, found number 0.75"
    assert error("act[0]") == "only lists and mappings can be indexed, found string 'relu'"
    assert error("c.real") == ".real reads a key of a mapping, found 8"
    assert error("stages.out") == ".out reads a key of a mapping, found a list of 2 items"
    assert error("stages[0:1]") == "slices ([a:b]) are not supported: index one item, stages[i]"
    assert error("stages[0, 1]") == "index with one value, stages[i] (or stages[i][j])"
    assert error("1 in 5") == "in needs a list, a mapping or a string on its right, found 5"
    assert error("1 in 'abc'") == "in needs a list, a mapping or a string on its right, found string 'abc'"
    assert error("[1] + [2]") == "+ needs numbers, found a list of 1 item"
    assert error("[c] * 3") == "* needs numbers, found a list of 1 item"
    assert error("[10 ** 40]") == "an item of a list has more than 30 digits (the limit)"
    assert error("[*stages]") == "unpacking (*) is not allowed in a list"
    assert error("stages[0].x", stages=[{"x": UNKNOWN}]) == "x"
    with pytest.raises(Unknown):
        ev("m['x'] + 1", m={"x": UNKNOWN})


def test_list_size_limit() -> None:
    big = list(range(MAX_LIST_ITEMS + 1))
    assert ev("len(big)", big=big) == MAX_LIST_ITEMS + 1  # reading a long list of the spec is fine
    assert ev("big[-1]", big=big) == MAX_LIST_ITEMS
    limit = f"walks a list of {MAX_LIST_ITEMS + 1} items, more than the limit of {MAX_LIST_ITEMS}"
    assert error("sum(big)", big=big) == f"sum() {limit}"
    assert error("max(big)", big=big) == f"max() {limit}"
    assert error("3 in big", big=big) == f"in {limit}"
    assert ev("sum(big)", big=big[:-1]) == MAX_LIST_ITEMS * (MAX_LIST_ITEMS - 1) // 2


# ------------------------------------------------------------------ refused syntax, safety


@pytest.mark.parametrize(("text", "message"), [
    ("'a' + 1", "+ needs numbers, found string 'a'"),
    ("flag * 2", "* needs numbers, found boolean true"),
    ("True + 1", "+ needs numbers, found boolean true"),
    ("-act", "unary - needs a number, found string 'relu'"),
    ("c < 'a'", "< needs numbers, found string 'a'"),
    ("stages < 3", "< needs numbers, found a list of 2 items"),
    ("1 is 1", "the comparison 'is' is not allowed (use == != < <= > >= in, not in)"),
    ("~1", "operator ~ is not allowed (use + - * / // % **)"),
    ("1 << 2", "operator << is not allowed (use + - * / // % **)"),
    ("c & 1", "operator & is not allowed (use + - * / // % **)"),
    ("None", "None is not allowed: expressions use numbers, lists and mappings (and strings) only"),
    ("1j", "1j is not allowed: expressions use numbers, lists and mappings (and strings) only"),
    ("b'x'", "b'x' is not allowed: expressions use numbers, lists and mappings (and strings) only"),
    ("(1, 2)", "a tuple (a, b) is not allowed in an expression: write a list [a, b]"),
    ("{'a': 1}", "a mapping literal {…} is not allowed in an expression"),
    ("{1}", "a set {…} is not allowed in an expression"),
    ("[x for x in stages]", "a list comprehension is not allowed in an expression"),
    ("lambda: 1", "lambda is not allowed in an expression"),
    ("(y := 1)", "assignment (:=) is not allowed in an expression"),
    ("f'{c}'", "an f-string is not allowed in an expression"),
    ("true", "unknown parameter 'true' (known: act, c, cfg, expansion, flag, i, stages, w, width); booleans are "
             "written True and False"),
])
def test_refused(text: str, message: str) -> None:
    assert error(text) == message


def test_nothing_of_python_is_reachable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for text in ("__import__('os').system('touch pwned')", "open('pwned', 'w')", "().__class__.__bases__",
                 "act.__class__", "stages.__len__", "cfg.__class__", "cfg.items", "min.__self__",
                 "[].__class__", "(c).__class__"):
        with pytest.raises(ExprError):
            ev(text)
    assert error("cfg.__class__") == "the mapping has no key '__class__' (keys: width, depth, kernels)"
    assert list(tmp_path.iterdir()) == []


def test_the_docstring_documents_every_function_and_limit() -> None:
    doc = expr.__doc__ or ""
    for name in ("round", "floor", "ceil", "int", "float", "abs", "min", "max", "len", "sum", "make_divisible"):
        assert f"``{name}(" in doc, name
    for limit in ("500 characters", f"{MAX_EXPR_DEPTH} levels", "200 digits", f"{MAX_LIST_ITEMS:,} items",
                  "10^30", "±200"):
        assert limit in doc, limit


def test_a_mapping_read_from_yaml_has_text_keys_and_an_integer_finds_them() -> None:
    from convcalc.lang.expr import evaluate

    units = {"50": [3, 4, 6, 3], "101": [3, 4, 23, 3]}
    assert evaluate("units[depth]", {"units": units, "depth": 101}) == [3, 4, 23, 3]
    assert evaluate("units['50'][2]", {"units": units}) == 6
