"""Layers that move or copy values: flatten, identity, dropout, drop_path, channel_shuffle, pixel_shuffle,
pixel_unshuffle, upsample. None has parameters; only bilinear upsampling does arithmetic.

pixel_shuffle r: C×H×W → C/r²×rH×rW (each output reads one input, as nearest upsampling by r);
pixel_unshuffle r (space-to-depth): C×H×W → r²C×H/r×W/r (each output position reads an r×r window).
upsample: to ``size`` (or the height and width of the layer named by ``like``), or by ``scale`` (an
integer or a real factor): o = ⌊i·scale⌋ as PyTorch computes it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from fractions import Fraction
from typing import TYPE_CHECKING, Any, NamedTuple

from convcalc.kinds.core import AXES, ZERO, Cost, Kind, Layer, LayerShapeError, Shape, area, register
from convcalc.kinds.layout import elementwise, formatted, like, reshape, shuffled
from convcalc.kinds.norm import pointwise, same_shape
from convcalc.kinds.pool import whole_input
from convcalc.kinds.reads import POINT, AxisReads, Channels, Reads, Spread, linear_interp, nearest, window
from convcalc.kinds.steps import Program, Run, Step, T, count, new, saves_nothing, view
from convcalc.kinds.values import boolean, choice, factor_pair, pos_pair, positive, probability, reference

if TYPE_CHECKING:
    from torch import nn


class PlainArgs(NamedTuple):
    """No arguments."""


class DropArgs(NamedTuple):
    p: float = 0.5
    #: dropout only: multiply the input in place (PyTorch's ``inplace=True``)
    inplace: bool = False


class GroupsArgs(NamedTuple):
    groups: int = 1


class FactorArgs(NamedTuple):
    factor: int = 2


class UpsampleArgs(NamedTuple):
    """``scale`` per axis (int or float) or ``size``; ``mode`` nearest or bilinear."""

    scale: tuple[int | float, int | float] | None = None
    size: tuple[int, int] | None = None
    mode: str = "nearest"
    align_corners: bool = False


def upsample_check(args: Mapping[str, Any]) -> tuple[str, str]:
    """upsample needs exactly one of scale, size and like."""
    if sum(k in args for k in ("scale", "size", "like")) != 1:
        return "upsample needs exactly one of 'scale', 'size' or 'like'", \
            "e.g. `- upsample: {scale: 2}`, or `{like: lateral3}` for the height and width of that layer"
    if args.get("align_corners") is True and args.get("mode", "nearest") != "bilinear":
        return "align_corners needs mode: bilinear", "PyTorch takes align_corners only for interpolating modes"
    return "", ""


# ---------------------------------------------------------------- shape


def flatten_shape(layer: Layer, inp: Shape) -> Shape:
    """C×H×W → (C·H·W)×1×1."""
    return Shape(inp.c * inp.h * inp.w, 1, 1)


def shuffle_shape(layer: Layer, inp: Shape) -> Shape:
    """Same shape; groups must divide the channels."""
    a = layer.args
    assert isinstance(a, GroupsArgs)
    if inp.c % a.groups:
        raise LayerShapeError(f"channel_shuffle groups {a.groups} must divide the channels {inp.c}")
    return inp


def pixel_shape(layer: Layer, inp: Shape) -> Shape:
    """pixel_shuffle: C/r²×rH×rW (r² must divide C); pixel_unshuffle: r²C×H/r×W/r (r must divide H and W)."""
    a = layer.args
    assert isinstance(a, FactorArgs)
    r = a.factor
    if layer.kind == "pixel_shuffle":
        if inp.c % (r * r):
            raise LayerShapeError(f"pixel_shuffle factor {r} needs channels divisible by {r * r}, found {inp.c}")
        return Shape(inp.c // (r * r), inp.h * r, inp.w * r)
    for ax, i in enumerate((inp.h, inp.w)):
        if i % r:
            raise LayerShapeError(f"pixel_unshuffle factor {r} must divide the {AXES[ax]} {i}")
    return Shape(inp.c * r * r, inp.h // r, inp.w // r)


def upsample_shape(layer: Layer, inp: Shape) -> Shape:
    """To ``size``, or ⌊i·scale⌋ per axis (PyTorch computes it in floating point, as here)."""
    a = layer.args
    assert isinstance(a, UpsampleArgs)
    if a.size is not None:
        return Shape(inp.c, a.size[0], a.size[1])
    assert a.scale is not None
    dims = []
    for ax, (i, s) in enumerate(zip((inp.h, inp.w), a.scale, strict=True)):
        o = i * s if isinstance(s, int) else math.floor(float(i) * s)
        if o < 1:
            raise LayerShapeError(f"upsampling {i} by {s} gives {o} on the {AXES[ax]} axis", "use a larger factor")
        dims.append(o)
    return Shape(inp.c, dims[0], dims[1])


# ---------------------------------------------------------------- cost


def free_cost(layer: Layer, inp: Shape, out: Shape) -> Cost:
    """Flatten, dropout, drop_path, identity, shuffles: no params and no arithmetic."""
    return ZERO


def upsample_cost(layer: Layer, inp: Shape, out: Shape) -> Cost:
    """Upsampling: nearest is a copy (0); bilinear is a weighted sum of 4 taps: macs = 4·C·H_out·W_out."""
    a = layer.args
    assert isinstance(a, UpsampleArgs)
    return Cost(macs=4 * out.c * area(out)) if a.mode == "bilinear" else ZERO


# ---------------------------------------------------------------- receptive field


def pixel_rf(layer: Layer, inp: Shape) -> AxisReads:
    """pixel_shuffle: unit u reads ⌊u/r⌋ (of the input channel of its sub-position); pixel_unshuffle: an r×r
    window with stride r over its channels (each channel reads one pixel of it)."""
    a = layer.args
    assert isinstance(a, FactorArgs)
    r = a.factor
    op = nearest(Fraction(1, r)) if layer.kind == "pixel_shuffle" else window(r, r, 0)
    return op, op


def pixel_channels(layer: Layer, inp: Shape) -> Channels:
    """Positions into channels and back, per sub-position (see :func:`convcalc.metrics.channels.through`)."""
    a = layer.args
    assert isinstance(a, FactorArgs)
    return Channels(layer.kind, factor=a.factor)


def shuffle_channels(layer: Layer, inp: Shape) -> Channels:
    """ShuffleNet's permutation: output channel k reads channel (k mod g)·C/g + ⌊k/g⌋."""
    a = layer.args
    assert isinstance(a, GroupsArgs)
    return Channels("shuffle", a.groups)


