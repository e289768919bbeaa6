"""Export a convcalc graph to an equivalent ``torch.nn.Module`` (needs the optional ``convcalc[torch]``).

The module has exactly convcalc's semantics, layer by layer, for the input size of the spec: TensorFlow
``same`` padding and asymmetric padding are resolved per axis from each node's input shape (so the module
is specialised to that size), pools with padding PyTorch cannot express natively are computed as the
general case (max: −∞ padding; average: divided by the taps counted), and a ``training_only`` side branch
runs only in training mode. ``forward`` walks the graph's topological order; :meth:`ConvcalcNet.forward_all`
returns every node's output, keyed by node index.

This module imports torch at import time; ``import convcalc`` never imports it.

``rf_probe=True`` builds a monotone linear surrogate with the same geometry, to measure receptive fields by
back-propagation: activations and gates become identities, max pools become sums over the same windows (so
every tap, not only the arg-max, receives gradient), residual and branch adds become means (values stay
bounded however deep), and deformable convolutions sample at zero offsets with mask 1. Give it positive
weights (e.g. 1/fan-in) and zero biases.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from convcalc.graph import Graph, Node
from convcalc.layers import ConvArgs, Layer, LinearArgs, NoArgs, Padding, Pair, PoolArgs, SEArgs, Shape, SizeArgs
from convcalc.shapes import conv_channels, k_eff, pool_stride, resolve_padding, se_width

__all__ = ["ConvcalcNet", "layer_module", "to_torch"]

Pads = tuple[Pair, Pair]  # ((top, bottom), (left, right))


def _resolve(pad: Padding, inp: Shape, kernel: Pair, stride: Pair, dilation: Pair) -> Pads:
    """Explicit (begin, end) padding per axis; TF ``same`` resolved for this input size."""
    h, w = (resolve_padding(pad, ax, i, k_eff(kernel[ax], dilation[ax]), stride[ax])
            for ax, i in enumerate((inp.h, inp.w)))
    return h, w


def _padded_conv(cin: int, cout: int, kernel: Pair, stride: Pair, pads: Pads, dilation: Pair, groups: int,
                 bias: bool) -> nn.Module:
    """``nn.Conv2d`` with its own (symmetric) padding, or ``nn.ZeroPad2d`` then a conv with padding 0."""
    (t, b), (left, right) = pads
    if t == b and left == right:
        return nn.Conv2d(cin, cout, kernel, stride, (t, left), dilation, groups, bias)
    return nn.Sequential(nn.ZeroPad2d((left, right, t, b)), nn.Conv2d(cin, cout, kernel, stride, 0, dilation, groups,
                                                                      bias))


_ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU, "relu6": nn.ReLU6, "leaky_relu": nn.LeakyReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh,
    "gelu": nn.GELU, "silu": nn.SiLU, "hardswish": nn.Hardswish, "hardsigmoid": nn.Hardsigmoid,
}


def _activation(kind: str, probe: bool) -> nn.Module:
    return nn.Identity() if probe else _ACTIVATIONS[kind]()


# ---------------------------------------------------------------- modules convcalc needs beyond torch.nn


class _CroppedTransposed(nn.Module):
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


class _DeformConv(nn.Module):
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
        self.offset = _padded_conv(cin, per_tap * a.offset_groups * kk, a.kernel, a.stride, pads, a.dilation, 1,
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


class _Pool(nn.Module):
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
        pads = _resolve(a.padding, inp, a.kernel, self.stride, a.dilation)
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


class _BatchNorm(nn.Module):
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


class _SqueezeExcite(nn.Module):
    """Global average pool → 1×1 conv C→width (bias) → activation → 1×1 conv width→C (bias) → gate → scale."""

    def __init__(self, c: int, width: int, activation: str, gate: str, probe: bool) -> None:
        super().__init__()
        self.fc1 = nn.Conv2d(c, width, 1)
        self.act = _activation(activation, probe)
        self.fc2 = nn.Conv2d(width, c, 1)
        self.gate = _activation(gate, probe)
        #: compute the gate from a detached input: same values, gradients only through the local path
        self.detach_gate = False

    def forward(self, x: Tensor) -> Tensor:
        squeezed = (x.detach() if self.detach_gate else x).mean((2, 3), keepdim=True)
        s: Tensor = self.gate(self.fc2(self.act(self.fc1(squeezed))))
        return x * s


class _Linear(nn.Module):
    """Fully connected on a C×1×1 input; the output stays N×out×1×1 like convcalc's shapes."""

    def __init__(self, cin: int, cout: int, bias: bool) -> None:
        super().__init__()
        self.fc = nn.Linear(cin, cout, bias)

    def forward(self, x: Tensor) -> Tensor:
        y: Tensor = self.fc(x.flatten(1))
        return y.reshape(y.shape[0], -1, 1, 1)


