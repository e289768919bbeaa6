"""Attention: attention (global, windowed, shifted, grid; relative position bias table or MLP, cosine),
patch_merging (Swin), psa_attention (Ultralytics' attention over a conv map, as in YOLO11's C2PSA).

The tokens are the positions of the input, a C×H×W map or a C×1×N sequence (:mod:`convcalc.kinds.tokens`).
Attention runs in G groups of T tokens each: one group of all H·W tokens (global), H/w_h · W/w_w windows
of w_h×w_w (after padding the map to multiples of the window, as Swin does), or a grid of w_h×w_w tokens
spread H/w_h apart (MaxViT). M = G·T tokens pass through the projections (padding tokens too). With
h heads of d features (D = h·d):

    params  qkv C·3D (+ 3D bias), output projection D·C_out (+ C_out), position table h·(2w_h−1)(2w_w−1),
            or Swin v2's MLP 2·512 + 512 + 512·h, cosine attention's logit scale h
    macs    M·C·3D (qkv) + G·h·T²·d (QKᵀ) + G·h·T²·d (AV) + M·D·C_out (projection)
            (+ R·(2·512 + 512·h) for the MLP on its R = (2w_h−1)(2w_w−1) relative positions)
    other   the scale M·D muls (on q; cosine: the logit scale G·h·T² muls and 2·M·h normalisations of d),
            the bias h·G·T² adds (and the shift mask's, where windows are shifted), softmax over T per row
            of the G·h·T rows (T − 1 cmps, 2T − 1 adds, T special, T divs), the projections' biases

The receptive field: global attention reads every token (the whole input from there on, a note says so);
window attention reads the unit's window (shifted: the windows' edges moved by the shift, masked so that
no window wraps round), grid attention the units ≡ it modulo the grid's spacing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from convcalc.kinds.activation import softmax_cost
from convcalc.kinds.attention_memory import attention_memory, merging_memory, psa_memory
from convcalc.kinds.conv import conv_cost
from convcalc.kinds.core import AXES, Cost, Kind, Layer, LayerShapeError, Shape, area, register
from convcalc.kinds.norm import all_channels, batch_norm, normalise_cost, same_shape
from convcalc.kinds.reads import AxisReads, grid, whole_map, window, windows_on
from convcalc.kinds.values import Pair, boolean, choice, nonneg_pair, pos_pair, positive, positive_number

if TYPE_CHECKING:
    from torch import nn

#: Swin v2's continuous position bias MLP: Linear(2, 512) → ReLU → Linear(512, heads, no bias).
CPB_HIDDEN = 512


class AttentionArgs(NamedTuple):
    heads: int = 1
    head_dim: int | None = None
    out: int | None = None
    qkv_bias: bool = True
    proj_bias: bool = True
    window: Pair | None = None
    shift: Pair = (0, 0)
    partition: str = "window"
    pad: bool = True
    position: str = "none"
    cosine: bool = False


class Geometry(NamedTuple):
    """How attention groups the tokens of a map: the group shape (w_h, w_w), the padded map (p_h, p_w),
    the shift in effect per axis, the number of groups G and of tokens per group T."""

    window: Pair
    padded: Pair
    shift: Pair
    groups: int
    tokens: int
    grid: bool

    @property
    def processed(self) -> int:
        """M = G·T: the tokens the projections process (the padding's too)."""
        return self.groups * self.tokens


def attention_check(args: Mapping[str, Any]) -> tuple[str, str]:
    """shift and partition need a window; a grid cannot be padded."""
    if "window" not in args and any(k in args for k in ("shift", "partition", "pad")):
        return "shift, partition and pad need a window", "e.g. `- attention: {heads: 3, window: 7, shift: 3}`"
    if args.get("partition") == "grid" and "shift" in args:
        return "a grid partition has no shift", "shifted windows are `partition: window` (the default)"
    return "", ""


def head_dim(a: AttentionArgs, c: int) -> int:
    """d: ``head_dim``, or C / heads (heads must divide C)."""
    if a.head_dim is not None:
        return a.head_dim
    if c % a.heads:
        raise LayerShapeError(f"attention heads {a.heads} must divide the channels {c}",
                              "give `head_dim` or a number of heads that divides the channels")
    return c // a.heads


def geometry(a: AttentionArgs, inp: Shape) -> Geometry:
    """Swin's rules per axis: pad to a multiple of the window (p = ⌈i/w⌉·w); no shift where the window
    covers the padded axis (w ≥ p). A grid (MaxViT) needs w to divide the axis; so does ``pad: false``."""
    if a.window is None:
        return Geometry((inp.h, inp.w), (inp.h, inp.w), (0, 0), 1, area(inp), False)
    padded, shift = [], []
    for ax, i in enumerate((inp.h, inp.w)):
        w, s = a.window[ax], a.shift[ax]
        if i % w and (not a.pad or a.partition == "grid"):
            why = "a grid partition needs it" if a.partition == "grid" else "pad: false"
            raise LayerShapeError(f"attention window {w} does not divide the {AXES[ax]} {i} ({why})",
                                  "use an input size whose maps the window divides, or `pad: true` (windows)")
        if s >= w:
            raise LayerShapeError(f"attention shift {s} must be smaller than the window {w} ({AXES[ax]})")
        p = -(-i // w) * w
        padded.append(p)
        shift.append(0 if w >= p else s)
    wh, ww = a.window
    groups = (padded[0] // wh) * (padded[1] // ww)
    return Geometry((wh, ww), (padded[0], padded[1]), (shift[0], shift[1]), groups, wh * ww,
                    a.partition == "grid")


def attention_shape(layer: Layer, inp: Shape) -> Shape:
    """C×H×W → C_out×H×W (C_out = ``out``, default C)."""
    a = layer.args
    assert isinstance(a, AttentionArgs)
    head_dim(a, inp.c)
    geometry(a, inp)
    return Shape(a.out or inp.c, inp.h, inp.w)


def relative_positions(window: Pair) -> int:
    """R = (2w_h − 1)·(2w_w − 1): the relative offsets within a w_h×w_w group."""
    return (2 * window[0] - 1) * (2 * window[1] - 1)


def position_cost(a: AttentionArgs, g: Geometry) -> Cost:
    """The position bias: a table (params h·R, buffer index T²) or Swin v2's MLP on the R offsets (params
    2·512 + 512 + 512·h, macs R·(2·512 + 512·h), adds R·512, cmps R·512 (ReLU), then 16·sigmoid on the
    h·T² gathered values: special and muls h·T²; buffers: the R·2 coordinates and the T² index); added
    to the logits: adds G·h·T²."""
    h, t = a.heads, g.tokens
    r = relative_positions(g.window)
    added = Cost(adds=g.groups * h * t * t)
    if a.position == "table":
        return Cost(params=h * r, buffers=t * t) + added
    hid = CPB_HIDDEN
    mlp = Cost(params=2 * hid + hid + hid * h, buffers=2 * r + t * t, macs=r * (2 * hid + hid * h), adds=r * hid,
               cmps=r * hid, special=h * t * t, muls=h * t * t)
    return mlp + added


def cosine_cost(a: AttentionArgs, g: Geometry, d: int) -> Cost:
    """Cosine attention: q and k normalised (2·M·h vectors of d: d muls, d − 1 adds, 1 √, 1 clamp, d divs
    each), the logit scale (params h; clamp and exp: h cmps, h special) multiplied into the G·h·T² logits."""
    vecs = 2 * g.processed * a.heads
    logits = g.groups * a.heads * g.tokens * g.tokens
    return Cost(params=a.heads, muls=vecs * d + logits, adds=vecs * (d - 1), special=vecs + a.heads,
                cmps=vecs + a.heads, divs=vecs * d)


def attention_cost(layer: Layer, inp: Shape, out: Shape) -> Cost:
    """Attention over G groups of T tokens (M = G·T processed), h heads of d (D = h·d): see the module's
    docstring for the formula of each bucket."""
    a = layer.args
    assert isinstance(a, AttentionArgs)
    g = geometry(a, inp)
    d = head_dim(a, inp.c)
    dd, m, t = a.heads * d, g.processed, g.tokens
    qkv = conv_cost(inp.c, 3 * dd, 1, 1, 1, m, a.qkv_bias)
    proj = conv_cost(dd, out.c, 1, 1, 1, m, a.proj_bias)
    rows = g.groups * a.heads * t
    matmuls = Cost(macs=2 * rows * t * d)
    soft = softmax_cost(layer, Shape(t, 1, rows), Shape(t, 1, rows))
    scale = cosine_cost(a, g, d) if a.cosine else Cost(muls=m * dd)
    pos = position_cost(a, g) if a.position != "none" else Cost()
    mask = Cost(adds=rows * t) if any(g.shift) else Cost()
    return qkv + scale + matmuls + pos + mask + soft + proj


def attention_rf(layer: Layer, inp: Shape) -> AxisReads:
    """Global: :func:`~convcalc.kinds.reads.whole_map` (every unit reads all); windows:
    :func:`~convcalc.kinds.reads.windows_on` (w, shifted by s, Swin's regions); a grid:
    :func:`~convcalc.kinds.reads.grid` (units t = H/w apart). Attention reads only the map: its padding
    holds zeros, and the units past the map read nothing."""
    a = layer.args
    assert isinstance(a, AttentionArgs)
    g = geometry(a, inp)
    if g.grid:
        return grid(inp.h, g.window[0]), grid(inp.w, g.window[1])
    if a.window is None:
        return whole_map(inp.h), whole_map(inp.w)
    return windows_on(inp.h, g.window[0], g.shift[0]), windows_on(inp.w, g.window[1], g.shift[1])


def attention_note(layer: Layer, inp: Shape) -> str:
    """Global attention: every unit reads every token; a grid: tokens spread over the whole map."""
    a = layer.args
    assert isinstance(a, AttentionArgs)
    if a.partition == "grid" and a.window is not None:
        return GRID_NOTE
    if a.window is not None and a.window != (inp.h, inp.w):
        return ""
    return GLOBAL_NOTE


def global_note(layer: Layer, inp: Shape) -> str:
    """Attention over all positions."""
    return GLOBAL_NOTE


GLOBAL_NOTE = "global attention: every unit reads every token, so the receptive field is the whole input from here on"
GRID_NOTE = ("grid attention: every unit reads tokens spread over the whole map, so its window spans the input from "
             "here on (merges after it are not checked for alignment)")


def attention_torch(layer: Layer, inp: Shape, out: Shape, probe: bool) -> nn.Module:
    """:class:`convcalc.kinds.torch_attention.Attention` (windows and shifts as torchvision's Swin)."""
    from convcalc.kinds import torch_attention as ta

    a = layer.args
    assert isinstance(a, AttentionArgs)
    return ta.Attention(a, inp, out.c, geometry(a, inp), head_dim(a, inp.c), probe)


# ---------------------------------------------------------------- patch merging


class MergeArgs(NamedTuple):
    out: int | None = None
    norm: str = "before"


def merging_shape(layer: Layer, inp: Shape) -> Shape:
    """C×H×W → C_out×⌈H/2⌉×⌈W/2⌉ (odd sizes padded by one at the end; C_out = ``out``, default 2C)."""
    a = layer.args
    assert isinstance(a, MergeArgs)
    return Shape(a.out or 2 * inp.c, -(-inp.h // 2), -(-inp.w // 2))


def merging_cost(layer: Layer, inp: Shape, out: Shape) -> Cost:
    """Each 2×2 patch's 4C values concatenated, then a linear 4C → C_out without bias (macs O·4C·C_out)
    and a LayerNorm: before (over 4C, Swin v1) or after (over C_out, v2); O = output positions."""
    a = layer.args
    assert isinstance(a, MergeArgs)
    o = area(out)
    linear = conv_cost(4 * inp.c, out.c, 1, 1, 1, o, False)
    c = 4 * inp.c if a.norm == "before" else out.c
    return linear + normalise_cost(o, c, c, True, True)


def merging_rf(layer: Layer, inp: Shape) -> AxisReads:
    """A 2×2 window of stride 2 (the padding unit at an odd end, like conv padding)."""
    return window(2, 2, 0), window(2, 2, 0)


def merging_torch(layer: Layer, inp: Shape, out: Shape, probe: bool) -> nn.Module:
    """torchvision's PatchMerging (v1) or PatchMergingV2, channels-first."""
    from convcalc.kinds import torch_attention as ta

    a = layer.args
    assert isinstance(a, MergeArgs)
    return ta.PatchMerging(inp.c, out.c, a.norm == "before", probe)


# ---------------------------------------------------------------- Ultralytics' attention (C2PSA)


class PSAArgs(NamedTuple):
    heads: int = 1
    attn_ratio: float = 0.5


def psa_dims(layer: Layer, c: int) -> tuple[int, int, int]:
    """(d, key_dim, qkv width): d = C / heads, key_dim = ⌊d·attn_ratio⌋, qkv = C + 2·key_dim·heads."""
    a = layer.args
    assert isinstance(a, PSAArgs)
    if c % a.heads:
        raise LayerShapeError(f"psa_attention heads {a.heads} must divide the channels {c}")
    d = c // a.heads
    kd = int(d * a.attn_ratio)
    if kd < 1:
        raise LayerShapeError(f"psa_attention key dimension ⌊{d}·{a.attn_ratio}⌋ is 0",
                              "use fewer heads or a larger attn_ratio")
    return d, kd, c + 2 * kd * a.heads


def psa_cost(layer: Layer, inp: Shape, out: Shape) -> Cost:
    """Ultralytics ``Attention(C, heads, attn_ratio)`` on N = H·W positions: qkv = 1×1 conv C → C + 2·kd·h
    + BN, QᵀK (macs h·N²·kd) times the scale (muls h·N²), softmax over N, V·Aᵀ (macs h·N²·d), + the
    positional 3×3 depthwise conv + BN of V (adds C·N), then the 1×1 projection + BN."""
    a = layer.args
    assert isinstance(a, PSAArgs)
    c, n, h = inp.c, area(inp), a.heads
    d, kd, width = psa_dims(layer, c)
    qkv = conv_cost(c, width, 1, 1, 1, n, False) + batch_norm(Shape(width, inp.h, inp.w))
    pe = conv_cost(c, c, c, 3, 3, n, False) + batch_norm(inp)
    proj = conv_cost(c, c, 1, 1, 1, n, False) + batch_norm(inp)
    rows = h * n
    soft = softmax_cost(layer, Shape(n, 1, rows), Shape(n, 1, rows))
    core = Cost(macs=rows * n * (kd + d), muls=rows * n, adds=c * n)
    return qkv + core + soft + pe + proj


def psa_rf(layer: Layer, inp: Shape) -> AxisReads:
    """Global: every position reads all (the positional 3×3 conv's window lies inside)."""
    return whole_map(inp.h), whole_map(inp.w)


def psa_torch(layer: Layer, inp: Shape, out: Shape, probe: bool) -> nn.Module:
    """Ultralytics' ``Attention`` written with ``torch.nn`` (same parameters and computation)."""
    from convcalc.kinds import torch_attention as ta

    a = layer.args
    assert isinstance(a, PSAArgs)
    d, kd, _ = psa_dims(layer, inp.c)
    return ta.PSAAttention(inp.c, a.heads, kd, d, probe)


register(
    Kind("attention", AttentionArgs,
         {"heads": positive, "head_dim": positive, "out": positive, "qkv_bias": boolean, "proj_bias": boolean,
          "window": pos_pair, "shift": nonneg_pair, "partition": choice("window", "grid"), "pad": boolean,
          "position": choice("none", "table", "mlp"), "cosine": boolean}, ("heads",),
         "multi-head self-attention over all tokens, windows (shifted) or a grid", "attention", attention_shape,
         attention_cost, attention_rf, attention_torch, check=attention_check, weights=True,
         channels=all_channels, attends=attention_note, memory=attention_memory),
    Kind("patch_merging", MergeArgs, {"out": positive, "norm": choice("before", "after")}, (),
         "Swin's patch merging: 2×2 patches concatenated, LayerNorm and linear 4C → 2C", "attention",
         merging_shape, merging_cost, merging_rf, merging_torch, weights=True, channels=all_channels,
         memory=merging_memory),
    Kind("psa_attention", PSAArgs, {"heads": positive, "attn_ratio": positive_number}, ("heads",),
         "Ultralytics' attention over the positions of a map (YOLO11 C2PSA)", "attention", same_shape, psa_cost,
         psa_rf, psa_torch, weights=True, channels=all_channels, attends=global_note, memory=psa_memory),
)
