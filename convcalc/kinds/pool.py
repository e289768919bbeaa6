"""Pooling: maxpool, avgpool, global_avgpool, global_maxpool, adaptive_avgpool, adaptive_maxpool.

Notation: O = H_out·W_out, K = k_h·k_w, C = channels. Shape: the sliding-window rule with PyTorch's
ceil_mode (the last window must start inside the input or the left padding); padding ≤ kernel // 2.
Adaptive windows on one axis: [⌊k·i/o⌋, ⌈(k+1)·i/o⌉) for k in 0..o−1 (PyTorch's).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, NamedTuple

from convcalc.kinds.core import (
    AXES,
    Cost,
    Kind,
    Layer,
    LayerShapeError,
    Shape,
    area,
    axis_out,
    k_eff,
    paddings,
    register,
    window_reads,
)
from convcalc.kinds.layout import elementwise, formatted
from convcalc.kinds.reads import AxisReads, adaptive, whole
from convcalc.kinds.steps import INT64, Program, Run, Step, T, count, new, saves_input, saves_nothing
from convcalc.kinds.values import Padding, Pair, boolean, padding, pos_pair

if TYPE_CHECKING:
    from torch import nn


class PoolArgs(NamedTuple):
    kernel: Pair = (1, 1)
    stride: Pair | None = None
    padding: Padding = ((0, 0), (0, 0))
    dilation: Pair = (1, 1)
    ceil_mode: bool = False
    count_include_pad: bool = True


class AdaptiveArgs(NamedTuple):
    size: Pair = (1, 1)


class GlobalArgs(NamedTuple):
    """Global pooling takes no arguments."""


def pool_stride(a: PoolArgs) -> tuple[int, int]:
    """A pool's stride defaults to its kernel."""
    return a.stride if a.stride is not None else a.kernel


# ---------------------------------------------------------------- shape


def pool_shape(layer: Layer, inp: Shape) -> Shape:
    """Sliding-window output size per axis (ceil_mode as PyTorch); padding at most half the kernel."""
    a = layer.args
    assert isinstance(a, PoolArgs)
    s = pool_stride(a)
    if a.padding != "same":
        for ax in (0, 1):
            if max(a.padding[ax]) * 2 > a.kernel[ax]:
                raise LayerShapeError(
                    f"pool padding {max(a.padding[ax])} is more than half the kernel on the {AXES[ax]} axis",
                    "PyTorch requires padding <= kernel // 2 for pooling")
    h, w = (axis_out(a.kernel[ax], s[ax], a.dilation[ax], a.padding, ax, i, a.ceil_mode)
            for ax, i in enumerate((inp.h, inp.w)))
    return Shape(inp.c, h, w)


def global_shape(layer: Layer, inp: Shape) -> Shape:
    """C×H×W → C×1×1."""
    return Shape(inp.c, 1, 1)


def adaptive_shape(layer: Layer, inp: Shape) -> Shape:
    """C×H×W → C×size."""
    a = layer.args
    assert isinstance(a, AdaptiveArgs)
    return Shape(inp.c, a.size[0], a.size[1])


# ---------------------------------------------------------------- cost


def maxpool_cost(layer: Layer, inp: Shape, out: Shape) -> Cost:
    """Max pool: cmps = O·C·(K − 1)."""
    a = layer.args
    assert isinstance(a, PoolArgs)
    return Cost(cmps=area(out) * out.c * (a.kernel[0] * a.kernel[1] - 1))


def avgpool_cost(layer: Layer, inp: Shape, out: Shape) -> Cost:
    """Average pool: adds = O·C·(K − 1), divs = O·C."""
    a = layer.args
    assert isinstance(a, PoolArgs)
    return Cost(adds=area(out) * out.c * (a.kernel[0] * a.kernel[1] - 1), divs=area(out) * out.c)


def global_avgpool_cost(layer: Layer, inp: Shape, out: Shape) -> Cost:
    """Global average pool: adds = C·(H·W − 1), divs = C."""
    return Cost(adds=inp.c * (area(inp) - 1), divs=inp.c)


def global_maxpool_cost(layer: Layer, inp: Shape, out: Shape) -> Cost:
    """Global max pool: cmps = C·(H·W − 1)."""
    return Cost(cmps=inp.c * (area(inp) - 1))


