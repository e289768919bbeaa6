"""Convolutions: conv, dwconv, pwconv, separable, deconv (transposed) and deform (deformable v1/v2).

Notation: O = H_out·W_out, I = H_in·W_in, K = k_h·k_w, g = groups, β = 1 with bias.
Shape: o = ⌊(i + p_begin + p_end − k_eff)/s⌋ + 1; transposed: o = (i − 1)·s − p_begin − p_end + k_eff +
output_padding. Receptive field: a sliding window (k_eff, s, p_begin); transposed divides the jump.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from convcalc.kinds.core import (
    AXES,
    Cost,
    CostFn,
    Kind,
    Layer,
    LayerShapeError,
    Parser,
    Shape,
    area,
    axis_out,
    paddings,
    register,
    window_reads,
)
from convcalc.kinds.layout import Strides, canonical, convolved, formatted, strides
from convcalc.kinds.reads import AxisReads, Channels, transposed
from convcalc.kinds.steps import Program, Run, Step, count, low, new, padded_first
from convcalc.kinds.values import Padding, Pair, boolean, nonneg_pair, one_of, padding, pos_pair, positive

if TYPE_CHECKING:
    from torch import nn


class ConvArgs(NamedTuple):
    """conv, dwconv, pwconv, separable, deconv, deform."""

    out: int | None = None
    kernel: Pair = (1, 1)
    stride: Pair = (1, 1)
    padding: Padding = ((0, 0), (0, 0))
    dilation: Pair = (1, 1)
    groups: int = 1
    bias: bool = True
    output_padding: Pair = (0, 0)
    multiplier: int = 1
    offset_groups: int = 1
    version: int = 1


def conv_channels(layer: Layer, inp: Shape) -> tuple[int, int, int]:
    """(C_in, C_out, groups) of a conv-like layer, with depthwise resolved against the input."""
    a = layer.args
    assert isinstance(a, ConvArgs)
    if layer.kind == "dwconv":
        return inp.c, inp.c * a.multiplier, inp.c
    assert a.out is not None
    return inp.c, a.out, a.groups


def separable_mid(layer: Layer, inp: Shape) -> int:
    """Channels between a separable conv's depthwise and pointwise parts: C_in·multiplier."""
    a = layer.args
    assert isinstance(a, ConvArgs)
    return inp.c * a.multiplier


# ---------------------------------------------------------------- shape


def conv_shape(layer: Layer, inp: Shape) -> Shape:
    """Output shape of every convolution (groups must divide C_in and C_out)."""
    a = layer.args
    assert isinstance(a, ConvArgs)
    cin, cout, g = conv_channels(layer, inp)
    if cin % g or cout % g:
        raise LayerShapeError(
            f"groups {g} must divide the input channels {cin} and the output channels {cout}",
            "choose groups that divide both channel counts")
    if layer.kind == "deform" and cin % a.offset_groups:
        raise LayerShapeError(f"offset_groups {a.offset_groups} must divide the input channels {cin}",
                              "torchvision's deform_conv2d requires it")
    if layer.kind == "deconv":
        return _deconv_shape(a, inp, cout)
    return Shape(cout, axis_out(a.kernel[0], a.stride[0], a.dilation[0], a.padding, 0, inp.h),
                 axis_out(a.kernel[1], a.stride[1], a.dilation[1], a.padding, 1, inp.w))


def _deconv_shape(a: ConvArgs, inp: Shape, cout: int) -> Shape:
    """Transposed: o = (i − 1)·s − p_begin − p_end + d·(k − 1) + output_padding + 1."""
    if a.padding == "same":
        raise LayerShapeError("padding 'same' is not supported for deconv", "give explicit padding")
    dims = []
    for ax, i in enumerate((inp.h, inp.w)):
        pb, pe = a.padding[ax]
        op = a.output_padding[ax]
        if op >= max(a.stride[ax], a.dilation[ax]):
            raise LayerShapeError(
                f"output_padding {op} must be smaller than the stride or the dilation on the {AXES[ax]} axis",
                "output_padding only picks among the output sizes a stride allows (as in PyTorch)")
        o = (i - 1) * a.stride[ax] - pb - pe + a.dilation[ax] * (a.kernel[ax] - 1) + op + 1
        if o < 1:
            raise LayerShapeError(f"output size {o} on the {AXES[ax]} axis is less than 1", "reduce the padding")
        dims.append(o)
    return Shape(cout, dims[0], dims[1])


# ---------------------------------------------------------------- cost


