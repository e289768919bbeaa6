"""A neutral reading of convcalc specs: the spec *data* (the YAML as Python values) → ``torch.nn`` modules.

Written from the spec format (docs/spec-format.md, the kinds' docstrings, spec format 2's ``from:``, merges
and ``outputs:``) with plain ``torch.nn``, and from nothing of convcalc: not its graph, its exporter
(``convcalc.torch_export``, ``convcalc.kinds.torch_modules``) nor its shape rules. Shapes are whatever
PyTorch computes: the builder runs a sample tensor through every module as it adds it, so each layer is
built for the shape it really receives, and a spec the builder reads differently from convcalc shows up as
a different count, MAC total or output shape.

The subset read is what ``tests.strategies.specs(neutral=True)`` and ``tests.strategies_attention`` draw:

* layers: every kind but ``deform`` (the token and attention kinds: ``tests/neutral/attention.py``);
  explicit symmetric padding (an int, ``[h, w]``, ``[[t, t], [l, l]]`` or ``valid``), never TF ``same``;
  ``defaults: {bias: …, inplace: …}``; ``if:`` with a literal condition; ``inplace: true`` on the activations
  PyTorch can run in place and on dropout (``inplace=True``; ``defaults: {inplace: …}`` for the activations
  that do not set it);
* blocks: ``sequence``, ``residual`` (``shortcut``, ``projection``, a literal ``when``), ``branches``
  (``concat``/``add``/``mul``, ``split``), and, always named, ``repeat``, ``dense`` and ``side``; ``inplace:
  true`` on a residual, on branches merged by add and on an ``add`` item: the add is written into its first
  input (``first.add_(second)``, as torchvision's ``out += identity``; a residual's first input is its body's
  result);
* spec format 2: ``from:`` on any layer or block, the merges ``add``/``concat``/``mul`` with ``from:``
  (``previous`` is the stream above), broadcasting as PyTorch does, and ``outputs:``; ``alternatives``.

Names (for ``from:`` and ``outputs:``): a layer, merge or block named ``n`` in the scope ``p/`` (each named
block opens ``name/``; repeat and dense iterations ``name/k/``) is ``p/n``; a reference is looked up in the
innermost scope first, then each enclosing one, then as the unique name ending in ``/reference``.

Anything outside the subset raises :class:`Unsupported` (defined in ``tests/neutral/attention.py``) rather
than being guessed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from tests.neutral import attention
from tests.neutral.attention import Unsupported

Pair = tuple[int, int]
Shape = tuple[int, int, int]

MERGES = ("add", "concat", "mul")
BLOCKS = ("sequence", "residual", "branches", "repeat", "dense", "side")
BLOCK_ARGS = {"sequence": {"body"}, "residual": {"body", "shortcut", "projection", "when", "inplace"},
              "branches": {"paths", "merge", "split", "inplace"}, "repeat": {"n", "body"}, "dense": {"n", "body"},
              "side": {"body", "training_only"}}
CONV_LIKE = ("conv", "dwconv", "pwconv", "separable", "deconv")


# ---------------------------------------------------------------- modules torch.nn does not have as such


class ChannelLayerNorm(nn.Module):
    """LayerNorm over the channels at each position: N×C×H×W → channels last → ``nn.LayerNorm(C)`` → back."""

    def __init__(self, c: int, eps: float, affine: bool, bias: bool) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(c, eps=eps, elementwise_affine=affine, bias=bias and affine)

    def forward(self, x: Tensor) -> Tensor:
        y: Tensor = self.norm(x.permute(0, 2, 3, 1))
        return y.permute(0, 3, 1, 2)


class ChannelAffine(nn.Module):
    """y = x·γ + β per channel (γ, β learned where asked); used after a normalisation without its own."""

    def __init__(self, c: int, scale: bool, shift: bool) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(1, c, 1, 1)) if scale else None
        self.beta = nn.Parameter(torch.zeros(1, c, 1, 1)) if shift else None

    def forward(self, x: Tensor) -> Tensor:
        if self.gamma is not None:
            x = x * self.gamma
        if self.beta is not None:
            x = x + self.beta
        return x


class Constant(nn.Module):
    """Multiplication by a fixed number."""

    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = value

    def forward(self, x: Tensor) -> Tensor:
        return x * self.value


class SqueezeExcitation(nn.Module):
    """mean over H, W → 1×1 conv C→width (bias) → activation → 1×1 conv width→C (bias) → gate → x · gate."""

    def __init__(self, c: int, width: int, act: nn.Module, gate: nn.Module) -> None:
        super().__init__()
        self.squeeze = nn.Conv2d(c, width, 1)
        self.act = act
        self.excite = nn.Conv2d(width, c, 1)
        self.gate = gate

    def forward(self, x: Tensor) -> Tensor:
        s = x.mean(dim=(2, 3), keepdim=True)
        g: Tensor = self.gate(self.excite(self.act(self.squeeze(s))))
        return x * g


class StochasticDepth(nn.Module):
    """Stochastic depth per sample, as torchvision's ``StochasticDepth(p, "row")`` (``stochastic_depth``):
    in training ``x · noise`` with a Bernoulli(1 − p) noise of N×1×1×1 scaled by 1/(1 − p); the identity at
    inference or with p = 0."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0.0:
            return x
        survival = 1.0 - self.p
        noise = torch.empty([x.shape[0]] + [1] * (x.ndim - 1), dtype=x.dtype, device=x.device)
        noise = noise.bernoulli_(survival)
        if survival > 0.0:
            noise.div_(survival)
        return x * noise


