"""The support of every unit of a :class:`~tests.neutral.builder.NeutralNet`, measured on a linear positive probe.

The probe is the built network with every learned weight 1/fan-in, every bias 0, and each module replaced by a
linear map with positive coefficients over the same inputs (so that a unit depends on an input pixel exactly
when some path of non-zero taps joins them; nothing cancels, nothing saturates):

* convolutions (transposed, grouped, depthwise, separable) and linear layers: themselves;
* activations, batch norm, layer_scale, scale, dropout, drop_path, identity: the identity;
* layernorm and softmax (over the channels at a position): x + the mean of x over the channels;
* bilinear upsampling: PyTorch's own weights less its float rounding (:class:`Resampled`);
* max pools: the mean over the same window (kernel, stride, padding, dilation, ceil_mode's overhang);
  adaptive and global max pools: the adaptive average pool of the same size;
* groupnorm: x + the mean of x over its group (the group's channels and every position);
* squeeze-and-excitation: x + excite(squeeze(mean of x)), broadcast over the map;
* dfl: each box side's sum over its bins (the softmax and the expectation read them all);
* merges: ``add`` and ``mul`` both add (the support of a product is the union of its factors'; a product
  would lose a factor wherever the other is 0, e.g. a transposed conv's unit that reads nothing); ``concat``
  and channel slices, pooling, resampling, pixel and channel shuffles, flatten: themselves.

``gates``: what the global side paths do. ``"full"``: they take part. ``"drop"`` (the local field, measured
forwards): the SE's and groupnorm's global terms and every C×1×1 operand broadcast over a larger map in an
``add`` or ``mul`` are left out. ``"detach"`` (the local field, measured backwards): they are computed from
detached values, so no gradient flows through them.

:func:`forward_supports` measures by the transpose of back-propagation, which for a linear map is the same
Jacobian: one forward pass of one-hot input pixels (every channel of pixel p at 1) gives, for every unit of
every value, which pixels reach it. :func:`backward_supports` back-propagates from chosen units (sample k of
a batch from unit k: the probe has no cross-sample op) and is the cross-check of the first on a few specs.
Imports nothing of convcalc.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from tests.neutral.builder import ACTIVATIONS, CONV_LIKE, NeutralNet, SqueezeExcitation

IDENTITIES = {*ACTIVATIONS, "bn", "layer_scale", "scale", "dropout", "drop_path", "identity"} - {"softmax"}
KEPT = {"avgpool", "global_avgpool", "adaptive_avgpool", "channel_shuffle", "pixel_shuffle", "pixel_unshuffle",
        "upsample", "flatten"}
GATES = ("full", "drop", "detach")


def _positive(m: nn.Module) -> nn.Module:
    """A float64 copy with every weight 1/fan-in and every bias 0."""
    m = copy.deepcopy(m).double()
    with torch.no_grad():
        for sub in m.modules():
            if isinstance(sub, nn.ConvTranspose2d):
                sub.weight.fill_(1.0 / (sub.weight.shape[0] // sub.groups * sub.weight[0, 0].numel()))
            elif isinstance(sub, nn.Conv2d | nn.Linear):
                sub.weight.fill_(1.0 / sub.weight[0].numel())
            else:
                continue
            if sub.bias is not None:
                sub.bias.zero_()
    return m


class WindowMean(nn.Module):
    """A max pool's windows, averaged: zero padding p at the start, at the end p or as much as the last
    window (ceil_mode) reaches, a depthwise mean of kernel taps ``dilation`` apart, cropped to PyTorch's size."""

    def __init__(self, pool: nn.MaxPool2d, out: tuple[int, int]) -> None:
        super().__init__()

        def two(v: object) -> tuple[int, int]:
            return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))  # type: ignore[index]

        self.k, self.s, self.p, self.d = (two(v) for v in (pool.kernel_size, pool.stride, pool.padding, pool.dilation))
        self.out = out

    def forward(self, x: Tensor) -> Tensor:
        c, size = x.shape[1], x.shape[2:]
        ends = [max(p, (o - 1) * s + d * (k - 1) + 1 - n - p)
                for n, o, k, s, p, d in zip(size, self.out, self.k, self.s, self.p, self.d, strict=True)]
        x = F.pad(x, (self.p[1], ends[1], self.p[0], ends[0]))
        w = x.new_full((c, 1, *self.k), 1.0 / (self.k[0] * self.k[1]))
        y = F.conv2d(x, w, None, self.s, 0, self.d, c)
        return y[:, :, :self.out[0], :self.out[1]]


