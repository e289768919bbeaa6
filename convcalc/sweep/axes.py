"""The axes of a sweep and their product: what ``--set NAME=V1,V2``, ``--set NAME=START:STOP:STEP``,
``--size 160:320:32`` and ``--batch 1,8`` mean. Pure, typed, exact: no Typer, no Rich, no printing.

A value list is split at top-level commas (``[1, 2]``, ``{a: 1}`` and quoted text stay whole) and each item is
read as YAML, as a single ``--set`` value is (``0.75`` is a number, ``true`` a boolean, ``[1, 2]`` a list). A
range ``START:STOP:STEP`` (STEP defaults to 1) runs from START by STEP while it has not passed STOP, STOP
included when a step lands on it; it is computed in decimal arithmetic, so ``0.5:1:0.25`` is exactly 0.5,
0.75, 1.0 (each an int when START and STEP are whole, else the float that text reads as). A size is ``H`` or
``HxW``; a size range gives square sizes. The product varies the last axis fastest, as
:func:`itertools.product` does; an axis given twice is an error.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from convcalc.lang.spec import Settings

#: The most configurations one sweep expands to (a typo such as ``1:100000`` is refused, not run).
MAX_CONFIGS = 100_000

SIZE = "size"
BATCH = "batch"
_RANGE = re.compile(r"^\s*(-?[0-9.]+)\s*:\s*(-?[0-9.]+)\s*(?::\s*(-?[0-9.]+)\s*)?$")
_CLOSE = {"[": "]", "{": "}", "(": ")"}


class AxisError(ValueError):
    """An axis that cannot be read: the option, what was found and what was expected."""

    def __init__(self, option: str, found: str, expected: str) -> None:
        self.option, self.found, self.expected = option, found, expected
        super().__init__(f"{option}: expected {expected}, found {found!r}")


@dataclass(frozen=True)
class Axis:
    """One swept quantity: a spec parameter (``--set``), ``size`` or ``batch``, and its values in order."""

    name: str
    values: tuple[Any, ...]
    #: ``set``, ``size`` or ``batch``: which option gave it
    option: str = "set"


@dataclass(frozen=True)
class Config:
    """One configuration of a sweep: the parameters set, the input size and the batch (None: the spec's)."""

    values: tuple[tuple[str, Any], ...] = ()
    size: tuple[int, int] | None = None
    batch: int | None = None

    @property
    def settings(self) -> Settings:
        """What :func:`~convcalc.lang.spec.parse_spec` takes for this configuration."""
        return Settings(dict(self.values), self.size, self.batch)

    def value(self, axis: str) -> Any:
        """The value of one axis (``size`` is ``(h, w)``; None where the spec's own applies)."""
        if axis == SIZE:
            return self.size
        if axis == BATCH:
            return self.batch
        return dict(self.values).get(axis)

    def label(self, axes: Sequence[str] | None = None) -> str:
        """``width=0.75 size=224`` over the given axes (all set ones by default)."""
        names = list(axes) if axes is not None else [n for n, _ in self.values] + \
            [a for a in (SIZE, BATCH) if self.value(a) is not None]
        return " ".join(f"{a}={shown_value(self.value(a))}" for a in names)


def shown_value(v: Any) -> str:
    """A configuration value as the command line writes it: ``224`` or ``240x320`` for a size, YAML-ish text."""
    if isinstance(v, tuple) and len(v) == 2 and all(isinstance(x, int) for x in v):
        return str(v[0]) if v[0] == v[1] else f"{v[0]}x{v[1]}"
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def split_items(text: str) -> list[str]:
    """Split at top-level commas: brackets, braces and quotes keep their commas."""
    items, depth, quote, start = [], [], "", 0
    for i, ch in enumerate(text):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch in _CLOSE:
            depth.append(_CLOSE[ch])
        elif depth and ch == depth[-1]:
            depth.pop()
        elif ch == "," and not depth:
            items.append(text[start:i])
            start = i + 1
    items.append(text[start:])
    return [s.strip() for s in items]


def _decimal(text: str, option: str, whole: str) -> Decimal:
    try:
        return Decimal(text)
    except InvalidOperation:
        raise AxisError(option, whole, "START:STOP[:STEP] with numbers (e.g. 160:320:32 or 0.5:1.0:0.25)") from None


def number_range(text: str, option: str) -> list[int | float] | None:
    """The values of ``START:STOP[:STEP]`` (None when ``text`` is not a range); :class:`AxisError` when it is one
    that gives no value, a zero step, or more than :data:`MAX_CONFIGS` values."""
    m = _RANGE.match(text)
    if m is None:
        return None
    start, stop = _decimal(m[1], option, text), _decimal(m[2], option, text)
    step = _decimal(m[3], option, text) if m[3] is not None else Decimal(1)
    if step == 0:
        raise AxisError(option, text, "a non-zero STEP")
    if (stop - start) * step < 0:
        raise AxisError(option, text, f"a STEP that goes from {m[1]} towards {m[2]}")
    count = int((stop - start) / step) + 1
    if count > MAX_CONFIGS:
        raise AxisError(option, text, f"at most {MAX_CONFIGS:,} values")
    whole = start == start.to_integral_value() and step == step.to_integral_value()
    out: list[int | float] = []
    for i in range(count):
        v = start + i * step
        out.append(int(v) if whole else float(str(v)))
    return out


def _yaml_value(text: str) -> Any:
    from convcalc.lang.spec import parse_setting

    return parse_setting("v=" + text)[1]


def _items(text: str, option: str, single: Callable[[str], Any]) -> list[Any]:
    """The values of a list whose items are single values (read by ``single``) or ranges."""
    items = split_items(text)
    if len(items) > 1 and any(not s for s in items):
        raise AxisError(option, text, "values between the commas (e.g. 0.5,0.75,1.0)")
    out: list[Any] = []
    for item in items:
        values = number_range(item, option)
        out += [single(item)] if values is None else values
    if len(out) > MAX_CONFIGS:
        raise AxisError(option, text, f"at most {MAX_CONFIGS:,} values")
    return out


def parameter_axis(text: str) -> Axis:
    """``NAME=V1,V2,…``, ``NAME=START:STOP[:STEP]`` or a list of both (one value is an axis of one)."""
    name, sep, rest = text.partition("=")
    if not sep or not name.strip() or not rest.strip():
        raise AxisError("--set", text, "NAME=VALUE, NAME=V1,V2,… or NAME=START:STOP:STEP (e.g. width=0.5,0.75,1.0)")
    option = f"--set {name.strip()}"
    items = split_items(rest)
    return Axis(name.strip(), tuple(_items(rest, option, _yaml_value) if len(items) > 1 or number_range(
        rest, option) is not None else [_yaml_value(rest)]))


_SIZES = "H, HxW, a list (160,224,240x320) or a range START:STOP:STEP (square sizes) of positive integers"


def size_axis(text: str) -> Axis:
    """``--size``: ``224``, ``240x320``, ``160,224,240x320``, ``160:320:32`` (square sizes), or a list of these."""
    def single(item: str) -> tuple[int, int]:
        parts = item.lower().replace("×", "x").split("x")
        if len(parts) not in (1, 2) or not all(p.strip().isdigit() and int(p) > 0 for p in parts):
            raise AxisError("--size", text, _SIZES)
        return int(parts[0]), int(parts[-1])

    out = []
    for v in _items(text, "--size", single):
        if isinstance(v, tuple):
            out.append(v)
        elif isinstance(v, int) and v > 0:
            out.append((v, v))
        else:
            raise AxisError("--size", text, _SIZES)
    return Axis(SIZE, tuple(out), "size")


def batch_axis(text: str) -> Axis:
    """``--batch``: ``8``, ``1,8,32``, ``1:64:8``, or a list of these."""
    out = []
    for v in _items(text, "--batch", lambda s: s):
        s = str(v).strip()
        if not (s.isascii() and s.isdigit()) or int(s) < 1:
            raise AxisError("--batch", text, "positive integers: N, a list (1,8,32) or a range (1:64:8)")
        out.append(int(s))
    return Axis(BATCH, tuple(out), "batch")


def parse_axes(sets: Sequence[str] = (), size: str | None = None, batch: str | None = None) -> list[Axis]:
    """The axes of the command line's ``--set`` (each), ``--size`` and ``--batch``, in that order."""
    axes = [parameter_axis(s) for s in sets]
    seen: set[str] = set()
    for a in axes:
        if a.name in seen:
            raise AxisError("--set", a.name, "each parameter once (give its values as a list: NAME=V1,V2)")
        seen.add(a.name)
    if size is not None:
        axes.append(size_axis(size))
    if batch is not None:
        axes.append(batch_axis(batch))
    return axes


def grid(axes: Sequence[Axis]) -> list[Config]:
    """Every configuration of the axes' product (one, with nothing set, when there are no axes); the last axis
    varies fastest. :class:`AxisError` beyond :data:`MAX_CONFIGS` configurations."""
    total = 1
    for a in axes:
        total *= len(a.values)
    if total > MAX_CONFIGS:
        raise AxisError("--set/--size/--batch", " × ".join(str(len(a.values)) for a in axes),
                        f"at most {MAX_CONFIGS:,} configurations in all")
    out = []
    for combo in itertools.product(*(a.values for a in axes)):
        values, size, batch = [], None, None
        for a, v in zip(axes, combo, strict=True):
            if a.option == "size":
                size = v
            elif a.option == "batch":
                batch = v
            else:
                values.append((a.name, v))
        out.append(Config(tuple(values), size, batch))
    return out


def swept(axes: Sequence[Axis]) -> list[str]:
    """The names of the axes with more than one value (all of them when none has)."""
    many = [a.name for a in axes if len(a.values) > 1]
    return many or [a.name for a in axes]
