"""Activations, each element-wise (shape and window unchanged), and softmax over the channels.

Per element of C·H·W, dense convention (a branch such as ELU's negative side is counted on every element):
relu/relu6 1 cmp; leaky_relu and prelu 1 cmp + 1 mul; sigmoid/tanh/gelu/hardsigmoid 1 special;
silu/hardswish 1 mul + 1 special; mish (x·tanh(softplus(x))) 1 mul + 2 special; elu (α·(eˣ − 1) below 0)
1 cmp + 1 special + 1 add + 1 mul. softmax over C at each position: (C − 1) cmps (the max), C adds (x − max),
C special (exp), C − 1 adds (the sum), C divs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from convcalc.kinds.core import Cost, Kind, Layer, Shape, area, register, size
from convcalc.kinds.layout import elementwise, like
from convcalc.kinds.norm import all_channels, pointwise, same_shape
from convcalc.kinds.steps import Program, Run, count, in_place, low, saves_input, saves_output
from convcalc.kinds.values import boolean, number

if TYPE_CHECKING:
    from torch import nn

#: The element-wise activations without arguments (also the choices of SE's activation and gate).
ACTIVATIONS = ("relu", "relu6", "leaky_relu", "sigmoid", "tanh", "gelu", "silu", "hardswish", "hardsigmoid",
               "mish", "elu")


class ActArgs(NamedTuple):
    """Activations: ``alpha`` for elu (1.0), ``slope`` for leaky_relu (0.01)."""

    alpha: float = 1.0
    slope: float = 0.01
    #: write the result into the input (PyTorch's ``inplace=True``): changes memory, not the counts
    inplace: bool = False


class PReLUArgs(NamedTuple):
    per_channel: bool = False


class SoftmaxArgs(NamedTuple):
    """Softmax over the channels at each position."""


def compare_cost(layer: Layer, inp: Shape, out: Shape) -> Cost:
    """ReLU / ReLU6: cmps = C·H·W."""
    return Cost(cmps=size(inp))


def leaky_cost(layer: Layer, inp: Shape, out: Shape) -> Cost:
    """Leaky ReLU / PReLU: cmps = C·H·W, muls = C·H·W (PReLU: params 1, or C per channel)."""
    n = size(inp)
    params = (inp.c if layer.args.per_channel else 1) if isinstance(layer.args, PReLUArgs) else 0
    return Cost(params=params, cmps=n, muls=n)


def special_cost(layer: Layer, inp: Shape, out: Shape) -> Cost:
    """Sigmoid / tanh / GELU / hard-sigmoid: special = C·H·W."""
    return Cost(special=size(inp))


def gated_cost(layer: Layer, inp: Shape, out: Shape) -> Cost:
    """SiLU / hard-swish (x·gate(x)): muls = C·H·W, special = C·H·W."""
    n = size(inp)
    return Cost(muls=n, special=n)


def mish_cost(layer: Layer, inp: Shape, out: Shape) -> Cost:
    """Mish x·tanh(softplus(x)): muls = C·H·W, special = 2·C·H·W."""
    n = size(inp)
    return Cost(muls=n, special=2 * n)


def elu_cost(layer: Layer, inp: Shape, out: Shape) -> Cost:
    """ELU: cmps = adds = muls = special = C·H·W."""
    n = size(inp)
    return Cost(adds=n, muls=n, cmps=n, special=n)


def softmax_cost(layer: Layer, inp: Shape, out: Shape) -> Cost:
    """Softmax over C at each of the H·W positions: cmps = (C − 1)·HW, adds = (2C − 1)·HW, special = C·HW,
    divs = C·HW."""
    hw, c = area(inp), inp.c
    return Cost(adds=(2 * c - 1) * hw, cmps=(c - 1) * hw, special=c * hw, divs=c * hw)


#: The cost of each element-wise activation (SE uses it for its activation and gate).
ACT_COST = {
    "relu": compare_cost, "relu6": compare_cost, "leaky_relu": leaky_cost, "sigmoid": special_cost,
    "tanh": special_cost, "gelu": special_cost, "hardsigmoid": special_cost, "silu": gated_cost,
    "hardswish": gated_cost, "mish": mish_cost, "elu": elu_cost,
}


def activation_torch(layer: Layer, inp: Shape, out: Shape, probe: bool) -> nn.Module:
    """The ``torch.nn`` activation (the probe: an identity)."""
    from torch import nn

    from convcalc.kinds.torch_modules import make_activation

    a = layer.args
    if probe:
        return nn.Identity()
    if isinstance(a, PReLUArgs):
        return nn.PReLU(inp.c if a.per_channel else 1)
    if isinstance(a, SoftmaxArgs):
        return nn.Softmax(dim=1)
    if layer.kind == "elu":
        return nn.ELU(a.alpha, a.inplace)
    if layer.kind == "leaky_relu":
        return nn.LeakyReLU(a.slope, a.inplace)
    return make_activation(layer.kind, probe, a.inplace)


#: the activations PyTorch can run in place (``inplace=True``); of these, the ones whose derivative needs
#: only the result (so autograd saves the overwritten tensor itself rather than a copy of the input)
IN_PLACE = ("relu", "relu6", "leaky_relu", "silu", "hardswish", "hardsigmoid", "mish", "elu")
SAVES_RESULT_IN_PLACE = ("relu", "leaky_relu", "elu")
#: the activations whose derivative PyTorch computes from their result (saved), not from their input
SAVES_RESULT = ("relu", "sigmoid", "tanh", "softmax")


def activation_memory(layer: Layer, inp: Shape, out: Shape, run: Run) -> Program:
    """A new result; autograd saves the result for ReLU, sigmoid, tanh and softmax, the input for the others
    (ReLU6 is ``hardtanh``, which saves its input). In place (``inplace: true``): the result is the input's
    storage; ReLU, leaky ReLU and ELU then save it, the others save a copy of the input made before it is
    overwritten (so in place saves no memory in training for them). PReLU: one parameter tensor; under
    autocast it runs in the low dtype (its slope cast and saved), the others in their input's dtype.
    Strides: TensorIterator's of the input (in place: the input's); softmax's result is contiguous;
    PReLU's is ``empty_like`` its input."""
    n = count(*inp, run.batch)
    src = run.source(inp)
    if getattr(layer.args, "inplace", False) and run.inplace:
        return in_place(layer.kind in SAVES_RESULT_IN_PLACE, n, run.layout)
    if layer.kind in SAVES_RESULT:
        return saves_output(n, layout=() if layer.kind == "softmax" else elementwise(src[0], src))
    if isinstance(layer.args, PReLUArgs):
        (step,) = saves_input(n, 1).steps
        return Program((low(step, inp.c if layer.args.per_channel else 1),), 1, layout=like(src))
    return saves_input(n, layout=elementwise(src[0], src))


def _act(name: str, params: dict[str, object] | None = None) -> Kind:
    args = {**(params or {}), **({"inplace": boolean} if name in IN_PLACE else {})}
    return Kind(name, ActArgs, args, (), f"{name} activation", "activation", same_shape,  # type: ignore[arg-type]
                ACT_COST[name], pointwise, activation_torch, memory=activation_memory)


register(
    *(_act(a) for a in ACTIVATIONS if a not in ("elu", "leaky_relu")),
    _act("leaky_relu", {"slope": number}),
    _act("elu", {"alpha": number}),
    Kind("prelu", PReLUArgs, {"per_channel": boolean}, (), "PReLU (a learned slope, or one per channel)",
         "activation", same_shape, leaky_cost, pointwise, activation_torch, memory=activation_memory),
    Kind("softmax", SoftmaxArgs, {}, (), "softmax over the channels at each position", "activation",
         same_shape, softmax_cost, pointwise, activation_torch, channels=all_channels,
         memory=activation_memory),
)
