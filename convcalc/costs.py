"""Cost formulas, one function per formula, dispatched through ``COSTS``.

Notation: O = H_out·W_out, I = H_in·W_in, K = k_h·k_w, g = groups, β = 1 with bias, C = channels.
``macs`` are multiply-accumulates of dot-product work (conv, linear, interpolation); bias is not a MAC.
Other work is counted per element in separate buckets: adds, muls, divs, cmps (comparisons) and
special (transcendental functions). flops = 2·macs + adds + muls + divs. All values are per sample.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, fields

from convcalc.layers import ConvArgs, Layer, LinearArgs, NoArgs, PoolArgs, SEArgs, Shape, SizeArgs
from convcalc.shapes import conv_channels, se_width


@dataclass(frozen=True, slots=True)
class Cost:
    """Exact integer costs of one layer (or a sum of layers)."""

    params: int = 0
    buffers: int = 0
    macs: int = 0
    adds: int = 0
    muls: int = 0
    divs: int = 0
    cmps: int = 0
    special: int = 0

    @property
    def flops(self) -> int:
        """flops = 2·macs + adds + muls + divs (cmps and special are reported, not folded in)."""
        return 2 * self.macs + self.adds + self.muls + self.divs

    def __add__(self, other: Cost) -> Cost:
        return Cost(self.params + other.params, self.buffers + other.buffers, self.macs + other.macs,
                    self.adds + other.adds, self.muls + other.muls, self.divs + other.divs,
                    self.cmps + other.cmps, self.special + other.special)

    def scaled(self, batch: int) -> Cost:
        """Work scales with the batch; params and buffers do not."""
        if batch == 1:
            return self
        return Cost(self.params, self.buffers, *(getattr(self, f.name) * batch for f in fields(Cost)[2:]))

    def without_work(self) -> Cost:
        """Only the parameters and buffers (a training-only branch is not in the inference pass)."""
        return Cost(params=self.params, buffers=self.buffers)


ZERO = Cost()


def _area(s: Shape) -> int:
    return s.h * s.w


def conv_cost(cin: int, cout: int, groups: int, kh: int, kw: int, out_area: int, bias: bool) -> Cost:
    """Convolution: params = C_out·(C_in/g)·K + β·C_out; macs = O·C_out·(C_in/g)·K; adds = β·O·C_out."""
    per_out = (cin // groups) * kh * kw
    b = cout if bias else 0
    return Cost(params=cout * per_out + b, macs=out_area * cout * per_out, adds=b * out_area)


def _conv(layer: Layer, inp: Shape, out: Shape) -> Cost:
    """conv / dwconv (g = C_in, C_out = C_in·multiplier) / pwconv (K = 1): see :func:`conv_cost`."""
    a = layer.args
    assert isinstance(a, ConvArgs)
    cin, cout, g = conv_channels(layer, inp)
    return conv_cost(cin, cout, g, a.kernel[0], a.kernel[1], _area(out), a.bias)


def separable_cost(layer: Layer, inp: Shape, out: Shape) -> Cost:
    """Depthwise-separable: depthwise k×k (g = C_in) then pointwise 1×1; bias (if any) on both.

    params = C_in·K + C_in·C_out (+ β·(C_in + C_out)); macs = O·C_in·K + O·C_in·C_out.
    """
    a = layer.args
    assert isinstance(a, ConvArgs) and a.out is not None
    dw = conv_cost(inp.c, inp.c, inp.c, a.kernel[0], a.kernel[1], _area(out), a.bias)
    return dw + conv_cost(inp.c, a.out, 1, 1, 1, _area(out), a.bias)


def deconv_cost(layer: Layer, inp: Shape, out: Shape) -> Cost:
    """Transposed conv: params = C_in·(C_out/g)·K + β·C_out; macs = I·C_in·(C_out/g)·K (input side);
    adds = β·O·C_out."""
    a = layer.args
    assert isinstance(a, ConvArgs) and a.out is not None
    per_in = (a.out // a.groups) * a.kernel[0] * a.kernel[1]
    b = a.out if a.bias else 0
    return Cost(params=inp.c * per_in + b, macs=_area(inp) * inp.c * per_in, adds=b * _area(out))


def deform_cost(layer: Layer, inp: Shape, out: Shape) -> Cost:
    """Deformable conv (v1/v2, offset groups G): main conv + offset conv (C_in → 2·G·K, v2: 3·G·K, with
    bias, same kernel/stride/padding/dilation) + bilinear sampling 4·O·K·C_in MACs.
    v2 also: sigmoid on the mask (special O·G·K) and the modulation (muls O·K·C_in)."""
    a = layer.args
    assert isinstance(a, ConvArgs) and a.out is not None
    kk = a.kernel[0] * a.kernel[1]
    o = _area(out)
    per_tap = 3 if a.version == 2 else 2
    main = conv_cost(inp.c, a.out, a.groups, a.kernel[0], a.kernel[1], o, a.bias)
    offsets = conv_cost(inp.c, per_tap * a.offset_groups * kk, 1, a.kernel[0], a.kernel[1], o, True)
    sampling = Cost(macs=4 * o * kk * inp.c)
    if a.version == 2:
        sampling = sampling + Cost(special=o * a.offset_groups * kk, muls=o * kk * inp.c)
    return main + offsets + sampling


def maxpool_cost(layer: Layer, inp: Shape, out: Shape) -> Cost:
    """Max pool: cmps = O·C·(K − 1)."""
    a = layer.args
    assert isinstance(a, PoolArgs)
    return Cost(cmps=_area(out) * out.c * (a.kernel[0] * a.kernel[1] - 1))


def avgpool_cost(layer: Layer, inp: Shape, out: Shape) -> Cost:
    """Average pool: adds = O·C·(K − 1), divs = O·C."""
    a = layer.args
    assert isinstance(a, PoolArgs)
    return Cost(adds=_area(out) * out.c * (a.kernel[0] * a.kernel[1] - 1), divs=_area(out) * out.c)


def global_avgpool_cost(layer: Layer, inp: Shape, out: Shape) -> Cost:
    """Global average pool: adds = C·(H·W − 1), divs = C."""
    return Cost(adds=inp.c * (_area(inp) - 1), divs=inp.c)


def global_maxpool_cost(layer: Layer, inp: Shape, out: Shape) -> Cost:
    """Global max pool: cmps = C·(H·W − 1)."""
    return Cost(cmps=inp.c * (_area(inp) - 1))


def adaptive_windows(i: int, o: int) -> list[int]:
    """PyTorch adaptive pooling windows on one axis: [⌊k·i/o⌋, ⌈(k+1)·i/o⌉) for k in 0..o−1."""
    return [-(-((k + 1) * i) // o) - (k * i) // o for k in range(o)]


def adaptive_taps(i: int, o: int) -> int:
    """Σ of :func:`adaptive_windows` in O(1): i + o − gcd(i, o).

    Σ⌈(k+1)·i/o⌉ − Σ⌊k·i/o⌋ over k in 0..o−1 telescopes to i plus the number of k in 1..o with o ∤ k·i,
    which is o − gcd(i, o). (A loop over o would hang on a 10^9-pixel output.)
    """
    return i + o - math.gcd(i, o)


def adaptive_max_window(i: int, o: int) -> int:
    """max of :func:`adaptive_windows` in O(1). With i = a·o + r, g = gcd(i, o): a when r = 0, else a + 1,
    or a + 2 when some window straddles two fractional boundaries (r > g)."""
    a, r = divmod(i, o)
    if r == 0:
        return a
    return a + 2 if r > math.gcd(i, o) else a + 1


def adaptive_avgpool_cost(layer: Layer, inp: Shape, out: Shape) -> Cost:
    """Adaptive average pool: adds = C·(Σ window sizes − O), divs = C·O (windows as PyTorch computes them)."""
    taps = adaptive_taps(inp.h, out.h) * adaptive_taps(inp.w, out.w)
    return Cost(adds=out.c * (taps - _area(out)), divs=out.c * _area(out))


def bn_cost(layer: Layer, inp: Shape, out: Shape) -> Cost:
    """Batch norm (inference, not folded): params 2C (γ, β; C each unless scale/center is off),
    buffers 2C (running mean/var), muls C·H·W (scale), adds C·H·W (shift)."""
    a = layer.args
    assert isinstance(a, NoArgs)
    n = inp.c * _area(inp)
    return Cost(params=(int(a.scale) + int(a.center)) * inp.c, buffers=2 * inp.c, adds=n, muls=n)


def compare_cost(layer: Layer, inp: Shape, out: Shape) -> Cost:
    """ReLU / ReLU6: cmps = C·H·W."""
    return Cost(cmps=inp.c * _area(inp))


def leaky_cost(layer: Layer, inp: Shape, out: Shape) -> Cost:
    """Leaky ReLU: cmps = C·H·W, muls = C·H·W."""
    n = inp.c * _area(inp)
    return Cost(cmps=n, muls=n)


def special_cost(layer: Layer, inp: Shape, out: Shape) -> Cost:
    """Sigmoid / tanh / GELU / hard-sigmoid: special = C·H·W."""
    return Cost(special=inp.c * _area(inp))


def gated_cost(layer: Layer, inp: Shape, out: Shape) -> Cost:
    """SiLU / hard-swish (x·gate(x)): muls = C·H·W, special = C·H·W."""
    n = inp.c * _area(inp)
    return Cost(muls=n, special=n)


def linear_cost(layer: Layer, inp: Shape, out: Shape) -> Cost:
    """Linear: params = in·out + β·out; macs = in·out; adds = β·out."""
    a = layer.args
    assert isinstance(a, LinearArgs)
    b = a.out if a.bias else 0
    return Cost(params=inp.c * a.out + b, macs=inp.c * a.out, adds=b)


def free_cost(layer: Layer, inp: Shape, out: Shape) -> Cost:
    """Flatten, dropout, identity, channel shuffle: no params and no arithmetic."""
    return ZERO


_ACT_COST = {
    "relu": compare_cost, "relu6": compare_cost, "leaky_relu": leaky_cost, "sigmoid": special_cost,
    "tanh": special_cost, "gelu": special_cost, "hardsigmoid": special_cost, "silu": gated_cost,
    "hardswish": gated_cost,
}


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
    act = _ACT_COST[a.activation](layer, Shape(cr, 1, 1), Shape(cr, 1, 1))
    gate = _ACT_COST[a.gate](layer, pooled, pooled)
    scale = Cost(muls=c * _area(inp))
    return global_avgpool_cost(layer, inp, pooled) + fc1 + act + fc2 + gate + scale


def upsample_cost(layer: Layer, inp: Shape, out: Shape) -> Cost:
    """Upsampling: nearest is a copy (0); bilinear is a weighted sum of 4 taps: macs = 4·C·H_out·W_out."""
    a = layer.args
    assert isinstance(a, SizeArgs)
    return Cost(macs=4 * out.c * _area(out)) if a.mode == "bilinear" else ZERO


def add_cost(shape: Shape, inputs: int) -> Cost:
    """Element-wise add of n tensors (residual, branch sum): adds = (n − 1)·C·H·W."""
    return Cost(adds=(inputs - 1) * shape.c * _area(shape))


CostFn = Callable[[Layer, Shape, Shape], Cost]

#: Cost of every layer kind.
COSTS: dict[str, CostFn] = {
    "conv": _conv, "dwconv": _conv, "pwconv": _conv, "separable": separable_cost, "deconv": deconv_cost,
    "deform": deform_cost, "maxpool": maxpool_cost, "avgpool": avgpool_cost,
    "global_avgpool": global_avgpool_cost, "global_maxpool": global_maxpool_cost,
    "adaptive_avgpool": adaptive_avgpool_cost, "bn": bn_cost, **_ACT_COST,
    "linear": linear_cost, "flatten": free_cost, "dropout": free_cost, "identity": free_cost,
    "channel_shuffle": free_cost, "se": se_cost, "upsample": upsample_cost,
}