def flatten_channels(layer: Layer, inp: Shape) -> Channels:
    """Flatten: output channel c·H·W + y·W + x reads pixel (y, x) of channel c."""
    return Channels("flatten")


def upsample_rf(layer: Layer, inp: Shape) -> AxisReads:
    """Resampling as PyTorch indexes it, with ratio r = i/o (or 1/scale where a scale is given): an axis
    whose size stays is copied; nearest reads ⌊u·r⌋ (o = 2·i: ⌊u/2⌋); bilinear samples x = (u + ½)·r − ½
    (align_corners: x = u·(i − 1)/(o − 1)) and reads ⌊x⌋ and ⌊x⌋ + 1 with weights 1 − λ and λ = x − ⌊x⌋."""
    a = layer.args
    assert isinstance(a, UpsampleArgs)
    out = upsample_shape(layer, inp)
    ops: list[Reads | Spread] = []
    for ax, (i, o) in enumerate(((inp.h, out.h), (inp.w, out.w))):
        r = Fraction(i, o) if a.scale is None else 1 / Fraction(str(a.scale[ax]))
        if o == i and not a.align_corners:  # PyTorch copies an axis whose size stays, whatever the factor
            ops.append(POINT)
        elif a.mode == "bilinear":
            if a.align_corners:
                # (to one unit: x = 0, the first input; its extension steps by the whole input)
                ops.append(linear_interp(Fraction(i - 1, o - 1), Fraction(0)) if o > 1 else window(1, i, 0))
            else:
                ops.append(linear_interp(r, r / 2 - Fraction(1, 2)))
        else:  # PyTorch's nearest_idx: twice the size is exact whatever the scale
            ops.append(nearest(Fraction(1, 2) if o == 2 * i else r))
    return ops[0], ops[1]


# ---------------------------------------------------------------- PyTorch


def reshape_torch(layer: Layer, inp: Shape, out: Shape, probe: bool) -> nn.Module:
    """The ``torch.nn`` module (dropout and drop_path are identities in ``eval()``)."""
    from torch import nn

    from convcalc.kinds import torch_modules as tm

    a = layer.args
    if layer.kind == "flatten":
        return tm.Flatten()
    if layer.kind == "dropout":
        assert isinstance(a, DropArgs)
        return nn.Dropout(a.p, a.inplace)
    if layer.kind == "drop_path":
        assert isinstance(a, DropArgs)
        return tm.DropPath(a.p)
    if layer.kind == "channel_shuffle":
        assert isinstance(a, GroupsArgs)
        return tm.ChannelShuffle(a.groups)
    if layer.kind == "pixel_shuffle":
        assert isinstance(a, FactorArgs)
        return nn.PixelShuffle(a.factor)
    if layer.kind == "pixel_unshuffle":
        assert isinstance(a, FactorArgs)
        return nn.PixelUnshuffle(a.factor)
    if layer.kind == "upsample":
        assert isinstance(a, UpsampleArgs)
        if a.size is not None:
            return tm.Resize(a.size, a.mode, a.align_corners)
        assert a.scale is not None
        scale = (float(a.scale[0]), float(a.scale[1]))
        if a.mode == "bilinear":
            return nn.Upsample(scale_factor=scale, mode="bilinear", align_corners=a.align_corners)
        return nn.Upsample(scale_factor=scale, mode="nearest")
    return nn.Identity()


