"""Normalisation and scaling: bn, layernorm, groupnorm, layer_scale, scale.

Notation: C = channels, HW = H·W. Inference, nothing folded. A normalisation over sets of n elements
(LayerNorm: one set per position, n = C; GroupNorm: one set per group, n = C/G·HW) costs, per set:
mean (n − 1 adds, 1 div), centring (n adds), variance (n muls, n − 1 adds, 1 div), + ε (1 add), √ (1 special),
then per element a div (normalise) and, when affine, a mul (γ) and an add (β). See :func:`normalise_cost`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from convcalc.kinds.core import Cost, Kind, Layer, LayerShapeError, Shape, area, register, size
from convcalc.kinds.layout import (
    batch_normed,
    canonical,
    channels_last,
    contiguous_as,
    elementwise,
    formatted,
    suggests_channels_last,
)
from convcalc.kinds.reads import MIX, POINT, AxisReads, Channels
from convcalc.kinds.steps import ACT, PARAMS, PROMOTE, Program, Run, Step, T, count, new, saves_input, saves_nothing
from convcalc.kinds.values import boolean, number, positive

if TYPE_CHECKING:
    from torch import nn


class BNArgs(NamedTuple):
    scale: bool = True
    center: bool = True


class NormArgs(NamedTuple):
    """layernorm and groupnorm: ``affine`` learns γ (and β unless ``bias: false``)."""

    groups: int = 1
    affine: bool = True
    bias: bool = True
    eps: float = 1e-5


class ScaleArgs(NamedTuple):
    value: float = 1.0


class LayerScaleArgs(NamedTuple):
    init: float = 1e-6


def same_shape(layer: Layer, inp: Shape) -> Shape:
    """The output has the input's shape."""
    return inp


def pointwise(layer: Layer, inp: Shape) -> AxisReads:
    """Each output unit reads the input unit at its own position."""
    return POINT, POINT


def all_channels(layer: Layer, inp: Shape) -> Channels:
    """Every output channel reads every input channel (at its own position: layernorm, softmax)."""
    return MIX


def norm_groups(layer: Layer) -> int:
    """A groupnorm's statistics: one global path per group of channels."""
    a = layer.args
    assert isinstance(a, NormArgs)
    return a.groups


def groupnorm_shape(layer: Layer, inp: Shape) -> Shape:
    """Same shape; groups must divide the channels."""
    a = layer.args
    assert isinstance(a, NormArgs)
    if inp.c % a.groups:
        raise LayerShapeError(f"groupnorm groups {a.groups} must divide the channels {inp.c}",
                              "choose groups that divide the channel count")
    return inp


def bn_cost(layer: Layer, inp: Shape, out: Shape) -> Cost:
    """Batch norm (inference, not folded): params 2C (γ, β; C each unless scale/center is off),
    buffers 2C (running mean/var), muls C·H·W (scale), adds C·H·W (shift)."""
    a = layer.args
    assert isinstance(a, BNArgs)
    return batch_norm(inp, a.scale, a.center)


def batch_norm(inp: Shape, scale: bool = True, center: bool = True) -> Cost:
    """The batch norm of :func:`bn_cost` on a map of this shape."""
    n = size(inp)
    return Cost(params=(int(scale) + int(center)) * inp.c, buffers=2 * inp.c, adds=n, muls=n)


def normalise_cost(sets: int, per_set: int, c: int, affine: bool, bias: bool) -> Cost:
    """Normalising ``sets`` sets of ``per_set`` elements (E = sets·per_set elements):
    adds = sets·(2·(per_set − 1) + 1) + E (+ E with β), muls = E (+ E with γ), divs = 2·sets + E,
    special = sets (√); params = C (γ) + C (β) when affine."""
    e = sets * per_set
    adds = sets * (2 * (per_set - 1) + 1) + e + (e if affine and bias else 0)
    muls = e + (e if affine else 0)
    params = (c + (c if bias else 0)) if affine else 0
    return Cost(params=params, adds=adds, muls=muls, divs=2 * sets + e, special=sets)


def layernorm_cost(layer: Layer, inp: Shape, out: Shape) -> Cost:
    """LayerNorm over the channels at each of the H·W positions: :func:`normalise_cost` with H·W sets of C."""
    a = layer.args
    assert isinstance(a, NormArgs)
    return normalise_cost(area(inp), inp.c, inp.c, a.affine, a.bias)


