"""Fully connected layers: linear, and squeeze-and-excitation (se) as one kind.

Notation: C = channels, β = 1 with bias. A linear layer takes a C×1×1 input (after flatten or a global pool),
or a token sequence C×1×N, on which it acts on each token (as ``nn.Linear`` on N×C).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from convcalc.kinds.activation import ACT_COST, ACTIVATIONS, SAVES_RESULT
from convcalc.kinds.conv import conv_cost
from convcalc.kinds.core import Cost, Kind, Layer, LayerShapeError, Shape, area, register
from convcalc.kinds.layout import canonical, channels_last, elementwise, token_rows
from convcalc.kinds.norm import all_channels, pointwise, same_shape
from convcalc.kinds.pool import global_avgpool_cost
from convcalc.kinds.steps import Program, Run, Step, count, low, new
from convcalc.kinds.values import boolean, choice, positive

if TYPE_CHECKING:
    from torch import nn


class LinearArgs(NamedTuple):
    out: int = 1
    bias: bool = True


class SEArgs(NamedTuple):
    reduction: int | None = None
    width: int | None = None
    activation: str = "relu"
    gate: str = "sigmoid"


def linear_shape(layer: Layer, inp: Shape) -> Shape:
    """C×1×1 → out×1×1; a sequence C×1×N → out×1×N."""
    a = layer.args
    assert isinstance(a, LinearArgs)
    if inp.h != 1:
        raise LayerShapeError(f"linear needs a C×1×1 input or a token sequence C×1×N, found {inp}",
                              "add `flatten` or `global_avgpool` before it (or `tokens` for a sequence; "
                              "`pwconv` is a linear layer at each position of a map)")
    return Shape(a.out, 1, inp.w)


def se_width(layer: Layer, c: int) -> int:
    """Squeeze width: ``width``, or C // reduction (at least 1)."""
    a = layer.args
    assert isinstance(a, SEArgs)
    if a.width is not None:
        return a.width
    return max(1, c // (a.reduction or 16))


def se_check(args: Mapping[str, Any]) -> tuple[str, str]:
    """se needs exactly one of reduction and width."""
    if ("reduction" in args) != ("width" in args):
        return "", ""
    return "se needs exactly one of 'reduction' or 'width'", "e.g. `- se: {reduction: 16}`"


def linear_cost(layer: Layer, inp: Shape, out: Shape) -> Cost:
    """Linear on N tokens (N = 1 on a C×1×1 input): params = in·out + β·out; macs = N·in·out; adds = N·β·out."""
    a = layer.args
    assert isinstance(a, LinearArgs)
    return conv_cost(inp.c, a.out, 1, 1, 1, area(inp), a.bias)


def se_cost(layer: Layer, inp: Shape, out: Shape) -> Cost:
    """Squeeze-excitation (C, width C_r), two 1×1 convs with bias:
    params = C·C_r + C_r + C_r·C + C; macs = 2·C·C_r; plus the global pool (adds C·(H·W − 1), divs C),
    the biases (adds C_r + C), the activation on C_r and the gate on C values, and the scale muls C·H·W."""
    a = layer.args
    assert isinstance(a, SEArgs)
    c, cr = inp.c, se_width(layer, inp.c)
    pooled = Shape(c, 1, 1)
    fc1 = conv_cost(c, cr, 1, 1, 1, 1, True)
    fc2 = conv_cost(cr, c, 1, 1, 1, 1, True)
    act = ACT_COST[a.activation](layer, Shape(cr, 1, 1), Shape(cr, 1, 1))
    gate = ACT_COST[a.gate](layer, pooled, pooled)
    scale = Cost(muls=c * area(inp))
    return global_avgpool_cost(layer, inp, pooled) + fc1 + act + fc2 + gate + scale


def linear_torch(layer: Layer, inp: Shape, out: Shape, probe: bool) -> nn.Module:
    """``nn.Linear`` on the flattened C×1×1 input (on each token of a sequence); SE as pool → conv → act →
    conv → gate → scale."""
    from torch import nn as tnn

    from convcalc.kinds import torch_modules as tm

    a = layer.args
    if isinstance(a, SEArgs):
        return tm.SqueezeExcite(inp.c, se_width(layer, inp.c), a.activation, a.gate, probe)
    assert isinstance(a, LinearArgs)
    if inp.w > 1:
        return tm.ChannelsLast(tnn.Linear(inp.c, a.out, a.bias))
    return tm.Linear(inp.c, a.out, a.bias)


# ---------------------------------------------------------------- memory


def linear_memory(layer: Layer, inp: Shape, out: Shape, run: Run) -> Program:
    """linear: one matrix product on the flattened input (a view), which saves its input (and the weight, a
    parameter); a new result. On a sequence, per token: the tokens' rows are the storage of the sequence
    (PyTorch's N×T×C layout). se: the mean over the map (N·C, saves nothing), the first 1×1 conv (N·width,
    saves the mean), the activation (saves its result or its input, as the activation kind), the second conv
    (N·C, saves the activation's result), the gate (sigmoid saves its result, hard-sigmoid its input), and the
    scaling ``x · gate`` (a new result; saves x, and the gate where x requires grad). Four parameter tensors.
    Under autocast the linear and the two convs run in the low dtype (weights and biases cast, the convs'
    weights saved, the linear's where its input requires grad: a product of the two).

    Strides: on C×1×1 (``torch.flatten(x, 1)``, always a view) the N×out result is contiguous; on a sequence
    (or a map) ``F.linear`` runs on the N×T×C tokens and its result is N×T×out (channels last here). Where the
    tokens are not contiguous as N×T×C (a sequence made by ``tokens`` from a contiguous map) it folds them
    into rows by ``reshape``: a copy where that is no view (:func:`~convcalc.kinds.layout.token_rows`), which
    the product saves; the bias is then added in place. se: ``x · gate`` is TensorIterator's of x."""
    b = run.batch
    n_out = count(*out, b)
    a = layer.args
    if isinstance(a, LinearArgs):
        rows = inp.h * inp.w > 1 and token_rows(run.source(inp))[1]
        copy = (low(Step((0,), new(count(*inp, b))), 0),) if rows else ()
        x = len(copy)
        step = Step((x,), new(n_out), (x,), weights=True, product=True)  # (its weight's copy: if x needs grad)
        sizes = (b, *out)
        layout = canonical(sizes, channels_last(sizes)) if inp.h * inp.w > 1 else ()
        return Program((*copy, low(step, a.out * inp.c, a.out if a.bias else 0)), 1 + int(a.bias), layout=layout)
    assert isinstance(a, SEArgs)
    width = se_width(layer, inp.c)
    act_saves = 3 if a.activation in SAVES_RESULT else 2
    gate_saves = 5 if a.gate in SAVES_RESULT else 4
    return Program((
        Step((0,), new(b * inp.c)),
        low(Step((1,), new(b * width), (1,), weights=True), width * inp.c, width),
        Step((2,), new(b * width), (act_saves,)),
        low(Step((3,), new(b * inp.c), (3,), weights=True), inp.c * width, inp.c),
        Step((4,), new(b * inp.c), (gate_saves,)),
        Step((0, 5), new(n_out), product=True),
    ), 4, layout=elementwise((b, *inp), run.source(inp), ((b, inp.c, 1, 1), ())))


register(
    Kind("linear", LinearArgs, {"out": positive, "bias": boolean}, ("out",), "fully connected", "other",
         linear_shape, linear_cost, pointwise, linear_torch, weights=True, channels=all_channels,
         memory=linear_memory),
    Kind("se", SEArgs, {"reduction": positive, "width": positive, "activation": choice(*ACTIVATIONS),
                        "gate": choice("sigmoid", "hardsigmoid")}, (), "squeeze-and-excitation", "other",
         same_shape, se_cost, pointwise, linear_torch, check=se_check, global_gate=True, memory=linear_memory),
)