class ChannelShuffle(nn.Module):
    """ShuffleNet's channel shuffle as torchvision's ``shufflenetv2.channel_shuffle`` writes it: view as
    N×g×(C/g)×H×W, swap the two channel axes, ``contiguous()``, view as N×C×H×W. (Not ``nn.ChannelShuffle``:
    its native kernel copies the map even where the shuffle moves nothing, with 1 or C groups.)"""

    def __init__(self, groups: int) -> None:
        super().__init__()
        self.groups = groups

    def forward(self, x: Tensor) -> Tensor:
        n, c, h, w = x.shape
        x = x.view(n, self.groups, c // self.groups, h, w)
        x = torch.transpose(x, 1, 2).contiguous()
        return x.view(n, c, h, w)


class Vector(nn.Module):
    """A module on N×C flattened vectors, kept as N×C×1×1 maps (a linear layer, a flatten)."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x: Tensor) -> Tensor:
        y: Tensor = self.inner(torch.flatten(x, 1))
        return y.reshape(y.shape[0], -1, 1, 1)


# ---------------------------------------------------------------- the network


@dataclass
class Op:
    """One step of the program: a module on one value, a merge of values, or a channel slice."""

    kind: str  # "module", "add", "mul", "concat", "slice"
    inputs: tuple[int, ...]
    module: int = -1
    start: int = 0
    stop: int = 0
    training_only: bool = False
    #: an add written into its first input (``first.add_(second)``)
    inplace: bool = False


@dataclass
class Built:
    """What the builder learnt besides the module (for the test's messages and MAC accounting)."""

    #: full name of every named layer, merge and block → its value
    names: dict[str, int] = field(default_factory=dict)
    #: the kind of each module, by module index
    kinds: list[str] = field(default_factory=list)
    #: MACs of bilinear interpolation (4 per output element; FlopCounterMode sees none), inference only
    interpolation_macs: int = 0


class NeutralNet(nn.Module):
    """A model built from spec data. ``forward`` returns the outputs (a tuple, in ``outputs:`` order);
    :meth:`forward_outputs` returns them by name (the last value's name is ``""`` when none are declared)."""

    def __init__(self, name: str, input_shape: Shape) -> None:
        super().__init__()
        self.model_name = name
        self.input_shape = input_shape
        self.mods = nn.ModuleList()
        self.ops: list[Op] = []
        self.outputs: list[tuple[str, int]] = []
        #: the full name each declared output resolves to (empty when none are declared)
        self.output_names: list[str] = []
        self.shapes: list[Shape] = [input_shape]  # per value: value 0 is the input, op k makes value k + 1
        self.info = Built()

    def _run(self, x: Tensor) -> list[Tensor | None]:
        values: list[Tensor | None] = [x]
        for op in self.ops:
            if op.training_only and not self.training:
                values.append(None)
                continue
            args = [values[i] for i in op.inputs]
            assert all(a is not None for a in args), "a value of a training-only branch used in eval mode"
            ts = [a for a in args if a is not None]
            if op.kind == "module":
                values.append(self.mods[op.module](ts[0]))
            elif op.kind == "slice":
                values.append(ts[0][:, op.start:op.stop])
            elif op.kind == "concat":
                values.append(torch.cat(ts, 1))
            elif op.inplace:
                total = ts[0]
                for t in ts[1:]:
                    total = total.add_(t)
                values.append(total)
            else:
                total = ts[0]
                for t in ts[1:]:
                    total = total + t if op.kind == "add" else total * t
                values.append(total)
        return values

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        values = self._run(x)
        outs = [values[i] for _, i in self.outputs]
        assert all(o is not None for o in outs)
        return tuple(o for o in outs if o is not None)

    def forward_outputs(self, x: Tensor) -> dict[str, Tensor]:
        return dict(zip((n for n, _ in self.outputs), self(x), strict=True))


# ---------------------------------------------------------------- reading values


def pair(v: Any) -> Pair:
    if isinstance(v, list):
        if len(v) != 2 or not all(type(x) is int for x in v):
            raise Unsupported(f"expected [h, w], found {v!r}")
        return v[0], v[1]
    if type(v) is not int:
        raise Unsupported(f"expected an integer, found {v!r}")
    return v, v


def padding(v: Any) -> Pair:
    """Symmetric explicit padding (per axis)."""
    if v == "valid":
        return 0, 0
    if isinstance(v, list) and len(v) == 2 and all(isinstance(x, list) for x in v):
        (t, b), (left, right) = pair(v[0]), pair(v[1])
        if t != b or left != right:
            raise Unsupported(f"asymmetric padding {v!r}")
        return t, left
    if isinstance(v, str):
        raise Unsupported(f"padding {v!r}")
    return pair(v)


def flag(v: Any) -> bool:
    if not isinstance(v, bool):
        raise Unsupported(f"expected true or false, found {v!r}")
    return v


def literal_condition(v: Any) -> bool:
    if isinstance(v, bool) or type(v) is int:
        return bool(v)
    raise Unsupported(f"condition {v!r} (only literal ones)")


def inplace(a: dict[str, Any]) -> bool:
    return flag(a.get("inplace", False))


ACTIVATIONS: dict[str, Callable[[dict[str, Any], int], nn.Module]] = {
    "relu": lambda a, c: nn.ReLU(inplace(a)),
    "relu6": lambda a, c: nn.ReLU6(inplace(a)),
    "leaky_relu": lambda a, c: nn.LeakyReLU(float(a.get("slope", 0.01)), inplace(a)),
    "sigmoid": lambda a, c: nn.Sigmoid(),
    "tanh": lambda a, c: nn.Tanh(),
    "gelu": lambda a, c: nn.GELU(),
    "silu": lambda a, c: nn.SiLU(inplace(a)),
    "hardswish": lambda a, c: nn.Hardswish(inplace(a)),
    "hardsigmoid": lambda a, c: nn.Hardsigmoid(inplace(a)),
    "mish": lambda a, c: nn.Mish(inplace(a)),
    "elu": lambda a, c: nn.ELU(float(a.get("alpha", 1.0)), inplace(a)),
    "prelu": lambda a, c: nn.PReLU(c if flag(a.get("per_channel", False)) else 1),
    "softmax": lambda a, c: nn.Softmax(dim=1),
}
#: the activations with PyTorch's ``inplace=True``
IN_PLACE = ("relu", "relu6", "leaky_relu", "silu", "hardswish", "hardsigmoid", "mish", "elu")

#: The arguments each kind takes (anything else is outside the subset or a mistake: an error).
ARGS: dict[str, set[str]] = {
    "conv": {"out", "kernel", "stride", "padding", "dilation", "groups", "bias"},
    "dwconv": {"kernel", "stride", "padding", "dilation", "multiplier", "bias"},
    "pwconv": {"out", "stride", "groups", "bias"},
    "separable": {"out", "kernel", "stride", "padding", "dilation", "multiplier", "bias"},
    "deconv": {"out", "kernel", "stride", "padding", "output_padding", "dilation", "groups", "bias"},
    "maxpool": {"kernel", "stride", "padding", "dilation", "ceil_mode"},
    "avgpool": {"kernel", "stride", "padding", "ceil_mode", "count_include_pad"},
    "global_avgpool": set(), "global_maxpool": set(),
    "adaptive_avgpool": {"size"}, "adaptive_maxpool": {"size"},
    "bn": {"scale", "center"},
    "layernorm": {"affine", "bias", "eps"}, "groupnorm": {"groups", "affine", "bias", "eps"},
    "layer_scale": {"init"}, "scale": {"value"},
    "linear": {"out", "bias"}, "flatten": set(), "dropout": {"p", "inplace"}, "drop_path": {"p"}, "identity": set(),
    "channel_shuffle": {"groups"}, "pixel_shuffle": {"factor"}, "pixel_unshuffle": {"factor"},
    "dfl": {"bins", "shared"},
    "se": {"reduction", "width", "activation", "gate"}, "upsample": {"scale", "size", "mode", "align_corners"},
    "leaky_relu": {"slope", "inplace"}, "elu": {"alpha", "inplace"}, "prelu": {"per_channel"},
    **{k: set() for k in ("sigmoid", "tanh", "gelu", "softmax")},
    **{k: {"inplace"} for k in ("relu", "relu6", "silu", "hardswish", "hardsigmoid", "mish")},
    **attention.ARGS,
}


class DFL(nn.Module):
    """Ultralytics' ``DFL`` (``ultralytics/nn/modules/block.py``) on a map: a bias-free 1×1 conv of c1 = bins
    inputs whose weight is 0 … bins − 1 and takes no gradient, applied to the softmax over each side's bins;
    ``shared``: Ultralytics' one module serving several levels (its weight counted once, at the first)."""

    def __init__(self, bins: int, shared: bool) -> None:
        super().__init__()
        conv = nn.Conv2d(bins, 1, 1, bias=False).requires_grad_(False)
        conv.weight.data[:] = torch.arange(bins, dtype=torch.float).view(1, bins, 1, 1)
        self.bins = bins
        if shared:  # not a submodule: its weight (still a parameter) is counted at another level
            self.__dict__["conv"] = conv
        else:
            self.conv = conv

    def forward(self, x: Tensor) -> Tensor:
        b, _, h, w = x.shape
        return self.conv(x.view(b, 4, self.bins, h * w).transpose(2, 1).softmax(1)).view(b, 4, h, w)


def layer_module(kind: str, a: dict[str, Any], shape: Shape, bias_default: bool) -> nn.Module:
    """The module of one layer on an input of ``shape`` (C, H, W)."""
    c = shape[0]
    if kind in CONV_LIKE:
        bias = flag(a.get("bias", bias_default))
        k = pair(a.get("kernel", 1))
        s = pair(a.get("stride", 1))
        p = padding(a.get("padding", 0))
        d = pair(a.get("dilation", 1))
        if kind == "conv":
            return nn.Conv2d(c, a["out"], k, s, p, d, a.get("groups", 1), bias)
        if kind == "dwconv":
            return nn.Conv2d(c, c * a.get("multiplier", 1), k, s, p, d, c, bias)
        if kind == "pwconv":
            return nn.Conv2d(c, a["out"], 1, s, 0, 1, a.get("groups", 1), bias)
        if kind == "separable":
            mid = c * a.get("multiplier", 1)
            return nn.Sequential(nn.Conv2d(c, mid, k, s, p, d, c, bias), nn.Conv2d(mid, a["out"], 1, bias=bias))
        return nn.ConvTranspose2d(c, a["out"], k, s, p, pair(a.get("output_padding", 0)), a.get("groups", 1), bias, d)
    if kind == "maxpool":
        k = pair(a["kernel"])
        return nn.MaxPool2d(k, pair(a.get("stride", list(k))), padding(a.get("padding", 0)), pair(a.get("dilation", 1)),
                            ceil_mode=flag(a.get("ceil_mode", False)))
    if kind == "avgpool":
        k = pair(a["kernel"])
        return nn.AvgPool2d(k, pair(a.get("stride", list(k))), padding(a.get("padding", 0)),
                            flag(a.get("ceil_mode", False)), flag(a.get("count_include_pad", True)))
    if kind in ("global_avgpool", "global_maxpool"):
        return nn.AdaptiveAvgPool2d(1) if kind == "global_avgpool" else nn.AdaptiveMaxPool2d(1)
    if kind in ("adaptive_avgpool", "adaptive_maxpool"):
        size = pair(a["size"])
        return nn.AdaptiveAvgPool2d(size) if kind == "adaptive_avgpool" else nn.AdaptiveMaxPool2d(size)
    if kind == "bn":
        scale, center = flag(a.get("scale", True)), flag(a.get("center", True))
        if scale and center:
            return nn.BatchNorm2d(c)
        return nn.Sequential(nn.BatchNorm2d(c, affine=False), ChannelAffine(c, scale, center))
    if kind == "layernorm":
        return ChannelLayerNorm(c, float(a.get("eps", 1e-5)), flag(a.get("affine", True)), flag(a.get("bias", True)))
    if kind == "groupnorm":
        affine = flag(a.get("affine", True))
        # torch.nn's own GroupNorm (γ, and β unless bias: false), as a user writes it: F.group_norm with the
        # parameters, not a normalisation followed by a separate x·γ + β (which saves the normalised map)
        return nn.GroupNorm(a["groups"], c, float(a.get("eps", 1e-5)), affine=affine,
                            bias=affine and flag(a.get("bias", True)))
    if kind == "layer_scale":
        gamma = ChannelAffine(c, True, False)
        with torch.no_grad():
            assert gamma.gamma is not None
            gamma.gamma.fill_(float(a.get("init", 1e-6)))
        return gamma
    if kind == "scale":
        return Constant(float(a["value"]))
    if kind in ACTIVATIONS:
        return ACTIVATIONS[kind](a, c)
    if kind in attention.ARGS:
        return attention.token_module(kind, a, shape)
    if kind == "linear":
        if shape[1] == 1 and shape[2] > 1:  # a token sequence C×1×T
            return attention.linear_module(a, shape, flag(a.get("bias", True)))
        if shape[1:] != (1, 1):
            raise Unsupported(f"linear on {shape}")
        return Vector(nn.Linear(c, a["out"], flag(a.get("bias", True))))
    if kind == "flatten":
        return Vector(nn.Identity())
    if kind == "dropout":
        return nn.Dropout(float(a.get("p", 0.5)), inplace(a))
    if kind == "drop_path":
        return StochasticDepth(float(a.get("p", 0.5)))
    if kind == "identity":
        return nn.Identity()
    if kind == "channel_shuffle":
        return ChannelShuffle(a["groups"])
    if kind == "pixel_shuffle":
        return nn.PixelShuffle(a["factor"])
    if kind == "pixel_unshuffle":
        return nn.PixelUnshuffle(a["factor"])
    if kind == "dfl":
        return DFL(a.get("bins", 16), a.get("shared", False))
    if kind == "se":
        width = a["width"] if "width" in a else max(1, c // a["reduction"])
        act, gate = a.get("activation", "relu"), a.get("gate", "sigmoid")
        return SqueezeExcitation(c, width, ACTIVATIONS[act]({}, width), ACTIVATIONS[gate]({}, c))
    if kind == "upsample":
        mode = a.get("mode", "nearest")
        corners = flag(a.get("align_corners", False))
        if corners and mode != "bilinear":
            raise Unsupported("align_corners without mode: bilinear")
        # PyTorch's align_corners: false samples output v at (v + 1/2)·i/o − 1/2, true at v·(i − 1)/(o − 1)
        extra = {"align_corners": corners} if mode == "bilinear" else {}
        if "size" in a:
            return nn.Upsample(size=pair(a["size"]), mode=mode, **extra)
        f = a["scale"] if isinstance(a["scale"], list) else [a["scale"], a["scale"]]
        return nn.Upsample(scale_factor=(float(f[0]), float(f[1])), mode=mode, **extra)
    raise Unsupported(f"layer kind {kind!r}")


# ---------------------------------------------------------------- the walk


class _Walk:
    def __init__(self, net: NeutralNet, defaults: dict[str, Any]) -> None:
        self.net = net
        self.bias = flag(defaults.get("bias", True))
        self.inplace = None if "inplace" not in defaults else flag(defaults["inplace"])
        self.samples: list[Tensor] = [torch.randn(2, *net.input_shape)]
        self.training_only = False

    # ------------------------------------------------------------ values

    def shape(self, v: int) -> Shape:
        return self.net.shapes[v]

    def emit(self, op: Op, sample: Tensor) -> int:
        op.training_only = self.training_only
        self.net.ops.append(op)
        self.samples.append(sample)
        self.net.shapes.append((sample.shape[1], sample.shape[2], sample.shape[3]))
        return len(self.samples) - 1

    def name(self, full: str, v: int) -> None:
        if full in self.net.info.names:
            raise Unsupported(f"duplicate name {full!r}")
        self.net.info.names[full] = v

    def full_name(self, ref: Any, prefix: str) -> str:
        """The full name a reference means: in the innermost scope first, then each enclosing scope, then the
        unique earlier name ending in ``/ref``."""
        if not isinstance(ref, str) or not ref:
            raise Unsupported(f"reference {ref!r}")
        known = self.net.info.names
        parts = prefix.rstrip("/").split("/") if prefix else []
        for depth in range(len(parts), -1, -1):
            full = "/".join([*parts[:depth], ref])
            if full in known:
                return full
        ends = [n for n in known if n.endswith("/" + ref)]
        if len(ends) != 1:
            raise Unsupported(f"reference {ref!r} from {prefix!r}: {len(ends)} candidates")
        return ends[0]

    def resolve(self, ref: Any, prefix: str) -> int:
        return self.net.info.names[self.full_name(ref, prefix)]

    # ------------------------------------------------------------ items

    def seq(self, items: Any, x: int, prefix: str) -> int:
        if not isinstance(items, list):
            raise Unsupported(f"a layer list, found {items!r}")
        for item in items:
            x = self.item(item, x, prefix)
        return x

    def item(self, item: Any, x: int, prefix: str) -> int:
        args: dict[str, Any]
        if isinstance(item, str):
            kind, args = item, {}
        elif isinstance(item, dict) and len(item) == 1:
            ((kind, args),) = item.items()
            args = dict(args or {})
        else:
            raise Unsupported(f"item {item!r}")
        if "if" in args and not literal_condition(args.pop("if")):
            return x
        name = args.pop("name", None)
        if kind in MERGES:
            refs = args.pop("from")
            into = flag(args.pop("inplace", False))
            if args:
                raise Unsupported(f"{kind} arguments {sorted(args)}")
            if into and kind != "add":
                raise Unsupported(f"a {kind} in place")
            refs = refs if isinstance(refs, list) else [refs]
            ins = [x if r == "previous" else self.resolve(r, prefix) for r in refs]
            v = self.merge(kind, ins, into)
            if name is not None:
                self.name(prefix + str(name), v)
            return v
        if "from" in args:
            x = self.resolve(args.pop("from"), prefix)
        if kind in BLOCKS:
            inner = prefix if name is None else f"{prefix}{name}/"
            if name is None and kind in ("repeat", "dense", "side"):
                raise Unsupported(f"an unnamed {kind} (its automatic name segment is convcalc's)")
            if set(args) - BLOCK_ARGS[kind]:
                raise Unsupported(f"{kind} arguments {sorted(set(args) - BLOCK_ARGS[kind])}")
            out: int = getattr(self, kind)(args, x, inner)
            if name is not None:
                self.name(prefix + str(name), out)
            return out
        if kind not in ARGS:
            raise Unsupported(f"layer kind {kind!r}")
        extra = set(args) - ARGS[kind]
        if extra:
            raise Unsupported(f"{kind} arguments {sorted(extra)}")
        if kind in IN_PLACE and "inplace" not in args and self.inplace is not None:
            args["inplace"] = self.inplace
        v = self.layer(kind, args, x)
        if name is not None:
            self.name(prefix + str(name), v)
        return v

    def layer(self, kind: str, args: dict[str, Any], x: int) -> int:
        module = layer_module(kind, args, self.shape(x), self.bias).eval()
        with torch.no_grad():
            y = module(self.samples[x])
        self.net.mods.append(module)
        self.net.info.kinds.append(kind)
        if kind == "upsample" and args.get("mode") == "bilinear" and not self.training_only:
            self.net.info.interpolation_macs += 4 * y.shape[1] * y.shape[2] * y.shape[3]
        return self.emit(Op("module", (x,), len(self.net.mods) - 1), y)

    def merge(self, kind: str, inputs: list[int], inplace: bool = False) -> int:
        ts = [self.samples[i] for i in inputs]
        if kind == "concat":
            y = torch.cat(ts, 1)
        else:
            y = ts[0]
            for t in ts[1:]:
                y = y + t if kind == "add" else y * t
        if inplace and y.shape != ts[0].shape:
            raise Unsupported(f"an add in place into {tuple(ts[0].shape[1:])} broadcasting to {tuple(y.shape[1:])}")
        return self.emit(Op(kind, tuple(inputs), inplace=inplace), y)

    # ------------------------------------------------------------ blocks

    def sequence(self, a: dict[str, Any], x: int, prefix: str) -> int:
        return self.seq(a["body"], x, prefix)

    def residual(self, a: dict[str, Any], x: int, prefix: str) -> int:
        y = self.seq(a["body"], x, prefix)
        if not literal_condition(a.get("when", True)):
            return y
        if "shortcut" in a:
            skip = self.seq(a["shortcut"], x, prefix)
        elif "projection" in a and self.shape(y) != self.shape(x):
            skip = self.seq(a["projection"], x, prefix)
        else:
            skip = x
        return self.merge("add", [y, skip], flag(a.get("inplace", False)))

    def branches(self, a: dict[str, Any], x: int, prefix: str) -> int:
        paths = a["paths"]
        split = a.get("split", False)
        ins = [x] * len(paths)
        if split is not False:
            c = self.shape(x)[0]
            sizes = [c // len(paths)] * len(paths) if split is True else list(split)
            start, ins = 0, []
            for size in sizes:
                sample = self.samples[x][:, start:start + size]
                ins.append(self.emit(Op("slice", (x,), start=start, stop=start + size), sample))
                start += size
        outs = [self.seq(p, i, prefix) if p != [] else i for p, i in zip(paths, ins, strict=True)]
        into = flag(a.get("inplace", False))
        if into and a.get("merge", "concat") != "add":
            raise Unsupported(f"branches merged by {a.get('merge', 'concat')} in place")
        return self.merge(a.get("merge", "concat"), outs, into)

    def repeat(self, a: dict[str, Any], x: int, prefix: str) -> int:
        for k in range(a["n"]):
            x = self.seq(a["body"], x, f"{prefix}{k}/")
        return x

    def dense(self, a: dict[str, Any], x: int, prefix: str) -> int:
        feats = [x]
        for k in range(a["n"]):
            xin = feats[0] if len(feats) == 1 else self.merge("concat", feats)
            feats.append(self.seq(a["body"], xin, f"{prefix}{k}/"))
        return self.merge("concat", feats)

    def side(self, a: dict[str, Any], x: int, prefix: str) -> int:
        before = self.training_only
        self.training_only = before or flag(a.get("training_only", False))
        self.seq(a["body"], x, prefix)
        self.training_only = before
        return x


def _input(v: Any) -> Shape:
    if not isinstance(v, dict) or set(v) - {"channels", "height", "width", "size"}:
        raise Unsupported(f"input {v!r}")
    h, w = (v["size"], v["size"]) if "size" in v else (v["height"], v["width"])
    return v["channels"], h, w


def build(spec: dict[str, Any]) -> list[NeutralNet]:
    """One module per model of the spec (one, or one per alternative), in ``eval()`` mode."""
    if "blocks" in spec and spec["blocks"]:
        raise Unsupported("named blocks (templates)")
    defaults = dict(spec.get("defaults") or {})
    if set(defaults) - {"bias", "inplace"}:
        raise Unsupported(f"defaults {sorted(set(defaults) - {'bias', 'inplace'})}")
    models = [("", spec["input"], spec["layers"], spec.get("outputs"))] if "layers" in spec else [
        (alt["name"], alt.get("input", spec.get("input")), alt["layers"], alt.get("outputs", spec.get("outputs")))
        for alt in spec["alternatives"]]
    nets = []
    for name, inp, layers, outputs in models:
        net = NeutralNet(name, _input(inp))
        walk = _Walk(net, defaults)
        last = walk.seq(layers, 0, "")
        if outputs is None:
            net.outputs = [("", last)]
        else:
            refs = outputs if isinstance(outputs, list) else [outputs]
            net.outputs = [(str(r), walk.resolve(r, "")) for r in refs]
            net.output_names = [walk.full_name(r, "") for r in refs]
        nets.append(net.eval())
    return nets