def groupnorm_cost(layer: Layer, inp: Shape, out: Shape) -> Cost:
    """GroupNorm with G groups: :func:`normalise_cost` with G sets of C/G·H·W."""
    a = layer.args
    assert isinstance(a, NormArgs)
    return normalise_cost(a.groups, inp.c // a.groups * area(inp), inp.c, a.affine, a.bias)


def layer_scale_cost(layer: Layer, inp: Shape, out: Shape) -> Cost:
    """Layer scale (a learned γ per channel): params = C, muls = C·H·W."""
    return Cost(params=inp.c, muls=size(inp))


def scale_cost(layer: Layer, inp: Shape, out: Shape) -> Cost:
    """Multiplication by a constant: muls = C·H·W."""
    return Cost(muls=size(inp))


def bn_torch(layer: Layer, inp: Shape, out: Shape, probe: bool) -> nn.Module:
    """``nn.BatchNorm2d`` (γ or β fixed where scale/center is off)."""
    from convcalc.kinds.torch_modules import BatchNorm

    a = layer.args
    assert isinstance(a, BNArgs)
    return BatchNorm(inp.c, a.scale, a.center)


def norm_torch(layer: Layer, inp: Shape, out: Shape, probe: bool) -> nn.Module:
    """layernorm: ``nn.LayerNorm(C)`` applied channels-last (ConvNeXt's LayerNorm2d); groupnorm:
    ``nn.GroupNorm``."""
    from torch import nn

    from convcalc.kinds.torch_modules import ChannelsLast

    a = layer.args
    assert isinstance(a, NormArgs)
    if probe:  # the receptive-field probe: statistics are not monotone; the local window is the position
        return nn.Identity()
    if layer.kind == "groupnorm":
        gn = nn.GroupNorm(a.groups, inp.c, a.eps, a.affine)
        if a.affine and not a.bias:
            gn.register_parameter("bias", None)
        return gn
    return ChannelsLast(nn.LayerNorm(inp.c, a.eps, a.affine, a.bias))


def scale_torch(layer: Layer, inp: Shape, out: Shape, probe: bool) -> nn.Module:
    """A learned per-channel γ (layer_scale) or a constant factor (scale; 1 in the receptive-field probe)."""
    from convcalc.kinds.torch_modules import LayerScale, Scale

    a = layer.args
    if isinstance(a, LayerScaleArgs):
        return LayerScale(inp.c, a.init)
    assert isinstance(a, ScaleArgs)
    return Scale(1.0 if probe else a.value)  # the probe stays monotone whatever the sign


# ---------------------------------------------------------------- memory


def bn_memory(layer: Layer, inp: Shape, out: Shape, run: Run) -> Program:
    """Training: ``native_batch_norm`` saves its input, the running mean and variance (buffers, C each) and
    the batch mean and inverse deviation it computes (C each, in the parameters' dtype); its result is new.
    Inference: a new result; ``fold_bn``: folded into the conv before it, so no tensor of its own (the result
    is the input).
    With only γ or only β learned (scale/center off), PyTorch's BN without affine then multiplies by γ (a new
    result; saves the normalised map) or adds β (a new result). Counters: ``num_batches_tracked`` (int64).
    Under autocast BN keeps its input's dtype (fp32 statistics and running buffers); the separate x·γ and + β
    are fp32 (the fp32 parameter promotes them). Strides: :func:`~convcalc.kinds.layout.batch_normed`, then
    TensorIterator's with γ or β (1×C×1×1); folded, the input's."""
    a = layer.args
    assert isinstance(a, BNArgs)
    n = count(*inp, run.batch)
    both = a.scale and a.center
    tensors = 2 if both else int(a.scale) + int(a.center)
    sizes = (run.batch, *inp)
    layout = batch_normed(run.source(inp))
    for _ in range(int(a.scale and not both) + int(a.center and not both)):
        layout = elementwise(sizes, (sizes, layout), ((1, inp.c, 1, 1), ()))
    if not run.train:
        if run.fold_bn:
            return Program((Step((0,), 0),), tensors, 1, layout=run.layout)
        steps = [Step((0,), new(n))]
    else:
        stats = (T(inp.c, PARAMS, buffer=True), T(inp.c, PARAMS, buffer=True), T(inp.c, PARAMS), T(inp.c, PARAMS))
        steps = [Step((0,), new(n), (0, *stats), weights=both)]
    if a.scale and not both:
        steps.append(Step((1,), new(n), (1,) if run.train else (), weights=True, autocast=PROMOTE))
    if a.center and not both:
        steps.append(Step((len(steps),), new(n), weights=True, autocast=PROMOTE))
    return Program(tuple(steps), tensors, 1, layout=layout)


def norm_memory(layer: Layer, inp: Shape, out: Shape, run: Run) -> Program:
    """layernorm (``native_layer_norm`` over the channels at each of N·H·W positions) and groupnorm
    (``native_group_norm``, N·G groups): a new result, and a mean and reciprocal deviation per position or
    group (in the parameters' dtype with affine parameters, else the input's), saved with the input in
    training, dropped at once at inference. Strides: layernorm's result is channels last (N×H×W×C, permuted
    back), whatever its input's. ``F.group_norm`` first makes its input contiguous in the format it suggests
    (``input.contiguous(input.suggest_memory_format())``: a copy, which it normalises and saves, where the
    input is contiguous in neither: a channel split's slice at batch > 1); its result is in that format."""
    a = layer.args
    assert isinstance(a, NormArgs)
    rows = run.batch * (a.groups if layer.kind == "groupnorm" else inp.h * inp.w)
    stats = (T(rows, PARAMS if a.affine else ACT),) * 2
    n = count(*inp, run.batch)
    sizes, src = (run.batch, *inp), run.source(inp)
    layout = canonical(sizes, channels_last(sizes))
    copy: tuple[Step, ...] = ()
    if layer.kind == "groupnorm":
        normed = contiguous_as(src, suggests_channels_last(*src))
        copy = (Step((0,), new(n)),) if normed != src else ()
        layout = formatted(sizes, normed)
    x = len(copy)
    step = Step((x,), new(n), (x, *stats), weights=a.affine) if run.train else Step((x,), new(n), temps=stats)
    return Program((*copy, step), (1 + int(a.bias)) if a.affine else 0, layout=layout)


def scale_memory(layer: Layer, inp: Shape, out: Shape, run: Run) -> Program:
    """layer_scale: ``x · γ``, a new result, saves x (and γ, a parameter; under autocast the fp32 γ makes the
    result fp32); scale: ``x · value``, a new result, saves nothing. Strides: TensorIterator's of x with γ
    (C×1×1) or a 0-dim number."""
    n = count(*inp, run.batch)
    sizes = (run.batch, *inp)
    if layer.kind == "layer_scale":
        (step,) = saves_input(n, 1).steps
        layout = elementwise(sizes, run.source(inp), ((inp.c, 1, 1), ()))
        return Program((step._replace(autocast=PROMOTE),), 1, layout=layout)
    return saves_nothing(n, layout=elementwise(sizes, run.source(inp), ((), ())))


_NORM = {"affine": boolean, "bias": boolean, "eps": number}

register(
    Kind("bn", BNArgs, {"scale": boolean, "center": boolean}, (),
         "batch normalisation (scale: learn γ, center: learn β)", "norm", same_shape, bn_cost, pointwise, bn_torch,
         memory=bn_memory),
    Kind("layernorm", NormArgs, dict(_NORM), (), "layer normalisation over the channels at each position",
         "norm", same_shape, layernorm_cost, pointwise, norm_torch, channels=all_channels, memory=norm_memory),
    Kind("groupnorm", NormArgs, {"groups": positive, **_NORM}, ("groups",),
         "group normalisation (statistics over each group's channels and all positions)", "norm",
         groupnorm_shape, groupnorm_cost, pointwise, norm_torch, global_gate=True, gate_groups=norm_groups,
         memory=norm_memory),
    Kind("layer_scale", LayerScaleArgs, {"init": number}, (), "a learned scale per channel (ConvNeXt, CaiT)",
         "norm", same_shape, layer_scale_cost, pointwise, scale_torch, memory=scale_memory),
    Kind("scale", ScaleArgs, {"value": number}, ("value",), "multiplication by a constant", "norm", same_shape,
         scale_cost, pointwise, scale_torch, memory=scale_memory),
)
