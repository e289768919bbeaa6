"""Normalisation and scaling: bn, layernorm, groupnorm, layer_scale, scale.

Notation: C = channels, HW = H·W. Inference, nothing folded. A normalisation over sets of n elements
(LayerNorm: one set per position, n = C; GroupNorm: one set per group, n = C/G·HW) costs, per set:
mean (n − 1 adds, 1 div), centring (n adds), variance (n muls, n − 1 adds, 1 div), + ε (1 add), √ (1 special),
then per element a div (normalise) and, when affine, a mul (γ) and an add (β). See :func:`normalise_cost`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from convcalc.kinds.core import Cost, Kind, Layer, LayerShapeError, Shape, area, register, size
from convcalc.kinds.reads import MIX, POINT, AxisReads, Channels
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


_NORM = {"affine": boolean, "bias": boolean, "eps": number}

register(
    Kind("bn", BNArgs, {"scale": boolean, "center": boolean}, (),
         "batch normalisation (scale: learn γ, center: learn β)", "norm", same_shape, bn_cost, pointwise, bn_torch),
    Kind("layernorm", NormArgs, dict(_NORM), (), "layer normalisation over the channels at each position",
         "norm", same_shape, layernorm_cost, pointwise, norm_torch, channels=all_channels),
    Kind("groupnorm", NormArgs, {"groups": positive, **_NORM}, ("groups",),
         "group normalisation (statistics over each group's channels and all positions)", "norm",
         groupnorm_shape, groupnorm_cost, pointwise, norm_torch, global_gate=True, gate_groups=norm_groups),
    Kind("layer_scale", LayerScaleArgs, {"init": number}, (), "a learned scale per channel (ConvNeXt, CaiT)",
         "norm", same_shape, layer_scale_cost, pointwise, scale_torch),
    Kind("scale", ScaleArgs, {"value": number}, ("value",), "multiplication by a constant", "norm", same_shape,
         scale_cost, pointwise, scale_torch),
)
