"""Receptive-field arithmetic per axis, in input-pixel coordinates.

State per axis: ``size`` r, ``jump`` j (effective stride) and ``start`` (the first input pixel seen by
output index 0; effective padding P = −start, centre = start + (r − 1)/2). Start r = 1, j = 1, start 0.
A window op (k_eff, s, p_begin): r ← r + (k_eff − 1)·j; start ← start − p_begin·j; j ← j·s.
Merges take the union of the windows and need equal jumps. Values are exact: ``int``s, and
``Fraction``s only once transposed convolutions or upsampling divide the jump (ints keep the common
case fast).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction

from convcalc.layers import ConvArgs, Layer, PoolArgs, Shape, SizeArgs
from convcalc.shapes import k_eff, pool_stride, resolve_padding


@dataclass(frozen=True, slots=True)
class AxisOp:
    """How one layer maps windows on one axis.

    mode ``down``: an ordinary sliding window (conv, pool). ``transposed``: a transposed conv with
    stride s (the jump divides). ``up``: upsampling by s that reads k neighbouring inputs.
    """

    k: int = 1
    s: int = 1
    p: int = 0
    mode: str = "down"
    #: dilation: the k-extent window holds taps (k − 1)/d + 1, d apart (for footprints)
    d: int = 1


IDENTITY = AxisOp()

#: An exact value: an int, or a Fraction when the jump has been divided.
Exact = Fraction | int


def _div(a: Exact, b: int) -> Exact:
    """a / b exactly (an int when b divides a)."""
    q = Fraction(a, b)
    return q.numerator if q.denominator == 1 else q


@dataclass(frozen=True, slots=True)
class AxisRF:
    """Receptive field of one output unit on one axis."""

    size: Exact = 1
    jump: Exact = 1
    start: Exact = 0

    @property
    def end(self) -> Exact:
        return self.start + self.size - 1

    @property
    def padding(self) -> Exact:
        """Effective padding P = −start."""
        return -self.start

    @property
    def centre(self) -> Exact:
        d = self.size - 1
        return self.start + (d // 2 if isinstance(d, int) and d % 2 == 0 else Fraction(d, 2))

    def apply(self, op: AxisOp) -> AxisRF:
        """Window op: r ← r + (k − 1)·j; start ← start − p·j; j ← j·s (transposed/up: j ← j/s)."""
        if op.mode == "down":
            if op.k == 1 and op.s == 1 and op.p == 0:  # pointwise: the same window
                return self
            return AxisRF(self.size + (op.k - 1) * self.jump, self.jump * op.s, self.start - op.p * self.jump)
        if op.mode == "transposed":
            # output u reads inputs i with i·s = u + p − t, t in 0..k−1: i ∈ [(u + p − k + 1)/s, (u + p)/s].
            # Those (fractional) bounds hold for every u, so the window is an outer bound for every unit
            # (the exact window of one unit alternates with u mod s and can even be empty).
            return AxisRF(self.size + (op.k - 1) * _div(self.jump, op.s), _div(self.jump, op.s),
                          self.start + (op.p - op.k + 1) * _div(self.jump, op.s))
        return AxisRF(self.size + (op.k - 1) * self.jump, _div(self.jump, op.s), self.start - op.p * self.jump)


RF = tuple[AxisRF, AxisRF]
START: RF = (AxisRF(), AxisRF())


def union(windows: Sequence[AxisRF]) -> AxisRF:
    """Union of aligned windows with one jump (the caller checks the jumps)."""
    lo = min(w.start for w in windows)
    hi = max(w.end for w in windows)
    return AxisRF(hi - lo + 1, windows[0].jump, lo)


def misalignment(windows: Sequence[AxisRF]) -> Exact:
    """Largest centre difference between merged windows (0 when aligned)."""
    centres = [w.centre for w in windows]
    return max(centres) - min(centres)


# ---------------------------------------------------------------- per-kind axis ops


def _conv(layer: Layer, inp: Shape) -> tuple[AxisOp, AxisOp]:
    a = layer.args
    assert isinstance(a, ConvArgs)
    ops = []
    for ax, i in enumerate((inp.h, inp.w)):
        ke = k_eff(a.kernel[ax], a.dilation[ax])
        if layer.kind == "deconv":
            assert a.padding != "same"
            ops.append(AxisOp(ke, a.stride[ax], a.padding[ax][0], "transposed", a.dilation[ax]))
        else:
            pb, _ = resolve_padding(a.padding, ax, i, ke, a.stride[ax])
            ops.append(AxisOp(ke, a.stride[ax], pb, d=a.dilation[ax]))
    return ops[0], ops[1]


def _pool(layer: Layer, inp: Shape) -> tuple[AxisOp, AxisOp]:
    a = layer.args
    assert isinstance(a, PoolArgs)
    s = pool_stride(a)
    ops = []
    for ax, i in enumerate((inp.h, inp.w)):
        ke = k_eff(a.kernel[ax], a.dilation[ax])
        pb, _ = resolve_padding(a.padding, ax, i, ke, s[ax])
        ops.append(AxisOp(ke, s[ax], pb, d=a.dilation[ax]))
    return ops[0], ops[1]


def whole_input(layer: Layer, inp: Shape) -> tuple[AxisOp, AxisOp]:
    """Global pooling and flatten see the whole feature map: a window of its full size."""
    return AxisOp(inp.h, inp.h), AxisOp(inp.w, inp.w)


def _adaptive(layer: Layer, inp: Shape) -> tuple[AxisOp, AxisOp]:
    """Adaptive pooling: nominal window = the largest PyTorch window, stride ⌊i/o⌋ (exact when o divides i)."""
    from convcalc.costs import adaptive_max_window

    a = layer.args
    assert isinstance(a, SizeArgs)
    ops = [AxisOp(adaptive_max_window(i, o), max(1, i // o)) for i, o in zip((inp.h, inp.w), a.size, strict=True)]
    return ops[0], ops[1]


def _point(layer: Layer, inp: Shape) -> tuple[AxisOp, AxisOp]:
    return IDENTITY, IDENTITY


def _upsample(layer: Layer, inp: Shape) -> tuple[AxisOp, AxisOp]:
    a = layer.args
    assert isinstance(a, SizeArgs)
    k = 2 if a.mode == "bilinear" else 1
    return AxisOp(k, a.scale[0], 0, "up"), AxisOp(k, a.scale[1], 0, "up")


RFFn = Callable[[Layer, Shape], tuple[AxisOp, AxisOp]]

#: Receptive-field transfer of every layer kind. ``se`` is pointwise locally; its global gate is added
#: to the full receptive field by the graph.
RECEPTIVE: dict[str, RFFn] = {
    "conv": _conv, "dwconv": _conv, "pwconv": _conv, "separable": _conv, "deconv": _conv, "deform": _conv,
    "maxpool": _pool, "avgpool": _pool,
    "global_avgpool": whole_input, "global_maxpool": whole_input, "adaptive_avgpool": _adaptive,
    "bn": _point, "relu": _point, "relu6": _point, "leaky_relu": _point, "sigmoid": _point, "tanh": _point,
    "gelu": _point, "silu": _point, "hardswish": _point, "hardsigmoid": _point,
    "linear": _point, "flatten": whole_input, "dropout": _point, "identity": _point,
    "channel_shuffle": _point, "se": _point, "upsample": _upsample,
}

#: Kinds whose output depends on the whole input through a side path (full RF ≠ local RF).
GLOBAL_GATES = frozenset({"se"})
#: Kinds whose real receptive field depends on the data.
DATA_DEPENDENT = frozenset({"deform"})
