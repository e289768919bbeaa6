"""Merges: nodes with several inputs (``add``, ``concat``, ``mul``), and the channel ``split``.

add and mul take equal shapes, or broadcast an operand of C×1×1 (a gate) or 1×H×W (a spatial map) over
C×H×W; concat takes equal heights and widths and stacks the channels. Costs over the output's C·H·W:
add (n − 1)·CHW adds, mul (n − 1)·CHW muls, concat and split nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

from convcalc.kinds.core import ZERO, Cost, Shape, size

MERGE_KINDS = ("add", "concat", "mul")
#: ``- slice: {from: x, start: a, stop: b}``: channels a … b − 1 of a map (a view; a ``split`` node, as the parts of
#: ``branches: {split: …}`` are)
SLICE = "slice"


class MergeError(ValueError):
    """The inputs of a merge do not fit together."""

    def __init__(self, message: str, hint: str) -> None:
        self.hint = hint
        super().__init__(message)


def broadcasts(operand: Shape, out: Shape) -> bool:
    """Whether ``operand`` broadcasts over ``out`` without being equal: C×1×1 or 1×H×W."""
    return operand != out and (operand == Shape(out.c, 1, 1) or operand == Shape(1, out.h, out.w))


def merge_shape(kind: str, shapes: Sequence[Shape], names: Sequence[str]) -> Shape:
    """The output shape of a merge, or :class:`MergeError` naming every input."""
    listed = ", ".join(f"{n!r} {s}" for n, s in zip(names, shapes, strict=True))
    if kind == "concat":
        if len({(s.h, s.w) for s in shapes}) != 1:
            raise MergeError(f"needs equal heights and widths, found {listed}",
                             "match strides and padding across the branches")
        return Shape(sum(s.c for s in shapes), shapes[0].h, shapes[0].w)
    full = max(shapes, key=size)
    if any(s != full and not broadcasts(s, full) for s in shapes):
        hint = "use a projection shortcut or match strides and channels" if kind == "add" else \
            "the operands must be equal, or C×1×1 or 1×H×W to broadcast over C×H×W"
        raise MergeError(f"needs equal shapes, found {listed}", hint)
    return full


def merge_cost(kind: str, out: Shape, inputs: int) -> Cost:
    """add: adds = (n − 1)·C·H·W; mul: muls = (n − 1)·C·H·W; concat: nothing."""
    if kind == "add":
        return Cost(adds=(inputs - 1) * size(out))
    if kind == "mul":
        return Cost(muls=(inputs - 1) * size(out))
    return ZERO
