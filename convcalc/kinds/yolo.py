"""YOLO detection heads' decoding layers: ``dfl``, the distribution focal loss integral of YOLOv8/YOLO11 (Ultralytics'
``DFL``).

``dfl`` reads 4·b channels (four box sides, each a distribution over b bins) and returns 4: per side and position,
the softmax over its b bins, then their expectation Σ p_k·k with Ultralytics' fixed 1×1 conv (weights 0 … b − 1,
not trained). Ultralytics keeps one ``DFL`` module for every level of the head: ``shared: true`` marks the levels
after the first, whose weights are the first level's (params 0).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from convcalc.kinds.core import Cost, Kind, Layer, LayerShapeError, Shape, area, register
from convcalc.kinds.norm import pointwise
from convcalc.kinds.reads import Channels
from convcalc.kinds.steps import Program, Run, Step, count, low, new
from convcalc.kinds.values import boolean, positive

if TYPE_CHECKING:
    from torch import nn

#: the box sides a detection head predicts (left, top, right, bottom distances)
SIDES = 4


class DFLArgs(NamedTuple):
    """``bins``: the bins of each side's distribution (Ultralytics' ``reg_max``, 16); ``shared``: the weights
    are an earlier level's."""

    bins: int = 16
    shared: bool = False


def _bins(layer: Layer, inp: Shape) -> int:
    a = layer.args
    assert isinstance(a, DFLArgs)
    if inp.c != SIDES * a.bins:
        raise LayerShapeError(f"dfl with {a.bins} bins reads {SIDES}·{a.bins} = {SIDES * a.bins} channels, "
                              f"found {inp.c}", "the box branch's last conv has 4·reg_max outputs")
    return a.bins


def dfl_shape(layer: Layer, inp: Shape) -> Shape:
    """4 channels (one per box side) at every position: 4·b × H × W → 4 × H × W."""
    _bins(layer, inp)
    return Shape(SIDES, inp.h, inp.w)


def dfl_cost(layer: Layer, inp: Shape, out: Shape) -> Cost:
    """Per position, over 4 sides of b bins: the softmax (cmps 4·(b − 1), adds 4·(2b − 1), special 4·b,
    divs 4·b), then the expectation as a 1×1 conv of b inputs: MACs 4·b; params b (0 where ``shared``)."""
    b, hw = _bins(layer, inp), area(inp)
    a = layer.args
    assert isinstance(a, DFLArgs)
    return Cost(params=0 if a.shared else b, macs=SIDES * b * hw, adds=SIDES * (2 * b - 1) * hw,
                cmps=SIDES * (b - 1) * hw, special=SIDES * b * hw, divs=SIDES * b * hw)


def dfl_channels(layer: Layer, inp: Shape) -> Channels:
    """Output channel j (side j) reads its b bins: input channels j·b … (j + 1)·b − 1."""
    return Channels("groups", SIDES)


def dfl_memory(layer: Layer, inp: Shape, out: Shape, run: Run) -> Program:
    """``conv(x.view(B, 4, b, A).transpose(2, 1).softmax(1))``: the softmax's result (saved: its derivative
    needs it; the conv, whose weight takes no gradient, saves it too), then the conv's result; the views
    allocate nothing. Under autocast the conv runs in the low dtype on a copy of its weight made anew each time
    (not autocast's cache: the weight takes no gradient), which it saves in training."""
    n_in, n_out = count(*inp, run.batch), count(*out, run.batch)
    a = layer.args
    assert isinstance(a, DFLArgs)
    conv = low(Step((1,), new(n_out), (1,)), a.bins)._replace(cached=False)
    return Program((Step((0,), new(n_in), (1,)), conv), 0 if a.shared else 1)


def dfl_torch(layer: Layer, inp: Shape, out: Shape, probe: bool) -> nn.Module:
    """Ultralytics' DFL on a map (``kinds/torch_modules.DFL``); the probe: each side's sum over its bins."""
    from convcalc.kinds.torch_modules import DFL

    b = _bins(layer, inp)
    a = layer.args
    assert isinstance(a, DFLArgs)
    return DFL(b, a.shared, probe)


register(
    Kind("dfl", DFLArgs, {"bins": positive, "shared": boolean}, (),
         "distribution focal loss integral of a YOLOv8/YOLO11 box branch (Ultralytics' DFL)", "other", dfl_shape,
         dfl_cost, pointwise, dfl_torch, channels=dfl_channels, memory=dfl_memory),
)
