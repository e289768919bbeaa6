"""PyTorch modules that convcalc's layer kinds need beyond ``torch.nn`` (imported only by the kinds'
PyTorch rules, which need the optional ``convcalc[torch]`` extra).

``probe=True`` builds the monotone linear surrogate used to measure receptive fields by back-propagation
(see :mod:`convcalc.torch_export`).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from convcalc.kinds.conv import ConvArgs
from convcalc.kinds.core import Layer, Shape, k_eff, paddings
from convcalc.kinds.pool import PoolArgs, pool_stride
from convcalc.kinds.values import Padding, Pair

Pads = tuple[Pair, Pair]  # ((top, bottom), (left, right))


def resolve(pad: Padding, inp: Shape, kernel: Pair, stride: Pair, dilation: Pair) -> Pads:
    """Explicit (begin, end) padding per axis; TF ``same`` resolved for this input size."""
    return paddings(pad, inp, kernel, stride, dilation)


def padded_conv(cin: int, cout: int, kernel: Pair, stride: Pair, pads: Pads, dilation: Pair, groups: int,
                 bias: bool) -> nn.Module:
    """``nn.Conv2d`` with its own (symmetric) padding, or ``nn.ZeroPad2d`` then a conv with padding 0."""
    (t, b), (left, right) = pads
    if t == b and left == right:
        return nn.Conv2d(cin, cout, kernel, stride, (t, left), dilation, groups, bias)
    return nn.Sequential(nn.ZeroPad2d((left, right, t, b)), nn.Conv2d(cin, cout, kernel, stride, 0, dilation, groups,
                                                                      bias))


ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU, "relu6": nn.ReLU6, "leaky_relu": nn.LeakyReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh,
    "gelu": nn.GELU, "silu": nn.SiLU, "hardswish": nn.Hardswish, "hardsigmoid": nn.Hardsigmoid, "mish": nn.Mish,
    "elu": nn.ELU,
}


def make_activation(kind: str, probe: bool, inplace: bool = False) -> nn.Module:
    """The activation module (``inplace`` where PyTorch has the option; an identity in the probe)."""
    if probe:
        return nn.Identity()
    return ACTIVATIONS[kind](inplace=True) if inplace else ACTIVATIONS[kind]()  # type: ignore[call-arg]


# ---------------------------------------------------------------- modules convcalc needs beyond torch.nn


class CroppedTransposed(nn.Module):
    """Transposed conv with asymmetric padding: the full output (padding 0, with output_padding at the end),
    cropped by p_begin at the start and p_end at the end of each axis (PyTorch's symmetric rule, per side)."""

    def __init__(self, conv: nn.ConvTranspose2d, pads: Pads) -> None:
        super().__init__()
        self.conv = conv
        self.pads = pads

    def forward(self, x: Tensor) -> Tensor:
        y: Tensor = self.conv(x)
        (t, b), (left, right) = self.pads
        return y[:, :, t:y.shape[2] - b, left:y.shape[3] - right]


class DeformConv(nn.Module):
    """Deformable convolution v1/v2, a pure-PyTorch reference (torchvision's ``deform_conv2d`` semantics).

    An offset conv (C_in → 2·G·K, v2: 3·G·K, with bias; same kernel, stride, padding and dilation) gives per
    output position and tap a (dy, dx) offset per offset group (v2: and a mask through a sigmoid). Each
    input channel of offset group g is sampled bilinearly (zero outside the input) at
    (o·s − p_begin + t·d + offset), then the main (grouped) conv weights combine the samples.
    """

    def __init__(self, cin: int, cout: int, a: ConvArgs, pads: Pads, probe: bool) -> None:
        super().__init__()
        if cin % a.offset_groups:
            raise ValueError(f"deformable conv: offset_groups {a.offset_groups} must divide the input channels {cin}")
        kh, kw = a.kernel
        kk = kh * kw
        per_tap = 3 if a.version == 2 else 2
        self.cin, self.cout, self.groups, self.offset_groups = cin, cout, a.groups, a.offset_groups
        self.kernel, self.stride, self.dilation, self.pads = a.kernel, a.stride, a.dilation, pads
        self.version, self.probe = a.version, probe
        self.weight = nn.Parameter(torch.empty(cout, cin // a.groups, kh, kw))
        self.bias = nn.Parameter(torch.zeros(cout)) if a.bias else None
        nn.init.kaiming_uniform_(self.weight, a=5 ** 0.5)
        self.offset = padded_conv(cin, per_tap * a.offset_groups * kk, a.kernel, a.stride, pads, a.dilation, 1,
                                   True)

    def forward(self, x: Tensor) -> Tensor:
        n, c, h, w = x.shape
        kh, kw = self.kernel
        kk = kh * kw
        g_off = self.offset_groups
        (pt, _), (pl, _) = self.pads
        raw: Tensor = self.offset(x)
        ho, wo = raw.shape[2], raw.shape[3]
        if self.probe:
            off = raw.new_zeros(n, g_off, kk, 2, ho, wo)
            mask: Tensor | None = None
        else:
            off = raw[:, :2 * g_off * kk].reshape(n, g_off, kk, 2, ho, wo)
            mask = torch.sigmoid(raw[:, 2 * g_off * kk:]).reshape(n, g_off, 1, kk, ho, wo) if self.version == 2 \
                else None
        taps_y = torch.arange(kh, device=x.device).repeat_interleave(kw) * self.dilation[0]
        taps_x = torch.arange(kw, device=x.device).repeat(kh) * self.dilation[1]
        base_y = torch.arange(ho, device=x.device) * self.stride[0] - pt
        base_x = torch.arange(wo, device=x.device) * self.stride[1] - pl
        py = (base_y.view(1, 1, 1, ho, 1) + taps_y.view(1, 1, kk, 1, 1)).to(x.dtype) + off[:, :, :, 0]
        px = (base_x.view(1, 1, 1, 1, wo) + taps_x.view(1, 1, kk, 1, 1)).to(x.dtype) + off[:, :, :, 1]
        cols = _bilinear(x.reshape(n * g_off, c // g_off, h * w), py.reshape(n * g_off, -1),
                         px.reshape(n * g_off, -1), h, w)  # (n·G, C/G, K·ho·wo)
        cols = cols.reshape(n, g_off, c // g_off, kk, ho, wo)
        if mask is not None:
            cols = cols * mask
        # the main conv on the samples: a grouped 1×1 conv over (C/g·K) columns per group
        wt = self.weight.reshape(self.cout, (c // self.groups) * kk, 1, 1)
        return F.conv2d(cols.reshape(n, c * kk, ho, wo), wt, self.bias, groups=self.groups)


def _bilinear(x: Tensor, py: Tensor, px: Tensor, h: int, w: int) -> Tensor:
    """Sample ``x`` (B, C, H·W) at fractional positions (B, P) with zeros outside: (B, C, P).

    Corner weights are exact (a position on the grid gives its neighbours weight 0, hence no gradient)."""
    y0 = torch.floor(py)
    x0 = torch.floor(px)
    fy = py - y0
    fx = px - x0
    out = x.new_zeros(x.shape[0], x.shape[1], py.shape[1])
    for dy, wy in ((0, 1 - fy), (1, fy)):
        for dx, wx in ((0, 1 - fx), (1, fx)):
            yy = y0.long() + dy
            xx = x0.long() + dx
            valid = (yy >= 0) & (yy < h) & (xx >= 0) & (xx < w)
            idx = (yy.clamp(0, h - 1) * w + xx.clamp(0, w - 1)).unsqueeze(1).expand(-1, x.shape[1], -1)
            weight = (wy * wx * valid.to(x.dtype)).unsqueeze(1)
            out = out + x.gather(2, idx) * weight
    return out


class Pool(nn.Module):
    """Max or average pooling with convcalc's geometry (PyTorch's rules, TensorFlow's for ``same``).

    Symmetric explicit padding within PyTorch's limit (≤ kernel // 2) uses ``F.max_pool2d``/``F.avg_pool2d``
    directly. Otherwise (asymmetric, ``same``, or a dilated max pool padded past kernel // 2) the input is
    padded to exactly (o − 1)·s + k_eff per axis (−∞ for max; 0 for average, divided by the number of taps
    counted: the explicit padding too when ``count_include_pad``, never TF ``same`` padding nor the
    ceil_mode overhang, as PyTorch and TensorFlow do).
    """

    def __init__(self, layer: Layer, inp: Shape, out: Shape, probe: bool) -> None:
        super().__init__()
        a = layer.args
        assert isinstance(a, PoolArgs)
        self.is_max = layer.kind == "maxpool"
        self.kernel, self.stride, self.dilation, self.ceil_mode = a.kernel, pool_stride(a), a.dilation, a.ceil_mode
        self.count_include_pad = a.count_include_pad
        self.probe = probe and self.is_max
        self.channels = inp.c
        pads = resolve(a.padding, inp, a.kernel, self.stride, a.dilation)
        self.native_padding = (pads[0][0], pads[1][0])
        self.native = (a.padding != "same" and not self.probe
                       and all(pb == pe and pb <= k // 2 for (pb, pe), k in zip(pads, a.kernel, strict=True)))
        ext: list[int] = []
        counted: list[tuple[int, int]] = []
        for ax, (i, o) in enumerate(((inp.h, out.h), (inp.w, out.w))):
            pb, pe = pads[ax]
            length = (o - 1) * self.stride[ax] + k_eff(a.kernel[ax], a.dilation[ax])
            ext.append(length - i - pb)
            lo, hi = (0, pb + i + pe) if a.count_include_pad and a.padding != "same" else (pb, pb + i)
            counted.append((lo, min(hi, length)))
        self.pad = (pads[1][0], ext[1], pads[0][0], ext[0])  # F.pad order: left, right, top, bottom
        self.divisor: Tensor | None = None  # (computed even when native: the general path is tested against it)
        if not self.is_max:
            lh, lw = (pads[0][0] + inp.h + ext[0], pads[1][0] + inp.w + ext[1])
            m = torch.zeros(1, 1, lh, lw, dtype=torch.float64)  # exact ratios, rounded once to the input's dtype
            m[:, :, counted[0][0]:counted[0][1], counted[1][0]:counted[1][1]] = 1
            self.divisor = F.avg_pool2d(m, self.kernel, self.stride, 0)

    def forward(self, x: Tensor) -> Tensor:
        if self.native:
            if self.is_max:
                return F.max_pool2d(x, self.kernel, self.stride, self.native_padding, self.dilation, self.ceil_mode)
            return F.avg_pool2d(x, self.kernel, self.stride, self.native_padding, self.ceil_mode,
                                self.count_include_pad)
        if self.probe:  # a sum over the same windows: every tap gets gradient
            ones = x.new_ones(self.channels, 1, *self.kernel)
            return F.conv2d(F.pad(x, self.pad), ones, None, self.stride, 0, self.dilation, self.channels)
        if self.is_max:
            return F.max_pool2d(F.pad(x, self.pad, value=float("-inf")), self.kernel, self.stride, 0, self.dilation)
        assert self.divisor is not None
        return F.avg_pool2d(F.pad(x, self.pad), self.kernel, self.stride, 0) / self.divisor.to(x)


class BatchNorm(nn.Module):
    """BatchNorm2d (also right after flatten, on C×1×1: the same as BatchNorm1d). ``scale``/``center`` off:
    γ = 1 / β = 0 fixed, as in TF-slim; only the learnable one is a parameter."""

    def __init__(self, c: int, scale: bool, center: bool) -> None:
        super().__init__()
        both = scale and center
        self.bn = nn.BatchNorm2d(c, affine=both)
        self.weight = nn.Parameter(torch.ones(c)) if scale and not both else None
        self.bias = nn.Parameter(torch.zeros(c)) if center and not both else None

    def forward(self, x: Tensor) -> Tensor:
        y: Tensor = self.bn(x)
        if self.weight is not None:
            y = y * self.weight.view(1, -1, 1, 1)
        if self.bias is not None:
            y = y + self.bias.view(1, -1, 1, 1)
        return y


class SqueezeExcite(nn.Module):
    """Global average pool → 1×1 conv C→width (bias) → activation → 1×1 conv width→C (bias) → gate → scale."""

    def __init__(self, c: int, width: int, activation: str, gate: str, probe: bool) -> None:
        super().__init__()
        self.fc1 = nn.Conv2d(c, width, 1)
        self.act = make_activation(activation, probe)
        self.fc2 = nn.Conv2d(width, c, 1)
        self.gate = make_activation(gate, probe)
        #: compute the gate from a detached input: same values, gradients only through the local path
        self.detach_gate = False

    def forward(self, x: Tensor) -> Tensor:
        squeezed = (x.detach() if self.detach_gate else x).mean((2, 3), keepdim=True)
        s: Tensor = self.gate(self.fc2(self.act(self.fc1(squeezed))))
        return x * s


class Linear(nn.Module):
    """Fully connected on a C×1×1 input; the output stays N×out×1×1 like convcalc's shapes."""

    def __init__(self, cin: int, cout: int, bias: bool) -> None:
        super().__init__()
        self.fc = nn.Linear(cin, cout, bias)

    def forward(self, x: Tensor) -> Tensor:
        y: Tensor = self.fc(x.flatten(1))
        return y.reshape(y.shape[0], -1, 1, 1)


class Flatten(nn.Module):
    """C×H×W → (C·H·W)×1×1, in torch.flatten's order."""

    def forward(self, x: Tensor) -> Tensor:
        return x.reshape(x.shape[0], -1, 1, 1)


class GlobalPool(nn.Module):
    def __init__(self, is_max: bool) -> None:
        super().__init__()
        self.is_max = is_max

    def forward(self, x: Tensor) -> Tensor:
        return F.adaptive_max_pool2d(x, 1) if self.is_max else F.adaptive_avg_pool2d(x, 1)


class ChannelShuffle(nn.Module):
    """ShuffleNet's shuffle as torchvision's ``channel_shuffle``: view as (groups, C/groups), transpose,
    ``.contiguous()`` (a copy unless the map is contiguous and the transpose moves nothing), view back."""

    def __init__(self, groups: int) -> None:
        super().__init__()
        self.groups = groups

    def forward(self, x: Tensor) -> Tensor:
        n, c, h, w = x.shape
        return torch.transpose(x.view(n, self.groups, c // self.groups, h, w), 1, 2).contiguous().view(n, c, h, w)




class ChannelsLast(nn.Module):
    """Apply a module over the channels at each position: N×C×H×W → N×H×W×C → module → back (ConvNeXt's
    LayerNorm2d written with ``nn.LayerNorm``)."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x: Tensor) -> Tensor:
        y: Tensor = self.inner(x.permute(0, 2, 3, 1))
        return y.permute(0, 3, 1, 2)


class LayerScale(nn.Module):
    """A learned γ per channel (ConvNeXt's ``layer_scale``), initialised to ``init``."""

    def __init__(self, c: int, init: float) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.full((c, 1, 1), init))

    def forward(self, x: Tensor) -> Tensor:
        return x * self.gamma


class Scale(nn.Module):
    """Multiplication by a constant."""

    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = value

    def forward(self, x: Tensor) -> Tensor:
        return x * self.value


class DropPath(nn.Module):
    """Stochastic depth (drops whole samples in training, identity in ``eval()``)."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0:
            return x
        keep = x.new_empty(x.shape[0], 1, 1, 1).bernoulli_(1 - self.p).div_(1 - self.p)
        return x * keep  # torchvision's stochastic_depth: one result, the noise saved


class Resize(nn.Module):
    """``F.interpolate`` to a fixed size (nearest, or bilinear with or without align_corners)."""

    def __init__(self, size: tuple[int, int], mode: str, align_corners: bool = False) -> None:
        super().__init__()
        self.size = size
        self.mode = mode
        self.align_corners = align_corners

    def forward(self, x: Tensor) -> Tensor:
        if self.mode == "bilinear":
            return F.interpolate(x, size=self.size, mode="bilinear", align_corners=self.align_corners)
        return F.interpolate(x, size=self.size, mode="nearest")


class DFL(nn.Module):
    """Ultralytics' DFL on a 4·b × H × W map: per side the softmax over its b bins, then the 1×1 conv of fixed
    weights 0 … b − 1 (a parameter without gradient, as Ultralytics keeps it; where ``shared``, the first
    level's: a plain tensor here, neither a parameter nor a buffer). The probe: the sum of each side's bins
    (linear, reading the same channels)."""

    def __init__(self, bins: int, shared: bool, probe: bool) -> None:
        super().__init__()
        self.bins, self.probe = bins, probe
        weight = torch.arange(bins, dtype=torch.float).view(1, bins, 1, 1)
        self.weight: Tensor | nn.Parameter = weight if shared else nn.Parameter(weight, requires_grad=False)

    def forward(self, x: Tensor) -> Tensor:
        b, _, h, w = x.shape
        if self.probe:
            return x.view(b, 4, self.bins, h, w).sum(2)
        p = x.view(b, 4, self.bins, h * w).transpose(2, 1).softmax(1)
        return F.conv2d(p, self.weight.to(p)).view(b, 4, h, w)