# ---------------------------------------------------------------- memory


def reshape_memory(layer: Layer, inp: Shape, out: Shape, run: Run) -> Program:
    """flatten, identity, and dropout/drop_path at inference or with p = 0: a view of the input (no tensor
    of its own). dropout in training: ``input · mask``, a new result (in place: the input's storage), and
    a mask of the input's size in the activations' dtype, saved (PyTorch's CPU rule; CUDA's fused kernel
    saves a 1-byte bool mask instead; p = 1: a 0-dim zero). drop_path in training: torchvision's
    ``stochastic_depth``, ``input · noise`` with one noise value per sample, saved; a new result.
    channel_shuffle (torchvision's): a view, a transpose and ``.contiguous()``, a copy (a new result) unless
    the transpose moves nothing on a contiguous map (1 or C groups: a view). pixel (un)shuffle, upsampling:
    a new result. None saves more.

    Strides (:mod:`~convcalc.kinds.layout`): the views keep their input's; flatten (``torch.flatten(x, 1)``)
    is a view only where C, H and W merge (a channel slice's do; a channels-last map's do not unless it is
    C×1×1 or 1×H×W), else a contiguous copy (a new result, which nothing saves) first; channel_shuffle's copy
    is contiguous; dropout's ``input · mask`` (the mask ``empty_like`` the input) and drop_path's
    ``input · noise`` (N×1×1×1): TensorIterator's; pixel (un)shuffle and upsampling: the input's suggested
    format."""
    n_out = count(*out, run.batch)
    a = layer.args
    sizes, src = (run.batch, *inp), run.source(inp)
    if layer.kind in ("dropout", "drop_path"):
        assert isinstance(a, DropArgs)
        if not run.train or a.p == 0:
            return view(run.layout)
        if layer.kind == "drop_path":
            noise = elementwise(sizes, src, ((run.batch, 1, 1, 1), ()))
            return Program((Step((0,), new(n_out), (T(run.batch),)),), layout=noise)
        mask = T(1 if a.p == 1 else n_out)  # p = 1: PyTorch multiplies by a 0-dim zero
        into = a.inplace and run.inplace
        layout = run.layout if into else elementwise(sizes, src, ((), ()) if a.p == 1 else (sizes, like(src)))
        return Program((Step((0,), 0 if into else new(n_out), (mask,)),), layout=layout)
    if layer.kind == "identity":
        return view(run.layout)
    if layer.kind == "flatten":
        flat, copies = reshape(sizes, run.layout, (run.batch, n_out // run.batch))
        layout, _ = reshape((run.batch, n_out // run.batch), flat, (run.batch, *out))
        return Program((Step((0,), new(n_out) if copies else 0),), layout=layout)
    if isinstance(a, GroupsArgs):
        layout, copies = shuffled(src, a.groups)
        return saves_nothing(n_out) if copies else view(layout)
    return saves_nothing(n_out, layout=formatted((run.batch, *out), src))


def _kind(name: str, args: type, params: dict[str, object], required: tuple[str, ...], doc: str,
          shape: object = same_shape, cost: object = free_cost, rf: object = pointwise, **flags: object) -> Kind:
    return Kind(name, args, params, required, doc, "other", shape, cost, rf, reshape_torch,  # type: ignore[arg-type]
                memory=reshape_memory, **flags)  # type: ignore[arg-type]


register(
    _kind("flatten", PlainArgs, {}, (), "C×H×W → (C·H·W)×1×1", flatten_shape, rf=whole_input,
          channels=flatten_channels),
    _kind("dropout", DropArgs, {"p": probability, "inplace": boolean}, (), "dropout (identity at inference)"),
    _kind("drop_path", DropArgs, {"p": probability}, (), "stochastic depth (identity at inference)"),
    _kind("identity", PlainArgs, {}, (), "identity"),
    _kind("channel_shuffle", GroupsArgs, {"groups": positive}, ("groups",), "channel shuffle (permutation)",
          shuffle_shape, channels=shuffle_channels),
    _kind("pixel_shuffle", FactorArgs, {"factor": positive}, ("factor",), "depth-to-space by a factor",
          pixel_shape, rf=pixel_rf, channels=pixel_channels),
    _kind("pixel_unshuffle", FactorArgs, {"factor": positive}, ("factor",), "space-to-depth by a factor",
          pixel_shape, rf=pixel_rf, channels=pixel_channels),
    _kind("upsample", UpsampleArgs, {"scale": factor_pair, "size": pos_pair, "like": reference,
                         "mode": choice("nearest", "bilinear"), "align_corners": boolean},
          (), "upsampling by a factor or to a size", upsample_shape, upsample_cost, upsample_rf,
          check=upsample_check),
)