class Resampled(nn.Module):
    """Bilinear resampling with PyTorch's own weights (read off the module on one-hot inputs of the map's
    size), less the taps its float arithmetic adds: where the exact sample position (u + 1/2)·i/o − 1/2 is
    an integer but i/o is not a binary fraction, the kernel's fused multiply-add leaves a weight of about
    1e-17 on the next row (every real tap weighs at least 1/(2·o)² > 1e-5 here)."""

    weights: Tensor

    def __init__(self, up: nn.Module, size: tuple[int, int]) -> None:
        super().__init__()
        h, w = size
        with torch.no_grad():
            y = up(torch.eye(h * w, dtype=torch.float64).reshape(h * w, 1, h, w))
        self.out = (y.shape[2], y.shape[3])
        weights = y.reshape(h * w, -1).T.contiguous()  # (out units, in units)
        self.register_buffer("weights", torch.where(weights.abs() < 1e-9, 0.0, weights))

    def forward(self, x: Tensor) -> Tensor:
        n, c = x.shape[:2]
        y = x.reshape(n * c, -1) @ self.weights.T
        return y.reshape(n, c, *self.out)


class ChannelMean(nn.Module):
    """x + its mean over the channels at each position (layernorm's and softmax's reach)."""

    def forward(self, x: Tensor) -> Tensor:
        return x + x.mean(1, keepdim=True)


def _global(x: Tensor, gates: str) -> Tensor:
    return x.detach() if gates == "detach" else x