def conv_cost(cin: int, cout: int, groups: int, kh: int, kw: int, out_area: int, bias: bool) -> Cost:
    """Convolution: params = C_out·(C_in/g)·K + β·C_out; macs = O·C_out·(C_in/g)·K; adds = β·O·C_out."""
    per_out = (cin // groups) * kh * kw
    b = cout if bias else 0
    return Cost(params=cout * per_out + b, macs=out_area * cout * per_out, adds=b * out_area)


def _conv_cost(layer: Layer, inp: Shape, out: Shape) -> Cost:
    """conv / dwconv (g = C_in, C_out = C_in·multiplier) / pwconv (K = 1): see :func:`conv_cost`."""
    a = layer.args
    assert isinstance(a, ConvArgs)
    cin, cout, g = conv_channels(layer, inp)
    return conv_cost(cin, cout, g, a.kernel[0], a.kernel[1], area(out), a.bias)


def separable_cost(layer: Layer, inp: Shape, out: Shape) -> Cost:
    """Depthwise-separable with depth multiplier m: depthwise k×k (C_in → m·C_in, g = C_in) then pointwise
    1×1 (m·C_in → C_out); bias (if any) on both.

    params = m·C_in·K + m·C_in·C_out (+ β·(m·C_in + C_out)); macs = O·m·C_in·K + O·m·C_in·C_out.
    """
    a = layer.args
    assert isinstance(a, ConvArgs) and a.out is not None
    mid = separable_mid(layer, inp)
    dw = conv_cost(inp.c, mid, inp.c, a.kernel[0], a.kernel[1], area(out), a.bias)
    return dw + conv_cost(mid, a.out, 1, 1, 1, area(out), a.bias)


def deconv_cost(layer: Layer, inp: Shape, out: Shape) -> Cost:
    """Transposed conv: params = C_in·(C_out/g)·K + β·C_out; macs = I·C_in·(C_out/g)·K (input side);
    adds = β·O·C_out."""
    a = layer.args
    assert isinstance(a, ConvArgs) and a.out is not None
    per_in = (a.out // a.groups) * a.kernel[0] * a.kernel[1]
    b = a.out if a.bias else 0
    return Cost(params=inp.c * per_in + b, macs=area(inp) * inp.c * per_in, adds=b * area(out))


def deform_cost(layer: Layer, inp: Shape, out: Shape) -> Cost:
    """Deformable conv (v1/v2, offset groups G): main conv + offset conv (C_in → 2·G·K, v2: 3·G·K, with
    bias, same kernel/stride/padding/dilation) + bilinear sampling 4·O·K·C_in MACs.
    v2 also: sigmoid on the mask (special O·G·K) and the modulation (muls O·K·C_in)."""
    a = layer.args
    assert isinstance(a, ConvArgs) and a.out is not None
    kk = a.kernel[0] * a.kernel[1]
    o = area(out)
    per_tap = 3 if a.version == 2 else 2
    main = conv_cost(inp.c, a.out, a.groups, a.kernel[0], a.kernel[1], o, a.bias)
    offsets = conv_cost(inp.c, per_tap * a.offset_groups * kk, 1, a.kernel[0], a.kernel[1], o, True)
    sampling = Cost(macs=4 * o * kk * inp.c)
    if a.version == 2:
        sampling = sampling + Cost(special=o * a.offset_groups * kk, muls=o * kk * inp.c)
    return main + offsets + sampling


# ---------------------------------------------------------------- receptive field


def conv_rf(layer: Layer, inp: Shape) -> AxisReads:
    """A sliding window of k taps d apart, stride s, p_begin per axis (separable: its depthwise window);
    deconv: the transposed map (unit u reads every v with v·s + t·d − p_begin = u)."""
    a = layer.args
    assert isinstance(a, ConvArgs)
    if layer.kind != "deconv":
        return window_reads(a.kernel, a.stride, a.padding, a.dilation, inp)
    assert a.padding != "same"
    h, w = (transposed(a.kernel[ax], a.stride[ax], a.padding[ax][0], a.dilation[ax]) for ax in (0, 1))
    return h, w


def conv_channels_rule(layer: Layer, inp: Shape) -> Channels:
    """Output group j of g reads input group j (separable: every channel, through its pointwise part)."""
    if layer.kind == "separable":
        return Channels("groups", 1)
    return Channels("groups", conv_channels(layer, inp)[2])


# ---------------------------------------------------------------- PyTorch


def conv_torch(layer: Layer, inp: Shape, out: Shape, probe: bool) -> nn.Module:
    """``nn.Conv2d`` (zero-padded first where the padding is asymmetric or SAME), ``nn.ConvTranspose2d``
    (cropped where asymmetric), two convs for separable, a reference deformable conv."""
    from torch import nn

    from convcalc.kinds import torch_modules as tm

    a = layer.args
    assert isinstance(a, ConvArgs)
    cin, cout, groups = conv_channels(layer, inp)
    if layer.kind == "deconv":
        assert a.padding != "same"
        (pt, pb), (pl, pr) = a.padding
        if pt == pb and pl == pr:
            return nn.ConvTranspose2d(cin, cout, a.kernel, a.stride, (pt, pl), a.output_padding, groups, a.bias,
                                      a.dilation)
        full = nn.ConvTranspose2d(cin, cout, a.kernel, a.stride, 0, a.output_padding, groups, a.bias, a.dilation)
        return tm.CroppedTransposed(full, a.padding)
    kernel = (1, 1) if layer.kind == "pwconv" else a.kernel
    dilation = (1, 1) if layer.kind == "pwconv" else a.dilation
    pads = tm.resolve(a.padding, inp, kernel, a.stride, dilation)
    if layer.kind == "deform":
        return tm.DeformConv(cin, cout, a, pads, probe)
    if layer.kind == "separable":
        mid = separable_mid(layer, inp)
        return nn.Sequential(tm.padded_conv(cin, mid, kernel, a.stride, pads, dilation, cin, a.bias),
                             nn.Conv2d(mid, cout, 1, 1, 0, 1, 1, a.bias))
    return tm.padded_conv(cin, cout, kernel, a.stride, pads, dilation, groups, a.bias)


# ---------------------------------------------------------------- memory


def conv_memory(layer: Layer, inp: Shape, out: Shape, run: Run) -> Program:
    """One convolution, which saves its input (and its weight, a parameter). With padding that differs
    between the ends of an axis (asymmetric, or TF ``same`` resolved so), PyTorch pads first (``nn.ZeroPad2d``:
    a padded copy C×(H + p_t + p_b)×(W + p_l + p_r), which the conv saves instead). separable: the depthwise
    result (C·m channels) is a tensor of its own, saved by the pointwise conv. deconv with asymmetric padding:
    the full output (H_out + p_t + p_b, …) is computed and cropped (a view). deform (torchvision's
    ``deform_conv2d``): the offset conv (2·G·K channels, v2 also a mask conv of G·K channels and its sigmoid)
    then the sampling conv, which saves its input, offsets and mask. Under autocast every conv runs in the
    low dtype (its weight cast and saved, its bias cast); the padding runs in its input's dtype. The
    result's strides: :func:`conv_layout`."""
    a = layer.args
    assert isinstance(a, ConvArgs)
    b = run.batch
    layout = conv_layout(layer, inp, out, run)
    n_out = count(*out, b)
    bias = 1 if a.bias else 0
    if layer.kind == "deconv":
        assert a.padding != "same"
        (pt, pb), (pl, pr) = a.padding
        weight = inp.c * (out.c // a.groups) * a.kernel[0] * a.kernel[1]
        if pt == pb and pl == pr:
            return Program((low(Step((0,), new(n_out), (0,), weights=True), weight, bias * out.c),), 1 + bias,
                           layout=layout)
        full = new(count(out.c, out.h + pt + pb, out.w + pl + pr, b))
        return Program((low(Step((0,), full, (0,), weights=True), weight, bias * out.c), Step((1,), 1)), 1 + bias,
                       layout=layout)
    kernel = (1, 1) if layer.kind == "pwconv" else a.kernel
    dilation = (1, 1) if layer.kind == "pwconv" else a.dilation
    pads = paddings(a.padding, inp, kernel, a.stride, dilation)
    steps: list[Step] = []
    src = 0
    if padded_first(pads):
        (pt, pb), (pl, pr) = pads
        steps.append(Step((0,), new(count(inp.c, inp.h + pt + pb, inp.w + pl + pr, b))))
        src = 1
    kk = kernel[0] * kernel[1]
    if layer.kind == "separable":
        mid = separable_mid(layer, inp)
        steps.append(low(Step((src,), new(count(mid, out.h, out.w, b)), (src,), weights=True), mid * kk, bias * mid))
        steps.append(low(Step((len(steps),), new(n_out), (len(steps),), weights=True), out.c * mid, bias * out.c))
        return Program(tuple(steps), 2 + 2 * bias, layout=layout)
    cin, cout, groups = conv_channels(layer, inp)
    if layer.kind == "deform":
        offsets = 2 * a.offset_groups * kk
        steps.append(low(Step((src,), new(count(offsets, out.h, out.w, b)), (src,), weights=True),
                         offsets * cin * kk, offsets))
        used = [src, len(steps)]
        if a.version == 2:
            mask = count(a.offset_groups * kk, out.h, out.w, b)
            steps.append(low(Step((src,), new(mask), (src,), weights=True), a.offset_groups * kk * cin * kk,
                             a.offset_groups * kk))
            steps.append(Step((len(steps),), new(mask), (len(steps) + 1,)))
            used.append(len(steps))
        steps.append(low(Step(tuple(used), new(n_out), tuple(used), weights=True), cout * (cin // groups) * kk,
                         bias * cout))
        return Program(tuple(steps), 3 + bias + (2 if a.version == 2 else 0))
    steps.append(low(Step((src,), new(n_out), (src,), weights=True), cout * (cin // groups) * kk, bias * cout))
    return Program(tuple(steps), 1 + bias, layout=layout)


def conv_layout(layer: Layer, inp: Shape, out: Shape, run: Run) -> Strides:
    """The strides of a convolution's result (:func:`~convcalc.kinds.layout.convolved`): padded first, the
    padded copy in the input's suggested format is convolved without padding; separable: the depthwise
    conv's result, then the pointwise conv on it; deconv with asymmetric padding: the full result's strides,
    cropped (a view); deform: contiguous (``deform_conv2d``'s result)."""
    a = layer.args
    assert isinstance(a, ConvArgs)
    b, src = run.batch, run.source(inp)
    if layer.kind == "deform":
        return ()
    if layer.kind == "deconv":
        assert a.padding != "same"
        (pt, pb), (pl, pr) = a.padding
        full = (b, out.c, out.h + pt + pb, out.w + pl + pr) if (pt, pl) != (pb, pr) else (b, *out)
        made = convolved(full, src, a.kernel, a.stride, a.dilation, a.groups, True, a.output_padding)
        return canonical((b, *out), strides(full, made))
    kernel = (1, 1) if layer.kind == "pwconv" else a.kernel
    dilation = (1, 1) if layer.kind == "pwconv" else a.dilation
    pads = paddings(a.padding, inp, kernel, a.stride, dilation)
    if padded_first(pads):
        (pt, pb), (pl, pr) = pads
        padded = (b, inp.c, inp.h + pt + pb, inp.w + pl + pr)
        src = (padded, formatted(padded, src))
    cin, _, groups = conv_channels(layer, inp)
    if layer.kind == "separable":
        mid = (b, separable_mid(layer, inp), out.h, out.w)
        dw = convolved(mid, src, kernel, a.stride, dilation, cin)
        return convolved((b, *out), (mid, dw), (1, 1), (1, 1), (1, 1), 1)
    return convolved((b, *out), src, kernel, a.stride, dilation, groups)


_COMMON: dict[str, Parser] = {
    "kernel": pos_pair, "stride": pos_pair, "padding": padding, "dilation": pos_pair, "bias": boolean,
}


def _conv_kind(name: str, params: dict[str, Parser], required: tuple[str, ...], doc: str,
               cost: CostFn = _conv_cost) -> Kind:
    return Kind(name, ConvArgs, params, required, doc, "conv", conv_shape, cost, conv_rf, conv_torch,
                conv_like=True, weights=True, data_dependent=name == "deform", channels=conv_channels_rule,
                memory=conv_memory)


register(
    _conv_kind("conv", {"out": positive, **_COMMON, "groups": positive}, ("out", "kernel"), "convolution"),
    _conv_kind("dwconv", {**_COMMON, "multiplier": positive}, ("kernel",),
               "depthwise convolution (groups = in channels)"),
    _conv_kind("pwconv", {"out": positive, "stride": pos_pair, "groups": positive, "bias": boolean}, ("out",),
               "pointwise 1×1 convolution"),
    _conv_kind("separable", {"out": positive, **_COMMON, "multiplier": positive}, ("out", "kernel"),
               "depthwise k×k (depth multiplier) then pointwise 1×1", separable_cost),
    _conv_kind("deconv", {"out": positive, **_COMMON, "groups": positive, "output_padding": nonneg_pair},
               ("out", "kernel"), "transposed convolution", deconv_cost),
    _conv_kind("deform", {"out": positive, **_COMMON, "groups": positive, "offset_groups": positive,
                          "version": one_of(1, 2)}, ("out", "kernel"), "deformable convolution (v1 or v2)",
               deform_cost),
)