def adaptive_windows(i: int, o: int) -> list[int]:
    """PyTorch adaptive pooling windows on one axis: [⌊k·i/o⌋, ⌈(k+1)·i/o⌉) for k in 0..o−1."""
    return [-(-((k + 1) * i) // o) - (k * i) // o for k in range(o)]


def adaptive_taps(i: int, o: int) -> int:
    """Σ of :func:`adaptive_windows` in O(1): i + o − gcd(i, o).

    Σ⌈(k+1)·i/o⌉ − Σ⌊k·i/o⌋ over k in 0..o−1 telescopes to i plus the number of k in 1..o with o ∤ k·i,
    which is o − gcd(i, o). (A loop over o would hang on a 10^9-pixel output.)
    """
    return i + o - math.gcd(i, o)


def adaptive_avgpool_cost(layer: Layer, inp: Shape, out: Shape) -> Cost:
    """Adaptive average pool: adds = C·(Σ window sizes − O), divs = C·O (windows as PyTorch computes them)."""
    taps = adaptive_taps(inp.h, out.h) * adaptive_taps(inp.w, out.w)
    return Cost(adds=out.c * (taps - area(out)), divs=out.c * area(out))


def adaptive_maxpool_cost(layer: Layer, inp: Shape, out: Shape) -> Cost:
    """Adaptive max pool: cmps = C·(Σ window sizes − O) (windows as PyTorch computes them)."""
    taps = adaptive_taps(inp.h, out.h) * adaptive_taps(inp.w, out.w)
    return Cost(cmps=out.c * (taps - area(out)))


# ---------------------------------------------------------------- receptive field


def pool_rf(layer: Layer, inp: Shape) -> AxisReads:
    """A sliding window (k taps d apart, stride s, p_begin) per axis, each tap 1/K (a max pool's linear
    stand-in)."""
    a = layer.args
    assert isinstance(a, PoolArgs)
    return window_reads(a.kernel, pool_stride(a), a.padding, a.dilation, inp)


def whole_input(layer: Layer, inp: Shape) -> AxisReads:
    """Global pooling and flatten see the whole feature map: unit 0 reads all of it."""
    return whole(inp.h), whole(inp.w)


def adaptive_rf(layer: Layer, inp: Shape) -> AxisReads:
    """Adaptive pooling: unit k reads PyTorch's window [⌊k·i/o⌋, ⌈(k+1)·i/o⌉) (periodic: o/g units, i/g
    pixels, g = gcd(i, o))."""
    a = layer.args
    assert isinstance(a, AdaptiveArgs)
    return adaptive(inp.h, a.size[0]), adaptive(inp.w, a.size[1])


# ---------------------------------------------------------------- PyTorch


def pool_torch(layer: Layer, inp: Shape, out: Shape, probe: bool) -> nn.Module:
    """Max/average pooling with convcalc's geometry (see ``torch_modules.Pool``)."""
    from convcalc.kinds.torch_modules import Pool

    return Pool(layer, inp, out, probe)


def global_torch(layer: Layer, inp: Shape, out: Shape, probe: bool) -> nn.Module:
    """Mean or amax over H and W (the probe sums a max pool's every tap: a mean)."""
    from convcalc.kinds.torch_modules import GlobalPool

    return GlobalPool(layer.kind == "global_maxpool" and not probe)


def adaptive_torch(layer: Layer, inp: Shape, out: Shape, probe: bool) -> nn.Module:
    """``nn.AdaptiveAvgPool2d`` / ``nn.AdaptiveMaxPool2d`` (the probe averages: every tap gets gradient)."""
    from torch import nn

    a = layer.args
    assert isinstance(a, AdaptiveArgs)
    if layer.kind == "adaptive_maxpool" and not probe:
        return nn.AdaptiveMaxPool2d(a.size)
    return nn.AdaptiveAvgPool2d(a.size)


# ---------------------------------------------------------------- memory


def pool_memory(layer: Layer, inp: Shape, out: Shape, run: Run) -> Program:
    """maxpool: ``max_pool2d_with_indices``, which returns int64 indices beside its result (O·C of them;
    saved for backward with the input in training, dropped at once at inference); avgpool saves its input.
    Padding PyTorch cannot take natively (asymmetric, TF ``same``, more than kernel // 2) pads first: a copy
    of (o − 1)·s + k_eff per axis, saved instead of the input; an average pool then divides by the taps
    counted (a new result; the divisor, an O-sized constant, is saved). Strides: each result (the padded
    copy's too) in its input's suggested format; the division's TensorIterator's."""
    a = layer.args
    assert isinstance(a, PoolArgs)
    b = run.batch
    n_out = count(*out, b)
    s = pool_stride(a)
    pads = paddings(a.padding, inp, a.kernel, s, a.dilation)
    native = a.padding != "same" and all(pb == pe and pb <= k // 2 for (pb, pe), k in zip(pads, a.kernel,
                                                                                             strict=True))
    steps: list[Step] = []
    src = 0
    operand, sizes = run.source(inp), (b, *out)
    if not native:
        lengths = [(o - 1) * s[ax] + k_eff(a.kernel[ax], a.dilation[ax]) for ax, o in enumerate((out.h, out.w))]
        steps.append(Step((0,), new(count(inp.c, lengths[0], lengths[1], b))))
        src = 1
        padded = (b, inp.c, lengths[0], lengths[1])
        operand = (padded, formatted(padded, operand))
    layout = formatted(sizes, operand)
    if layer.kind == "maxpool":
        indices = T(n_out, INT64)
        steps.append(Step((src,), new(n_out), (src, indices)) if run.train else
                     Step((src,), new(n_out), temps=(indices,)))
        return Program(tuple(steps), layout=layout)
    steps.append(Step((src,), new(n_out), (src,)))
    if not native:
        steps.append(Step((len(steps),), new(n_out), (T(out.h * out.w, buffer=True),)))
        layout = elementwise(sizes, (sizes, layout), ((1, 1, out.h, out.w), ()))
    return Program(tuple(steps), layout=layout)


def global_memory(layer: Layer, inp: Shape, out: Shape, run: Run) -> Program:
    """global_avgpool: a mean over H and W, which saves nothing; global_maxpool: ``nn.AdaptiveMaxPool2d(1)``,
    whose op returns int64 indices (N·C) beside its result: saved with the input in training, dropped at
    once at inference. Strides: the input's suggested format (``nn.AdaptiveAvgPool2d(1)``'s mean is restrided
    to channels last where its input suggests it)."""
    n_out = count(*out, run.batch)
    layout = formatted((run.batch, *out), run.source(inp))
    if layer.kind == "global_maxpool":
        indices = T(n_out, INT64)
        return Program((Step((0,), new(n_out), (0, indices)) if run.train else
                        Step((0,), new(n_out), temps=(indices,)),), layout=layout)
    return saves_nothing(n_out, layout=layout)


def adaptive_memory(layer: Layer, inp: Shape, out: Shape, run: Run) -> Program:
    """adaptive_avgpool to 1×1 is a mean (saves nothing), to any other size it saves its input;
    adaptive_maxpool saves its input and int64 indices (O·C; dropped at once at inference). Strides: the
    input's suggested format."""
    a = layer.args
    assert isinstance(a, AdaptiveArgs)
    n_out = count(*out, run.batch)
    layout = formatted((run.batch, *out), run.source(inp))
    if layer.kind == "adaptive_maxpool":
        indices = T(n_out, INT64)
        return Program((Step((0,), new(n_out), (0, indices)) if run.train else
                        Step((0,), new(n_out), temps=(indices,)),), layout=layout)
    if tuple(a.size) == (1, 1):
        return saves_nothing(n_out, layout=layout)
    return saves_input(n_out, layout=layout)


_WINDOW = {"kernel": pos_pair, "stride": pos_pair, "padding": padding}

register(
    Kind("maxpool", PoolArgs, {**_WINDOW, "dilation": pos_pair, "ceil_mode": boolean}, ("kernel",), "max pooling",
         "pool", pool_shape, maxpool_cost, pool_rf, pool_torch, pool_like=True, memory=pool_memory),
    Kind("avgpool", PoolArgs, {**_WINDOW, "ceil_mode": boolean, "count_include_pad": boolean}, ("kernel",),
         "average pooling", "pool", pool_shape, avgpool_cost, pool_rf, pool_torch, pool_like=True,
         memory=pool_memory),
    Kind("global_avgpool", GlobalArgs, {}, (), "global average pooling", "pool", global_shape, global_avgpool_cost,
         whole_input, global_torch, memory=global_memory),
    Kind("global_maxpool", GlobalArgs, {}, (), "global max pooling", "pool", global_shape, global_maxpool_cost,
         whole_input, global_torch, memory=global_memory),
    Kind("adaptive_avgpool", AdaptiveArgs, {"size": pos_pair}, ("size",), "adaptive average pooling", "pool",
         adaptive_shape, adaptive_avgpool_cost, adaptive_rf, adaptive_torch,
         memory=adaptive_memory),
    Kind("adaptive_maxpool", AdaptiveArgs, {"size": pos_pair}, ("size",), "adaptive max pooling", "pool",
         adaptive_shape, adaptive_maxpool_cost, adaptive_rf, adaptive_torch,
         memory=adaptive_memory),
)