class GroupMean(nn.Module):
    """x + the mean of x over its group (the group's channels and all positions): groupnorm's statistics."""

    def __init__(self, groups: int, gates: str) -> None:
        super().__init__()
        self.groups, self.gates = groups, gates

    def forward(self, x: Tensor) -> Tensor:
        if self.gates == "drop":
            return x
        n, c, h, w = x.shape
        m = _global(x, self.gates).reshape(n, self.groups, -1).mean(2, keepdim=True)
        return x + m.expand(n, self.groups, c // self.groups * h * w).reshape(n, c, h, w)


class SEProbe(nn.Module):
    """x + excite(squeeze(mean of x)) broadcast over the map (the SE's activations as identities)."""

    def __init__(self, se: SqueezeExcitation, gates: str) -> None:
        super().__init__()
        self.squeeze, self.excite = _positive(se.squeeze), _positive(se.excite)
        self.gates = gates

    def forward(self, x: Tensor) -> Tensor:
        if self.gates == "drop":
            return x
        g: Tensor = self.excite(self.squeeze(_global(x, self.gates).mean(dim=(2, 3), keepdim=True)))
        return x + g


class BinSum(nn.Module):
    """DFL's probe: each of the 4 box sides the sum of its ``bins`` channels (its softmax and expectation)."""

    def __init__(self, bins: int) -> None:
        super().__init__()
        self.bins = bins

    def forward(self, x: Tensor) -> Tensor:
        n, _, h, w = x.shape
        return x.view(n, 4, self.bins, h, w).sum(2)


def probe_module(kind: str, m: nn.Module, size: tuple[int, int], out: tuple[int, int], gates: str) -> nn.Module:
    """The probe's stand-in for the built module of a layer of ``kind`` (input height and width ``size``,
    output ``out``)."""
    if kind == "upsample" and isinstance(m, nn.Upsample) and m.mode == "bilinear":
        return Resampled(m, size)
    if kind in CONV_LIKE or kind == "linear":
        return _positive(m)
    if kind in IDENTITIES:
        return nn.Identity()
    if kind in KEPT:
        return copy.deepcopy(m)
    if kind in ("layernorm", "softmax"):
        return ChannelMean()
    if kind == "maxpool":
        assert isinstance(m, nn.MaxPool2d)
        return WindowMean(m, out)
    if kind in ("global_maxpool", "adaptive_maxpool"):
        assert isinstance(m, nn.AdaptiveMaxPool2d)
        return nn.AdaptiveAvgPool2d(m.output_size)
    if kind == "groupnorm":
        assert isinstance(m, nn.GroupNorm)
        return GroupMean(m.num_groups, gates)
    if kind == "se":
        assert isinstance(m, SqueezeExcitation)
        return SEProbe(m, gates)
    if kind == "dfl":  # the softmax over a side's bins mixes them all: each side's sum of its bins
        return BinSum(int(getattr(m, "bins")))
    raise ValueError(f"no probe for {kind!r}")


class Probe:
    """The probe of a built network (see the module docstring). Value k is the analysis's node k."""

    def __init__(self, net: NeutralNet, gates: str = "full") -> None:
        assert gates in GATES
        self.net, self.gates = net, gates
        self.mods: list[nn.Module] = [nn.Identity()] * len(net.mods)
        for k, op in enumerate(net.ops):  # op k makes value k + 1
            if op.kind == "module":
                self.mods[op.module] = probe_module(net.info.kinds[op.module], net.mods[op.module],
                                                    net.shapes[op.inputs[0]][1:], net.shapes[k + 1][1:], gates)
        #: the last op (as the value it makes) that reads each value
        self.last: dict[int, int] = {}
        for k, op in enumerate(net.ops, 1):
            for i in op.inputs:
                self.last[i] = k

    def gate(self, i: int, out: int) -> bool:
        """Whether value i is a C×1×1 operand broadcast over the larger map of merge value ``out``."""
        (_, h, w), (_, oh, ow) = self.net.shapes[i], self.net.shapes[out]
        return h * w == 1 < oh * ow

    def values(self, x: Tensor, seen: Callable[[int, Tensor], None] | None = None) -> list[Tensor | None]:
        """Every value of the probe on input x (value 0), every op run (training-only ones too). ``seen``:
        called with each value as it is made, which is then freed once no later op reads it (None in the
        list returned)."""
        out: list[Tensor | None] = [x]
        if seen is not None:
            seen(0, x)
        for k, op in enumerate(self.net.ops, 1):
            merge = op.kind in ("add", "mul")
            ins = [i for i in op.inputs if not (merge and self.gates == "drop" and self.gate(i, k))]
            args = [out[i] for i in ins]
            ts = [t for t in args if t is not None]
            assert len(ts) == len(args), "a value freed too early"
            if op.kind == "module":
                y = self.mods[op.module](ts[0])
            elif op.kind == "slice":
                y = ts[0][:, op.start:op.stop]
            elif op.kind == "concat":
                y = torch.cat(ts, 1)
            else:
                if self.gates == "detach":
                    ts = [t.detach() if self.gate(i, k) else t for i, t in zip(ins, ts, strict=True)]
                y = ts[0]
                for t in ts[1:]:
                    y = y + t
            out.append(y)
            if seen is not None:
                seen(k, y)
                for i in [*op.inputs, k]:
                    if self.last.get(i, 0) <= k:
                        out[i] = None
        return out


def one_hot(shape: Sequence[int], pixels: range) -> Tensor:
    """A batch of inputs: sample j has every channel of pixel pixels[j] (row-major) at 1, the rest 0."""
    c, h, w = shape
    x = torch.zeros(len(pixels), c, h * w, dtype=torch.float64)
    x[torch.arange(len(pixels)), :, torch.tensor(list(pixels))] = 1.0
    return x.reshape(len(pixels), c, h, w)


def forward_supports(probe: Probe, budget: int = 1 << 22) -> list[Tensor]:
    """For every value k: a bool tensor (H, W, h, w), whether input pixel (y, x) reaches unit (uh, uw) (any
    input channel, any channel of the value). The pixels go through in chunks of about ``budget`` elements
    per value."""
    whole = {k: [(0, c)] for k, (c, _, _) in enumerate(probe.net.shapes)}
    return [m[:, :, 0] for m in channel_supports(probe, whole, budget)]


def channel_supports(probe: Probe, ranges: dict[int, list[tuple[int, int]]], budget: int = 1 << 22) -> list[Tensor]:
    """For every value k: a bool tensor (H, W, G, h, w), whether input pixel (y, x) reaches unit (uh, uw) of
    any of the channels a … b − 1 of range g of ``ranges[k]`` (G = 0 where k has none)."""

    def keep(k: int, v: Tensor) -> Tensor:
        parts = [v[:, a:b].sum(1) for a, b in ranges.get(k, [])]
        if not parts:
            return v.new_zeros(v.shape[0], 0, *v.shape[2:], dtype=torch.bool)
        return torch.stack(parts, 1) != 0  # every coefficient is >= 0: no sum cancels

    return _forward(probe, budget, keep)


def forward_sums(probe: Probe, budget: int = 1 << 22) -> list[Tensor]:
    """For every value k: the Jacobian (H, W, h, w) of the sum of the value's channels at unit (uh, uw) with
    respect to input pixel (y, x) (all of its channels together)."""
    return _forward(probe, budget, lambda k, v: v.sum(1))


def _forward(probe: Probe, budget: int, keep: Callable[[int, Tensor], Tensor]) -> list[Tensor]:
    """One forward pass of one-hot pixels (in chunks); ``keep`` of each value, per value (H, W, …)."""
    net = probe.net
    _, h, w = net.input_shape
    widest = max(c * a * b for c, a, b in net.shapes)
    chunk = max(1, min(h * w, budget // widest))
    parts: list[list[Tensor]] = [[] for _ in net.shapes]

    def seen(k: int, v: Tensor) -> None:
        parts[k].append(keep(k, v))

    with torch.no_grad():
        for start in range(0, h * w, chunk):
            probe.values(one_hot(net.input_shape, range(start, min(h * w, start + chunk))), seen)
    return [torch.cat(m).reshape(h, w, *m[0].shape[1:]) for m in parts]


def backward_supports(probe: Probe, units: Sequence[tuple[int, int, int]]) -> Tensor:
    """For each (value, uh, uw): a bool tensor (H, W), whether the input gradient of the sum of the unit's
    channels is non-zero at the pixel (every input channel). One backward pass, sample j from unit j."""
    x = torch.ones(len(units), *probe.net.input_shape, dtype=torch.float64, requires_grad=True)
    vals = probe.values(x)
    parts = []
    for j, (k, uh, uw) in enumerate(units):
        v = vals[k]
        assert v is not None
        parts.append(v[j, :, uh, uw].sum())
    (grad,) = torch.autograd.grad(torch.stack(parts).sum(), x, allow_unused=True)
    if grad is None:
        return torch.zeros(len(units), *probe.net.input_shape[1:], dtype=torch.bool)
    return (grad != 0).any(1)