class _Flatten(nn.Module):
    """C×H×W → (C·H·W)×1×1, in torch.flatten's order."""

    def forward(self, x: Tensor) -> Tensor:
        return x.reshape(x.shape[0], -1, 1, 1)


class _GlobalPool(nn.Module):
    def __init__(self, is_max: bool) -> None:
        super().__init__()
        self.is_max = is_max

    def forward(self, x: Tensor) -> Tensor:
        return x.amax((2, 3), keepdim=True) if self.is_max else x.mean((2, 3), keepdim=True)


class _ChannelShuffle(nn.Module):
    """ShuffleNet's shuffle: view as (groups, C/groups), transpose, flatten."""

    def __init__(self, groups: int) -> None:
        super().__init__()
        self.groups = groups

    def forward(self, x: Tensor) -> Tensor:
        n, c, h, w = x.shape
        return x.reshape(n, self.groups, c // self.groups, h, w).transpose(1, 2).reshape(n, c, h, w)


# ---------------------------------------------------------------- one module per layer kind


def _conv_module(layer: Layer, inp: Shape, probe: bool) -> nn.Module:
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
        return _CroppedTransposed(full, a.padding)
    kernel = (1, 1) if layer.kind == "pwconv" else a.kernel
    dilation = (1, 1) if layer.kind == "pwconv" else a.dilation
    pads = _resolve(a.padding, inp, kernel, a.stride, dilation)
    if layer.kind == "deform":
        return _DeformConv(cin, cout, a, pads, probe)
    if layer.kind == "separable":
        return nn.Sequential(_padded_conv(cin, cin, kernel, a.stride, pads, dilation, cin, a.bias),
                             nn.Conv2d(cin, cout, 1, 1, 0, 1, 1, a.bias))
    return _padded_conv(cin, cout, kernel, a.stride, pads, dilation, groups, a.bias)


def layer_module(layer: Layer, inp: Shape, out: Shape, probe: bool = False) -> nn.Module:
    """The module computing one convcalc layer on input shape ``inp`` (output shape ``out``)."""
    kind, a = layer.kind, layer.args
    if kind in ("conv", "dwconv", "pwconv", "separable", "deconv", "deform"):
        return _conv_module(layer, inp, probe)
    if kind in ("maxpool", "avgpool"):
        return _Pool(layer, inp, out, probe)
    if kind in ("global_avgpool", "global_maxpool"):
        return _GlobalPool(kind == "global_maxpool" and not probe)
    if kind == "adaptive_avgpool":
        assert isinstance(a, SizeArgs)
        return nn.AdaptiveAvgPool2d(a.size)
    if kind == "bn":
        assert isinstance(a, NoArgs)
        return _BatchNorm(inp.c, a.scale, a.center)
    if kind in _ACTIVATIONS:
        return _activation(kind, probe)
    if kind == "linear":
        assert isinstance(a, LinearArgs)
        return _Linear(inp.c, a.out, a.bias)
    if kind == "flatten":
        return _Flatten()
    if kind == "dropout":
        assert isinstance(a, NoArgs)
        if not 0 <= a.p <= 1:
            raise ValueError(f"layer {layer.name!r}: dropout probability {a.p} is not between 0 and 1")
        return nn.Dropout(a.p)
    if kind == "identity":
        return nn.Identity()
    if kind == "channel_shuffle":
        assert isinstance(a, NoArgs)
        return _ChannelShuffle(a.groups)
    if kind == "se":
        assert isinstance(a, SEArgs)
        return _SqueezeExcite(inp.c, se_width(layer, inp.c), a.activation, a.gate, probe)
    if kind == "upsample":
        assert isinstance(a, SizeArgs)
        scale = (float(a.scale[0]), float(a.scale[1]))
        if a.mode == "bilinear":
            return nn.Upsample(scale_factor=scale, mode="bilinear", align_corners=False)
        return nn.Upsample(scale_factor=scale, mode="nearest")
    raise ValueError(f"layer {layer.name!r}: no PyTorch export for layer kind {kind!r}")


# ---------------------------------------------------------------- the network


class ConvcalcNet(nn.Module):
    """A convcalc graph as a module: ``layers[str(node.index)]`` computes each layer node; input, add,
    concat and split nodes are computed by the walk. Input N×C×H×W with the spec's C, H, W; ``forward``
    returns the graph's output, :meth:`forward_all` every node's."""

    def __init__(self, graph: Graph, probe: bool = False) -> None:
        super().__init__()
        self.graph_name = graph.name
        self.input_shape = graph.input
        self.output = graph.output
        self.probe = probe
        self.nodes: list[Node] = list(graph.nodes)
        self.layers = nn.ModuleDict()
        self.split_offsets: dict[int, int] = {}
        self._record: dict[int, Tensor] | None = None
        taken: dict[int, int] = {}
        for node in graph.nodes:
            if node.layer is not None:
                inp = graph.nodes[node.inputs[0]].shape
                self.layers[str(node.index)] = layer_module(node.layer, inp, node.shape, probe)
            elif node.kind == "split":
                # the splits of one input are consecutive nodes covering its channels in order
                src = node.inputs[0]
                start = taken.get(src, 0) % graph.nodes[src].shape.c
                self.split_offsets[node.index] = start
                taken[src] = start + node.shape.c
        last: dict[int, int] = {graph.output: len(graph.nodes)}
        for node in graph.nodes:
            for i in node.inputs:
                last[i] = max(last.get(i, 0), node.index)
        #: node indices whose value may be dropped after each node (for ``forward``)
        self.release: dict[int, list[int]] = {}
        for i, at in last.items():
            self.release.setdefault(at, []).append(i)

    def names(self) -> dict[int, str]:
        """Node index → convcalc layer name."""
        return {n.index: n.name for n in self.nodes}

    def forward_all(self, x: Tensor) -> dict[int, Tensor]:
        """Every node's output by node index (training-only nodes only in training mode). Runs through
        ``self(x)``, so module hooks and tools that track the module tree (FlopCounterMode) see a normal call."""
        self._record = {}
        try:
            self(x)
            return self._record
        finally:
            self._record = None

    def _walk(self, x: Tensor, keep: bool) -> dict[int, Tensor]:
        if tuple(x.shape[1:]) != tuple(self.input_shape):
            raise ValueError(f"{self.graph_name}: expected input N×{self.input_shape}, found {tuple(x.shape)}")
        values: dict[int, Tensor] = {}
        for node in self.nodes:
            if not node.training_only or self.training:
                values[node.index] = self._node(node, x, values)
            if not keep:  # drop values no longer needed
                for i in self.release.get(node.index, ()):
                    values.pop(i, None)
        return values

    def _node(self, node: Node, x: Tensor, values: dict[int, Tensor]) -> Tensor:
        if node.kind == "input":
            return x
        args = [values[i] for i in node.inputs]
        if node.layer is not None:
            y: Tensor = self.layers[str(node.index)](args[0])
            return y
        if node.kind == "add":
            total = args[0]
            for t in args[1:]:
                total = total + t
            return total / len(args) if self.probe else total
        if node.kind == "concat":
            return torch.cat(args, 1)
        if node.kind == "split":
            start = self.split_offsets[node.index]
            return args[0][:, start:start + node.shape.c]
        raise ValueError(f"no PyTorch export for node kind {node.kind!r}")  # pragma: no cover

    def forward(self, x: Tensor) -> Tensor:
        values = self._walk(x, keep=self._record is not None)
        if self._record is not None:
            self._record.update(values)
        return values[self.output]


def to_torch(graph: Graph, *, rf_probe: bool = False, local: bool = False) -> ConvcalcNet:
    """A ``torch.nn.Module`` computing ``graph`` with convcalc's semantics (see the module docstring).

    ``rf_probe``: the monotone linear surrogate used to measure receptive fields by back-propagation.
    ``local``: squeeze-excitation gates see a detached input (the same values), so gradients follow only the
    local paths: they measure convcalc's ``rf`` rather than ``rf_full``."""
    net = ConvcalcNet(graph, rf_probe)
    for m in net.modules():
        if isinstance(m, _SqueezeExcite):
            m.detach_gate = local
    return net


def spec_to_torch(source: str, alternative: int | str = 0) -> ConvcalcNet:
    """Build the module of one alternative of a spec file or zoo model (``"resnet50"``) in one call.

    ``alternative`` is an index or a name. Raises :class:`convcalc.errors.ConvcalcError` for a bad spec.
    """
    from convcalc.analysis import graphs_of
    from convcalc.sources import open_source

    graphs = graphs_of(open_source(source))
    if isinstance(alternative, str):
        named = [g for g in graphs if g.name == alternative]
        if not named:
            raise KeyError(f"no alternative named {alternative!r}; have {[g.name for g in graphs]}")
        return to_torch(named[0])
    return to_torch(graphs[alternative])
