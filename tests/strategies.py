"""Hypothesis strategy for random, valid convcalc specs (YAML text), for the PyTorch cross-check.

``specs()`` draws a :class:`GeneratedSpec`: the YAML text, the output shape of each model as computed
here independently of convcalc (plain per-axis arithmetic), and the block features used. Tensors stay tiny
(≤ 16 channels in most places, H, W ≤ 24) so every example runs in milliseconds.

Every layer kind and every block kind is drawn: residual (identity, projection, explicit shortcut,
``when`` false or an expression), branches (concat / add / mul, ``split`` true or a list, empty paths), dense,
repeat (with ``$i`` conditions and interpolated names, ``n: 0``), side (``training_only``), sequence, and
templates (parameters with defaults and expressions, ``in_channels``, ``$kind`` parameters, a template
calling templates, ``make_divisible``); strides, dilations, asymmetric kernels, groups, explicit
asymmetric and TF ``same`` padding (also as ``defaults.padding``), ceil_mode, count_include_pad,
transposed convolutions with output_padding, upsampling (by integer or real factors, or to a size),
deformable v1/v2, and the kinds of spec format 2 (layernorm, groupnorm, layer_scale, scale, adaptive_maxpool,
pixel_shuffle, pixel_unshuffle, drop_path, prelu, mish, elu, softmax, separable with a depth multiplier).

Spec format 2's DAG features are drawn as *DAG groups* (:meth:`_Gen.dag`): a named anchor, then steps of a
trunk (ceil items, named blocks holding a named layer), forks (a branch ``from:`` an earlier name, inside a
named block or not, merged back by ``add``/``concat``/``mul`` with ``previous`` or the name of the stream
end), joins (a merge of references only), gates written out (global_avgpool → 1×1 conv → act → 1×1 conv →
sigmoid → ``mul`` with the map: a C×1×1 operand broadcast; or a 1×H×W spatial gate; or a broadcast
``add``), and, at the top level, heads: branches that end in an ``outputs:`` entry. Every name in a group is
an ancestor of the stream end, so its stride relative to the group's input divides the stream end's, and a
branch from it with the quotient stride meets the stream end in size and effective stride. No node is left
dead: every abandoned stream end is merged back or declared an output. A named block's layer sometimes takes
an outer name (the same name in two scopes) and is merged by that name inside the block: the innermost
scope must win.

Left out on purpose (findings: the strict xfails in test_torch_crosscheck.py; PyTorch quirks: the comments
where they are avoided): a ``scale`` ≤ 0, bilinear upsampling to a smaller size, nearest upsampling by a
real factor to i or 2i pixels, a groupnorm group of one value.

``specs(neutral=True)`` draws the subset that ``tests/neutral/builder.py`` builds without convcalc: no
templates, expressions, TF ``same`` or asymmetric padding (so ceil lists use odd kernel extents), no
deformable convs; repeat, dense and side blocks always named (so that every full name is known); a
projection changes the shape whenever the stride changes (the docs' rule and the code's then agree).

``specs(neutral=True, rf=True)`` (tests/test_rf_exact.py) also draws, more often, what makes receptive fields
vary by unit: transposed convs, upsampling (bilinear also with ``align_corners``), adaptive pools, pixel
shuffles and unshuffles, and channel splits of maps whose channels have different windows (a concat of
unequal branches, a pixel_unshuffle or a flatten, sometimes then a channel_shuffle or a pixel_shuffle).
Without ``rf`` every draw is as before, so the other tests draw the same specs.

Merges stay valid by construction: inside blocks, each path is a "ceil list" (every strided layer maps
i → ⌈i/s⌉ per axis: padding p_begin + p_end = k_eff − 1 or ``same``), so paths with the same total
stride agree in size and effective stride; up-sampling appears there only as a pair (×u, then stride u)
that keeps both.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import yaml
from hypothesis import strategies as st

MAX_C = 16
MAX_HW = 24
ACTS = ("relu", "relu6", "leaky_relu", "sigmoid", "tanh", "gelu", "silu", "hardswish", "hardsigmoid", "mish",
        "elu")
POINTWISE = ("bn", "dropout", "identity", "channel_shuffle", "se", *ACTS, "prelu", "softmax", "layernorm",
             "groupnorm", "layer_scale", "scale", "drop_path")
#: Positive constant factors only: rf_probe keeps ``scale`` as it is (see test_torch_crosscheck's finding on
#: scale ≤ 0), so a non-positive factor would break the probe's monotonicity, not convcalc's arithmetic.
SCALES = (0.5, 2, 1.5, 3, 0.25)

Pair = tuple[int, int]
AxisPads = tuple[Pair, Pair]


@dataclass(frozen=True)
class Sh:
    c: int
    h: int
    w: int

    def astuple(self) -> tuple[int, int, int]:
        return self.c, self.h, self.w


Shape3 = tuple[int, int, int]


@dataclass
class GeneratedSpec:
    """A random spec: its YAML, the (first) output shape of each model (c, h, w), every declared output's
    shape per model (in ``outputs:`` order; the last layer's alone when none are declared) and the features
    drawn."""

    text: str
    outputs: list[Shape3]
    features: set[str] = field(default_factory=set)
    all_outputs: list[list[Shape3]] = field(default_factory=list)

    def __repr__(self) -> str:  # hypothesis prints this for a failing example
        return f"GeneratedSpec(outputs={self.all_outputs or self.outputs})\n--- spec ---\n{self.text}"


@dataclass(frozen=True)
class Target:
    """A named node of a DAG group: its name relative to the group's scope (``L5``, ``B6/L5``, ``B6``), its
    last segment, its shape and its stride relative to the group's input (a ceil list: i → ⌈i/r⌉).
    ``shadows``: its last segment is also an outer name (so it is never referred to by that alone)."""

    ref: str
    short: str
    sh: Sh
    r: Pair
    shadows: bool = False


@dataclass
class Cur:
    """The stream end inside a DAG group (``ref`` None: not named)."""

    sh: Sh
    r: Pair
    ref: str | None = None


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def make_divisible(v: int, d: int) -> int:
    """torchvision's _make_divisible on integers."""
    new = max(d, (2 * v + d) // (2 * d) * d)
    return new + d if 10 * new < 9 * v else new


def divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def window_out(i: int, ke: int, s: int, pb: int, pe: int, ceil_mode: bool = False) -> int | None:
    """⌊(i + p_b + p_e − k_eff)/s⌋ + 1 (PyTorch's ceil_mode rule); None when the kernel does not fit."""
    span = i + pb + pe - ke
    if span < 0:
        return None
    if ceil_mode:
        o = ceil_div(span, s) + 1
        return o - 1 if (o - 1) * s >= i + pb else o
    return span // s + 1


def same_pads(i: int, ke: int, s: int) -> Pair:
    total = max((ceil_div(i, s) - 1) * s + ke - i, 0)
    return total // 2, total - total // 2


# ---------------------------------------------------------------- templates (named blocks) drawn into every spec

TEMPLATES: dict[str, Any] = {
    "unit": {
        "params": {"out": None, "stride": 1, "k": 3, "act": "relu"},
        "body": [
            {"residual": {
                "when": "${stride == 1 and in_channels == out}",
                "body": [
                    {"conv": {"out": "$out", "kernel": "$k", "stride": "$stride", "padding": "${(k - 1) // 2}"}},
                    "bn",
                    "$act",
                ],
            }},
        ],
    },
    "mb": {
        "params": {"out": None, "stride": 1, "t": 2, "se": 0, "mid": "${in_channels * t}"},
        "body": [
            {"residual": {
                "name": "block",
                "when": "${stride == 1 and in_channels == out}",
                "body": [
                    {"conv": {"if": "${t != 1}", "out": "$mid", "kernel": 1}},
                    {"bn": {"if": "${t != 1}"}},
                    {"relu6": {"if": "${t != 1}"}},
                    {"dwconv": {"kernel": 3, "stride": "$stride", "padding": 1}},
                    {"se": {"if": "${se > 0}", "width": "${max(1, in_channels // 4)}"}},
                    {"conv": {"out": "$out", "kernel": 1}},
                    {"bn": {"center": False}},
                ],
            }},
        ],
    },
    "stage": {
        "params": {"out": None, "n": 2, "first_stride": 2},
        "body": [
            {"unit": {"out": "$out", "stride": "$first_stride", "act": "hardswish"}},
            {"repeat": {"n": "${n - 1}", "body": [{"mb": {"out": "$out", "t": 1}}]}},
        ],
    },
}


class _Gen:
    """Draws one model's layer list while tracking its shape with plain arithmetic."""

    def __init__(self, draw: Callable[[Any], Any], default_pad: str | None, features: set[str],
                 neutral: bool = False, rf: bool = False) -> None:
        self.draw = draw
        self.rf = rf
        self.default_pad = default_pad
        self.features = features
        self.neutral = neutral
        self.budget = 0
        self.names = 0
        #: inside repeat bodies (walked once per iteration: names repeat, so references are qualified)
        self.repeated = 0
        #: items left out by a false condition (a ``from:`` must not go on them)
        self.skipped_ids: set[int] = set()
        #: the top level's declared outputs being collected (None: this model declares none)
        self.outs: list[tuple[str, Sh]] | None = None
        #: top-level names that may be declared outputs
        self.out_candidates: list[tuple[str, Sh]] = []

    # ------------------------------------------------------------ drawing helpers

    def i(self, lo: int, hi: int) -> int:
        return int(self.draw(st.integers(lo, max(lo, hi))))

    def b(self, p_true: int = 1, of: int = 2) -> bool:
        return self.i(0, of - 1) < p_true

    def pick(self, options: Any) -> Any:
        return self.draw(st.sampled_from(list(options)))

    def pair(self, v: Pair) -> Any:
        if v[0] == v[1]:
            return v[0] if self.b(2, 3) else [v[0], v[1]]
        return [v[0], v[1]]

    def new_name(self, prefix: str) -> str:
        self.names += 1
        return f"{prefix}{self.names}"

    def item(self, kind: str, args: dict[str, Any], name: str | None = None) -> Any:
        """A layer item in one of the spec's forms, sometimes named (always when ``name`` is given) or guarded
        by a true condition."""
        self.features.add(kind)
        self.budget -= 1
        if name is None and self.b(1, 6):
            name = self.new_name("L")
        if name is not None:
            args = {"name": name, **args}
        if self.b(1, 12):
            args = {"if": self.pick([True, 1] if self.neutral else [True, "${1 < 2}", 1]), **args}
            self.features.add("if")
        if not args:
            return self.pick([kind, {kind: None}, {kind: {}}])
        return {kind: args}

    def skipped(self) -> Any:
        """An item left out by a false condition (the rest is never looked at)."""
        self.features.add("if-false")
        kinds = ["conv", "relu"] if self.neutral else ["conv", "relu", "unit"]
        item = {self.pick(kinds): {"if": self.pick([False, 0] if self.neutral else [False, "${2 < 1}", 0]), "out": 3,
                                   "kernel": 1}}
        self.skipped_ids.add(id(item))
        return item

    # ------------------------------------------------------------ padding

    def pads_ceil(self, ke: Pair, pool: Pair | None) -> tuple[Any, Any]:
        """Padding keeping o = ⌈i/s⌉ on both axes: p_begin + p_end = k_eff − 1, or TF same. ``pool``: the
        pool's kernel (PyTorch allows at most kernel // 2 on a side)."""
        options = [] if self.neutral else ["same"]
        if pool is None or all(k - 1 <= 2 * (kp // 2) for k, kp in zip(ke, pool, strict=True)):
            options.append("explicit")
        if self.default_pad == "same" or ke == (1, 1):
            options.append("omit")
        if ke == (1, 1):
            options.append("valid")
        how = self.pick(options)
        if how == "omit":
            return None, "same" if self.default_pad == "same" else ((0, 0), (0, 0))
        if how == "same":
            self.features.add("same")
            return "same", "same"
        if how == "valid":
            return "valid", ((0, 0), (0, 0))
        pads = []
        for ax, k in enumerate(ke):
            lo, hi = (k - 1 - pool[ax] // 2, pool[ax] // 2) if pool is not None else (0, k - 1)
            pb = self.i(max(lo, 0), min(hi, k - 1)) if self.b(1, 2) and not self.neutral else (k - 1) // 2
            pads.append((pb, k - 1 - pb))
        return self.pad_value(pads[0], pads[1]), (pads[0], pads[1])

    def pads_free(self, ke: Pair, pool: Pair | None) -> tuple[Any, Any]:
        how = self.pick(["omit", "int", "pair", "nested", "valid"] if self.neutral else
                        ["omit", "int", "pair", "nested", "same", "valid"])
        if how == "omit":
            return None, "same" if self.default_pad == "same" else ((0, 0), (0, 0))
        if how == "same":
            self.features.add("same")
            return "same", "same"
        if how == "valid":
            return "valid", ((0, 0), (0, 0))

        def one(ax: int) -> int:
            return self.i(0, pool[ax] // 2 if pool is not None else 2)

        if how == "int":
            p = min(one(0), one(1))
            return p, ((p, p), (p, p))
        if how == "pair":
            ph, pw = one(0), one(1)
            return [ph, pw], ((ph, ph), (pw, pw))
        pads = ((one(0), one(0)), (one(1), one(1)))
        if self.neutral:
            pads = ((pads[0][0], pads[0][0]), (pads[1][0], pads[1][0]))
        return self.pad_value(*pads), pads

    def pad_value(self, ph: Pair, pw: Pair) -> Any:
        if ph[0] == ph[1] and pw[0] == pw[1]:
            if ph == pw and self.b():
                return ph[0]
            return [ph[0], pw[0]]
        self.features.add("asymmetric-padding")
        return [[ph[0], ph[1]], [pw[0], pw[1]]]

    # ------------------------------------------------------------ window layers

    def window(self, kind: str, sh: Sh, stride: Pair | None, agnostic: bool = False) -> tuple[Any, Sh] | None:
        """conv, dwconv, separable, deform, maxpool, avgpool, pwconv. ``stride`` given: a ceil layer with
        that stride; None: any geometry (free), None returned if it does not fit."""
        pool = kind in ("maxpool", "avgpool")
        k: Pair = (1, 1)
        d: Pair = (1, 1)
        if kind != "pwconv":
            k = (self.i(1, 3), self.i(1, 3)) if self.b(3, 4) else (self.i(1, 5), self.i(1, 5))
            if kind != "avgpool" and self.b(1, 3) and not (self.neutral and pool and stride is not None):
                d = (self.i(1, 2), self.i(1, 3))
                self.features.add("dilation")
            if self.neutral and stride is not None:  # symmetric padding keeps ⌈i/s⌉ only for odd extents
                k = (k[0] if d[0] * (k[0] - 1) % 2 == 0 else k[0] + 1, k[1] if d[1] * (k[1] - 1) % 2 == 0 else k[1] + 1)
        ke = (d[0] * (k[0] - 1) + 1, d[1] * (k[1] - 1) + 1)
        if ke[0] != ke[1]:
            self.features.add("asymmetric-kernel")
        ceil_mode = False
        if stride is None:
            s = (self.i(1, 3), self.i(1, 3)) if self.b(1, 2) else (1, 1)
            yaml_pad, pads = self.pads_free(ke, k if pool else None) if kind != "pwconv" else (None, ((0, 0), (0, 0)))
            if pool and self.b(1, 3):
                ceil_mode = True
        else:
            s = stride
            yaml_pad, pads = self.pads_ceil(ke, k if pool else None) if kind != "pwconv" else (None, ((0, 0), (0, 0)))
            if pool and s == (1, 1) and self.b(1, 4):
                ceil_mode = True
        if max(s) > 1:
            self.features.add("stride")
        dims = []
        for ax, i in enumerate((sh.h, sh.w)):
            pb, pe = same_pads(i, ke[ax], s[ax]) if pads == "same" else pads[ax]
            o = window_out(i, ke[ax], s[ax], pb, pe, ceil_mode)
            if pads == "same":
                o = ceil_div(i, s[ax])
            if o is None or (stride is None and o > MAX_HW):
                return None
            dims.append(o)
        args: dict[str, Any] = {}
        c_out = sh.c
        if kind in ("conv", "pwconv", "separable", "deform"):
            c_out = self.i(1, MAX_C) if not agnostic else self.i(1, 8)
            g = 1
            if kind != "separable" and not agnostic and self.b(1, 3):
                g = self.pick([x for x in divisors(sh.c) if x <= c_out])
                c_out = g * max(1, c_out // g)
            args["out"] = c_out
            if g > 1:
                args["groups"] = g
                self.features.add("groups")
            if kind == "deform":
                if not agnostic and self.b():
                    args["offset_groups"] = self.pick(divisors(sh.c))
                args["version"] = self.pick([1, 2])
                self.features.add(f"deform-v{args['version']}")
            if kind == "separable" and self.b(1, 3):
                args["multiplier"] = self.i(1, 3)
                self.features.add("separable-multiplier")
        elif kind == "dwconv":
            m = 1 if agnostic or sh.c * 2 > MAX_C or self.b() else 2
            if m > 1 or self.b(1, 4):
                args["multiplier"] = m
            c_out = sh.c * m
        if kind != "pwconv":
            args["kernel"] = self.pair(k)
        if s != (1, 1) or self.b(1, 4):
            if not (pool and s == k and self.b()):
                args["stride"] = self.pair(s)
        elif pool:
            args["stride"] = 1
        if d != (1, 1):
            args["dilation"] = self.pair(d)
        if yaml_pad is not None:
            args["padding"] = yaml_pad
        if pool:
            if ceil_mode:
                args["ceil_mode"] = True
                self.features.add("ceil_mode")
            elif self.b(1, 6):
                args["ceil_mode"] = False
            if kind == "avgpool" and self.b():
                args["count_include_pad"] = self.b()
        elif self.b(1, 3):
            args["bias"] = self.b()
        return self.item(kind, args), Sh(c_out, dims[0], dims[1])

    def deconv(self, sh: Sh, up: Pair | None = None) -> tuple[Any, Sh] | None:
        """Transposed conv: free (any geometry), or exactly ×up per axis (for an up-down pair)."""
        args: dict[str, Any] = {}
        if up is None:
            k = (self.i(1, 4), self.i(1, 4))
            s = (self.i(1, 3), self.i(1, 3))
            d = (self.i(1, 2), self.i(1, 2)) if self.b(1, 3) else (1, 1)
            op = (self.i(0, max(s[0], d[0]) - 1), self.i(0, max(s[1], d[1]) - 1))
            pads = ((self.i(0, 2), self.i(0, 2)), (self.i(0, 2), self.i(0, 2)))
            if self.b() or self.neutral:
                pads = ((pads[0][0], pads[0][0]), (pads[1][0], pads[1][0]))
        else:
            kinds = []
            for u in up:
                kinds.append(self.pick((["k=s"] if self.neutral and u != 2 else ["k=s", "k=2s"])
                                       + (["k3p1op1"] if u == 2 else [])))
            k_l, p_l, op_l = [], [], []
            for u, how in zip(up, kinds, strict=True):
                if how == "k=s":
                    k_l.append(u), p_l.append((0, 0)), op_l.append(0)
                elif how == "k=2s":  # o = (i−1)u − 2p + 2u − 1 + 1 with p_b + p_e = u
                    pb = u // 2
                    k_l.append(2 * u), p_l.append((pb, u - pb)), op_l.append(0)
                else:
                    k_l.append(3), p_l.append((1, 1)), op_l.append(1)
            k, s, d = (k_l[0], k_l[1]), up, (1, 1)
            op = (op_l[0], op_l[1])
            pads = (p_l[0], p_l[1])
        dims = []
        for ax, i in enumerate((sh.h, sh.w)):
            o = (i - 1) * s[ax] - pads[ax][0] - pads[ax][1] + d[ax] * (k[ax] - 1) + op[ax] + 1
            if o < 1 or o > 2 * MAX_HW:
                return None
            dims.append(o)
        g = 1
        out = self.i(1, MAX_C)
        if self.b(1, 4):
            g = self.pick(divisors(sh.c))
            out = g * max(1, out // g)
            args["groups"] = g
        args.update(out=out, kernel=self.pair(k), stride=self.pair(s))
        if d != (1, 1):
            args["dilation"] = self.pair(d)
        if pads != ((0, 0), (0, 0)) or self.default_pad == "same" or self.b():
            args["padding"] = self.pad_value(*pads)
        if op != (0, 0):
            args["output_padding"] = self.pair(op)
            self.features.add("output_padding")
        if self.b(1, 3):
            args["bias"] = self.b()
        return self.item("deconv", args), Sh(out, dims[0], dims[1])

    def upsample(self, sh: Sh, up: Pair | None = None, large: bool = False) -> tuple[Any, Sh]:
        """By integer factors (``up``: exactly those), to a size, or by real factors (free lists only;
        ``large``: no integer factors)."""
        mode = self.pick(["nearest", "bilinear"])
        self.features.add(f"upsample-{mode}")
        how = "scale" if up is not None and self.b(2, 3) else "size" if up is not None else \
            self.pick(["size", "real"] if large else ["scale", "size", "real", "real"])
        args: dict[str, Any]
        if how == "scale":
            s = up if up is not None else (self.i(1, 3), self.i(1, 3))
            args, out = {"scale": self.pair(s)}, (sh.h * s[0], sh.w * s[1])
        elif how == "size":
            self.features.add("upsample-size")
            if up is not None:
                out = (sh.h * up[0], sh.w * up[1])
            else:  # any size, also smaller than the input (nearest only: see test_torch_crosscheck's finding)
                lo = (1, 1) if mode == "nearest" else (sh.h, sh.w)
                out = (self.i(lo[0], MAX_HW), self.i(lo[1], MAX_HW))
            args = {"size": self.pair(out)}
        else:
            self.features.add("upsample-real")
            real = [1.5, 2.5, 0.5, 1.25] if mode == "nearest" else [1.5, 2.5, 1.25]
            f = (self.pick(real), self.pick([*real, 2])) if self.b() else (self.pick(real),) * 2
            out = (math.floor(float(sh.h) * f[0]), math.floor(float(sh.w) * f[1]))
            # (nearest: PyTorch's eager kernel maps o = i and o = 2i exactly, its decomposition, which runs
            # under FlopCounterMode, by the factor: the values differ, so those sizes are avoided)
            quirk = mode == "nearest" and any(o in (i, 2 * i) for o, i in zip(out, (sh.h, sh.w), strict=True))
            if min(out) < 1 or max(out) > MAX_HW or quirk:
                f, out = (1, 1), (sh.h, sh.w)
            args = {"scale": f[0] if f[0] == f[1] and self.b() else [f[0], f[1]]}
        if mode == "bilinear" or self.b():
            args["mode"] = mode
        if mode == "bilinear" and self.rf and self.b(1, 3):
            args["align_corners"] = self.b(2, 3)
            self.features.add("upsample-align-corners" if args["align_corners"] else "upsample-align-corners-false")
        return self.item("upsample", args), Sh(sh.c, out[0], out[1])

    def pointwise(self, sh: Sh, agnostic: bool = False, name: str | None = None) -> tuple[Any, Sh]:
        kinds = [k for k in POINTWISE if not (agnostic and k == "channel_shuffle")]
        kind = self.pick(kinds)
        args: dict[str, Any] = {}
        # PyTorch's group_norm refuses groups of one value (at batch 1), as a variance of one value is no statistic
        groups = [1] if agnostic else [d for d in divisors(sh.c) if sh.c // d * sh.h * sh.w > 1]
        if kind == "groupnorm" and (not groups or sh.c * sh.h * sh.w == 1):
            kind = "layernorm"
        if kind in ("layernorm", "groupnorm"):
            if kind == "groupnorm":
                args["groups"] = self.pick(groups)
            if self.b(1, 3):
                args["affine"] = self.b()
            if self.b(1, 3):
                args["bias"] = self.b()
            if self.b(1, 4):
                args["eps"] = self.pick([1e-6, 0.001])
        elif kind == "layer_scale" and self.b():
            args["init"] = self.pick([1e-6, 0.1, 1])
        elif kind == "scale":
            args["value"] = self.pick(SCALES)
        elif kind == "drop_path" and self.b():
            args["p"] = self.pick([0.0, 0.1, 0.5])
        elif kind == "prelu" and self.b():
            args["per_channel"] = self.b()
        elif kind == "elu" and self.b():
            args["alpha"] = self.pick([0.5, 1, 2.0])
        elif kind == "leaky_relu" and self.b():
            args["slope"] = self.pick([0.1, 0.2, 0])
        if kind == "bn":
            if self.b(1, 3):
                args["scale"] = self.b()
            if self.b(1, 3):
                args["center"] = self.b()
        elif kind == "dropout" and self.b():
            args["p"] = self.pick([0.0, 0.2, 0.5, 1])
        elif kind == "channel_shuffle":
            args["groups"] = self.pick(divisors(sh.c))
        elif kind == "se":
            if agnostic or self.b():
                args["reduction"] = self.i(1, 8)
            else:
                args["width"] = self.i(1, 8)
            if self.b():
                args["activation"] = self.pick(ACTS)
            if self.b():
                args["gate"] = self.pick(["sigmoid", "hardsigmoid"])
        return self.item(kind, args, name), sh

    # ------------------------------------------------------------ ceil lists (inside blocks)

    def ceil_item(self, sh: Sh, s: Pair, depth: int, agnostic: bool) -> tuple[Any, Sh]:
        """One item mapping (c, h, w) → (c', ⌈h/s_h⌉, ⌈w/s_w⌉) with effective stride s. ``agnostic``: valid
        for any channel count and keeping it."""
        choices = ["window", "window", "pointwise", "pointwise"]
        if sh.h * 2 <= MAX_HW and sh.w * 2 <= MAX_HW:
            choices.append("pair")
        if depth > 0 and self.budget > 0:
            choices += ["residual", "residual", "branches", "sequence", "side"]
            if s == (1, 1):
                choices += ["repeat"] + ([] if agnostic else ["dense"])
            if not agnostic:
                choices += (["dag"] if self.neutral or self.b() else []) + ([] if self.neutral else ["template"])
        how = self.pick(choices)
        if how == "pointwise" and s == (1, 1):
            return self.pointwise(sh, agnostic)
        if how == "dag":
            items, out = self.dag(sh, s, depth - 1)
            return self.wrap(items), out
        r = s[0]
        if how == "window" and not agnostic and r > 1 and s[1] == r and sh.h % r == 0 and sh.w % r == 0 \
                and sh.c * r * r <= 4 * MAX_C and self.b(1, 3):  # space-to-depth: exactly i/r
            return self.item("pixel_unshuffle", {"factor": r}), Sh(sh.c * r * r, sh.h // r, sh.w // r)
        if how in ("window", "pointwise"):
            kinds = ["conv", "dwconv", "pwconv", "separable", "maxpool", "avgpool"]
            kinds += [] if self.neutral else ["deform"]
            if agnostic:
                kinds = ["dwconv", "maxpool", "avgpool"]
            kind = self.pick(kinds)
            got = self.window(kind, sh, s, agnostic)
            assert got is not None
            return got
        if how == "pair":
            return self.up_down(sh, s, agnostic)
        return self.block(how, sh, s, depth - 1, agnostic)

    def up_down(self, sh: Sh, s: Pair, agnostic: bool) -> tuple[Any, Sh]:
        """×u up-sampling (upsample or deconv) then a layer of stride u·s: the pair maps i → ⌈i/s⌉."""
        up = (self.i(1, 2), self.i(1, 2))
        got = None
        if not agnostic and up[0] == up[1] > 1 and sh.c % (up[0] * up[0]) == 0 and self.b(1, 3):
            got = self.item("pixel_shuffle", {"factor": up[0]}), Sh(sh.c // (up[0] * up[0]), sh.h * up[0], sh.w * up[0])
        elif not agnostic and self.b():
            got = self.deconv(sh, up)
        first, mid = got if got is not None else self.upsample(sh, up)
        kind = self.pick(["dwconv", "maxpool", "avgpool"] if agnostic else ["conv", "dwconv", "maxpool", "avgpool"])
        second = self.window(kind, mid, (up[0] * s[0], up[1] * s[1]), agnostic)
        assert second is not None
        self.features.add("up-down")
        return {"sequence": {"body": [first, second[0]]}}, second[1]

    def ceil_list(self, sh: Sh, s: Pair, depth: int, target_c: int | None = None, agnostic: bool = False,
                  min_len: int = 0) -> tuple[list[Any], Sh]:
        n = self.i(max(min_len, 1 if s != (1, 1) else 0), 4 if self.budget > 0 else 1)
        strided = self.i(0, n - 1) if s != (1, 1) else -1
        items: list[Any] = []
        for j in range(n):
            item, sh = self.ceil_item(sh, s if j == strided else (1, 1), depth, agnostic)
            items.append(item)
        if target_c is not None and sh.c != target_c:
            if self.b():
                items.append(self.item("pwconv", {"out": target_c}))
            else:
                items.append(self.item("conv", {"out": target_c, "kernel": 1}))
            sh = Sh(target_c, sh.h, sh.w)
        if self.b(1, 10):
            items.insert(self.i(0, len(items)), self.skipped())
        return items, sh

    # ------------------------------------------------------------ blocks

    def block(self, kind: str, sh: Sh, s: Pair, depth: int, agnostic: bool) -> tuple[Any, Sh]:
        self.features.add(kind)
        self.budget -= 1
        args: dict[str, Any] = {}
        if self.b(1, 3) or (self.neutral and kind in ("repeat", "dense", "side")):
            args["name"] = self.new_name("B")
        out: Sh
        if kind == "sequence":
            body, out = self.ceil_list(sh, s, depth, None, agnostic, min_len=1)
            args["body"] = body
        elif kind == "residual":
            out = self.residual(args, sh, s, depth, agnostic)
        elif kind == "branches":
            out = self.branches(args, sh, s, depth, agnostic)
        elif kind == "side":
            training = self.b()
            self.features.add("side-training-only" if training else "side")
            body, _ = (self.ceil_list(sh, (1, 1), depth, None, True, min_len=1) if agnostic
                       else self.free_list(sh, depth, head=self.b()))
            args["body"] = body
            if training or self.b():
                args["training_only"] = training
            body2, out = self.ceil_list(sh, s, depth, None, agnostic) if s != (1, 1) else ([], sh)
            if body2:
                return {"sequence": {"body": [{"side": args}, *body2]}}, out
        elif kind == "repeat":
            n = self.pick([0, 1, 2, 2, 3])
            self.repeated += 1
            body, _ = self.ceil_list(sh, (1, 1), depth, None if agnostic else sh.c, agnostic)
            self.repeated -= 1
            if self.b() and not self.neutral:
                self.features.add("repeat-$i")
                body.insert(self.i(0, len(body)), {"relu": {"if": "${i % 2 == 1}", "name": "act${i}"}})
            if not body:
                body = ["identity"]
            args.update(n=n, body=body)
            out = sh
        elif kind == "dense":
            n = self.i(1, 3)
            growth = self.i(1, 6)
            body, _ = self.ceil_list(sh, (1, 1), depth, None, True)
            if self.b() and not self.neutral:
                body.append({"bn": {"if": "${i > 0}"}})
            pad = self.pick([1] if self.neutral else [1, "same"])
            body.append(self.item("conv", {"out": growth, "kernel": 3, "padding": pad}))
            args.update(n=n, body=body)
            out = Sh(sh.c + n * growth, sh.h, sh.w)
        else:  # template call
            return self.template(sh, s)
        return {kind: args}, out

    def residual(self, args: dict[str, Any], sh: Sh, s: Pair, depth: int, agnostic: bool) -> Sh:
        variants = ["identity", "when"] if agnostic else ["identity", "identity", "projection", "shortcut", "when"]
        if s != (1, 1):
            variants = [v for v in variants if v != "identity"]
        if s != (1, 1) and agnostic:
            variants = ["when"]
        how = self.pick(variants)
        self.features.add(f"residual-{how}")
        if how == "identity":
            body, out = self.ceil_list(sh, (1, 1), depth, None if agnostic else sh.c, agnostic, min_len=1)
            args["body"] = body
            if self.b(1, 4):
                args["when"] = self.pick([True] if self.neutral else [True, "${3 > 2}"])
            return out
        if how == "when":
            body, out = self.ceil_list(sh, s, depth, None, agnostic, min_len=1)
            args.update(body=body, when=self.pick([False] if self.neutral else [False, "${1 > 2}"]))
            if not agnostic and self.b():
                args["projection"] = [self.item("pwconv", {"out": 1})]  # never built: the skip is dropped
            return out
        c_out = self.i(1, MAX_C) if self.b() else sh.c
        if self.neutral and how == "projection" and s != (1, 1) \
                and (c_out, ceil_div(sh.h, s[0]), ceil_div(sh.w, s[1])) == sh.astuple():
            c_out = sh.c % MAX_C + 1  # no change of the stride alone: the builder applies it where the shape changes
        body, out = self.ceil_list(sh, s, depth, c_out, agnostic, min_len=1)
        args["body"] = body
        if how == "shortcut":
            short, _ = self.ceil_list(sh, s, depth, c_out, agnostic)
            args["shortcut"] = short
            return out
        proj: list[Any]
        style = self.pick(["pw", "conv-bn", "avg"])
        if style == "avg" and sh.h >= s[0] and sh.w >= s[1] and s != (1, 1):
            proj = [self.item("avgpool", {"kernel": self.pair(s), "stride": self.pair(s), "ceil_mode": True,
                                          "count_include_pad": False}),
                    self.item("pwconv", {"out": c_out})]
        elif style == "conv-bn":
            proj = [self.item("conv", {"out": c_out, "kernel": 1, "stride": self.pair(s)}), "bn"]
        else:
            proj = [self.item("pwconv", {"out": c_out, "stride": self.pair(s)})]
        args["projection"] = proj
        return out

    def branches(self, args: dict[str, Any], sh: Sh, s: Pair, depth: int, agnostic: bool) -> Sh:
        n = self.i(1, 3)
        merge = self.pick(["add", "add", "mul"] if agnostic else ["concat", "concat", "add", "add", "mul"])
        self.features.add(f"branches-{merge}")
        ins = [sh.c] * n
        if not agnostic and self.b(2 if self.rf else 1, 3) and sh.c >= n:
            if sh.c % n == 0 and self.b():
                args["split"] = True
                ins = [sh.c // n] * n
            else:
                cuts = sorted(self.draw(st.sets(st.integers(1, sh.c - 1), min_size=n - 1, max_size=n - 1))) \
                    if n > 1 else []
                ins = [b - a for a, b in zip([0, *cuts], [*cuts, sh.c], strict=True)]
                args["split"] = ins
            self.features.add("split")
        target = None if merge == "concat" else (None if agnostic else self.i(1, MAX_C))
        paths: list[Any] = []
        outs: list[Sh] = []
        for c_in in ins:
            p_sh = Sh(c_in, sh.h, sh.w)
            want = target
            if merge != "concat" and agnostic:
                want = None
            empty_ok = s == (1, 1) and (merge == "concat" or want in (None, c_in))
            if empty_ok and self.b(1, 3):
                paths.append([])
                outs.append(p_sh)
                self.features.add("empty-path")
                continue
            if merge != "concat" and not agnostic and want is None:
                want = c_in
            path, o = self.ceil_list(p_sh, s, depth, want, agnostic, min_len=1)
            paths.append(path)
            outs.append(o)
        if merge != "concat" and not agnostic:
            # every path must end with `target` channels (an empty path has c_in == target)
            assert all(o.c == outs[0].c for o in outs), (outs, target)
        args["paths"] = paths
        if merge != "concat" or self.b():
            args["merge"] = merge
        c = outs[0].c if merge != "concat" else sum(o.c for o in outs)
        return Sh(c, outs[0].h, outs[0].w)

    def template(self, sh: Sh, s: Pair) -> tuple[Any, Sh]:
        name = self.pick(["unit", "mb", "stage"])
        self.features.add("template")
        out = self.i(1, MAX_C)
        args: dict[str, Any] = {"out": out if self.b(2, 3) else f"${{make_divisible({out}, 4)}}"}
        if isinstance(args["out"], str):
            out = make_divisible(out, 4)
            self.features.add("make_divisible")
        if name == "unit":
            if s != (1, 1) or self.b():
                args["stride"] = self.pair(s)
            if self.b():
                args["k"] = self.pick([1, 3, 5])
            if self.b(3, 4):
                args["act"] = self.pick(ACTS)
                self.features.add("$kind")
        elif name == "mb":
            if s != (1, 1) or self.b():
                args["stride"] = self.pair(s)
            if self.b():
                args["t"] = self.pick([1, 2, 3])
            if self.b():
                args["se"] = 1
        else:
            args["first_stride"] = self.pair(s)
            if self.b():
                args["n"] = self.i(1, 3)
        if self.b(1, 4):
            self.names += 1
            args["name"] = f"T{self.names}"
        self.budget -= 3
        return {name: args}, Sh(out, ceil_div(sh.h, s[0]), ceil_div(sh.w, s[1]))

    # ------------------------------------------------------------ free lists (any geometry)

    def free_item(self, sh: Sh, depth: int) -> tuple[Any, Sh]:
        kinds = ["conv", "conv", "dwconv", "pwconv", "separable", "maxpool", "avgpool", "pointwise",
                 "pointwise", "deconv", "upsample", "upsample", "adaptive_avgpool", "adaptive_maxpool", "pixel_shuffle",
                 "pixel_unshuffle", "block", "block", "block", "block"] + ([] if self.neutral else ["deform"])
        if self.rf:
            kinds += ["deconv", "deconv", "upsample", "upsample", "adaptive_avgpool", "adaptive_maxpool",
                      "pixel_shuffle", "pixel_unshuffle", "mixed-split", "mixed-split", "mixed-split"]
        if sh.h * sh.w > 1:
            kinds += ["global_avgpool", "global_maxpool"] if self.b(1, 4) else []
        if sh.c * sh.h * sh.w <= 256 and self.b(1, 4):
            kinds += ["flatten", "linear"]
        kind = self.pick(kinds)
        if kind == "mixed-split":
            return self.mixed_split(sh, depth)
        if kind == "pixel_shuffle":
            rs = [r for r in (2, 3) if sh.c % (r * r) == 0 and sh.h * r <= MAX_HW and sh.w * r <= MAX_HW]
            if rs:
                r = self.pick(rs)
                return self.item(kind, {"factor": r}), Sh(sh.c // (r * r), sh.h * r, sh.w * r)
            if sh.h * 2 <= MAX_HW and sh.w * 2 <= MAX_HW:  # a 1×1 conv to a multiple of 4 channels first
                m = self.i(1, 3)
                items = [self.item("pwconv", {"out": 4 * m}), self.item(kind, {"factor": 2})]
                return {"sequence": {"body": items}}, Sh(m, sh.h * 2, sh.w * 2)
            kind = "pointwise"
        if kind == "pixel_unshuffle":
            rs = [r for r in (1, 2, 3) if sh.h % r == 0 and sh.w % r == 0 and sh.c * r * r <= 4 * MAX_C]
            if rs:
                r = self.pick(rs)
                return self.item(kind, {"factor": r}), Sh(sh.c * r * r, sh.h // r, sh.w // r)
            kind = "pointwise"
        if kind in ("conv", "dwconv", "pwconv", "separable", "deform", "maxpool", "avgpool"):
            got = self.window(kind, sh, None)
            if got is not None:
                return got
            kind = "pointwise"
        if kind == "deconv" and sh.h <= MAX_HW // 2 and sh.w <= MAX_HW // 2:
            got = self.deconv(sh)
            if got is not None:
                return got
        if kind == "upsample":  # (integer factors up to 3 only where they keep H, W <= MAX_HW)
            return self.upsample(sh, large=sh.h * 3 > MAX_HW or sh.w * 3 > MAX_HW)
        if kind in ("adaptive_avgpool", "adaptive_maxpool"):
            size = (self.i(1, 4), self.i(1, 4))
            return self.item(kind, {"size": self.pair(size)}), Sh(sh.c, size[0], size[1])
        if kind in ("global_avgpool", "global_maxpool", "flatten"):
            return self.item(kind, {}), (Sh(sh.c, 1, 1) if kind != "flatten" else Sh(sh.c * sh.h * sh.w, 1, 1))
        if kind == "linear":
            return self.linear_head(sh)
        if kind == "block" and depth > 0 and self.budget > 0:
            s = self.pick([(1, 1), (1, 1), (2, 2), (2, 1), (1, 2), (3, 3)])
            tpl = [] if self.neutral else ["template"]
            how = self.pick(["residual", "branches", "sequence", "repeat", "dense", "side", "dag", *tpl]
                            if s == (1, 1) else ["residual", "branches", "sequence", "dag", *tpl])
            if how == "dag":
                items, out = self.dag(sh, s, depth - 1)
                return self.wrap(items), out
            return self.block(how, sh, s, depth, False)
        return self.pointwise(sh)

    def mixed_split(self, sh: Sh, depth: int) -> tuple[Any, Sh]:
        """(``rf``) A map whose channels have different windows (a concat of two unequal branches, a
        pixel_unshuffle, a flatten), sometimes permuted (channel_shuffle, pixel_shuffle), then split into
        paths concatenated again."""
        self.features.add("mixed-split")
        items: list[Any] = []
        how = self.pick(["concat", "concat", "unshuffle", "flatten"])
        rs = [r for r in (2, 3) if sh.h % r == 0 and sh.w % r == 0 and sh.c * r * r <= 4 * MAX_C]
        if (how == "unshuffle" and not rs) or (how == "flatten" and (sh.c * sh.h * sh.w > 128 or sh.h * sh.w == 1)):
            how = "concat"
        if how == "concat":
            paths = []
            c = 0
            for _ in range(2):
                path, out = self.ceil_list(sh, (1, 1), max(depth - 1, 0), None, min_len=0)
                paths.append(path)
                c += out.c
            items.append({"branches": {"paths": paths, "merge": "concat"}})
            sh = Sh(c, sh.h, sh.w)
        elif how == "unshuffle":
            r = self.pick(rs)
            items.append(self.item("pixel_unshuffle", {"factor": r}))
            sh = Sh(sh.c * r * r, sh.h // r, sh.w // r)
        else:
            items.append(self.item("flatten", {}))
            sh = Sh(sh.c * sh.h * sh.w, 1, 1)
        self.features.add(f"mixed-{how}")
        then = self.pick(["split", "channel_shuffle", "pixel_shuffle"])
        if then == "channel_shuffle" and sh.c > 1:
            items.append(self.item("channel_shuffle", {"groups": self.pick(divisors(sh.c)[1:])}))
        elif then == "pixel_shuffle" and sh.c % 4 == 0 and sh.h * 2 <= MAX_HW and sh.w * 2 <= MAX_HW:
            items.append(self.item("pixel_shuffle", {"factor": 2}))
            sh = Sh(sh.c // 4, sh.h * 2, sh.w * 2)
        if sh.c < 2:
            return {"sequence": {"body": items}}, sh
        n = self.i(2, min(3, sh.c))
        cuts = sorted(self.draw(st.sets(st.integers(1, sh.c - 1), min_size=n - 1, max_size=n - 1)))
        sizes = [b - a for a, b in zip([0, *cuts], [*cuts, sh.c], strict=True)]
        paths, c = [], 0
        for size in sizes:
            path, out = ([], Sh(size, sh.h, sh.w)) if self.b(1, 3) else \
                self.ceil_list(Sh(size, sh.h, sh.w), (1, 1), max(depth - 1, 0), None, min_len=1)
            paths.append(path)
            c += out.c
        items.append({"branches": {"split": sizes, "paths": paths, "merge": "concat"}})
        self.features.add("split")
        return {"sequence": {"body": items}}, Sh(c, sh.h, sh.w)

    def linear_head(self, sh: Sh) -> tuple[Any, Sh]:
        items: list[Any] = []
        if sh.h * sh.w > 1:
            if sh.c * sh.h * sh.w <= 256 and self.b():
                items.append(self.item("flatten", {}))
                sh = Sh(sh.c * sh.h * sh.w, 1, 1)
            else:
                items.append(self.item(self.pick(["global_avgpool", "global_maxpool"]), {}))
                sh = Sh(sh.c, 1, 1)
        if self.b(1, 3):
            items.append(self.item("bn", {}))
        if self.b(1, 3):
            items.append(self.item("dropout", {"p": 0.5}))
        out = self.i(1, MAX_C)
        items.append(self.item("linear", {"out": out, **({"bias": self.b()} if self.b() else {})}))
        return {"sequence": {"body": items}}, Sh(out, 1, 1)

    def free_list(self, sh: Sh, depth: int, head: bool = False, min_items: int = 1, top: bool = False,
                  dag_odds: int = 5) -> tuple[list[Any], Sh]:
        """Items of any geometry; ``top``: the model's own list, where DAG groups are spliced in (their names
        resolve from the top, so they may be declared outputs), one in ``dag_odds`` items."""
        items: list[Any] = []
        for _ in range(self.i(min_items, min_items + 5)):
            if self.budget <= 0 and items:
                break
            if top and depth > 0 and self.budget > 0 and self.b(1, dag_odds):
                group, sh = self.dag(sh, self.pick([(1, 1), (1, 1), (2, 2), (2, 1), (1, 2)]), depth - 1, top=True)
                items.extend(group)
                continue
            item, sh = self.free_item(sh, depth)
            items.append(item)
        if head:
            item, sh = self.linear_head(sh)
            items.append(item)
        return items, sh

    # ------------------------------------------------------------ DAG groups (spec format 2)

    def wrap(self, items: list[Any]) -> Any:
        """A list of items as one item: a sequence, named (a scope of its own) or not."""
        args: dict[str, Any] = {"body": items}
        if self.b(1, 3):
            args = {"name": self.new_name("B"), **args}
        self.features.add("sequence")
        return {"sequence": args}

    def with_from(self, items: list[Any], ref: str) -> None:
        """Put ``from: ref`` on the first item that is not left out (a layer, a block or a template call)."""
        for k, item in enumerate(items):
            if id(item) in self.skipped_ids:
                continue
            if isinstance(item, str):
                items[k] = {item: {"from": ref}}
            else:
                ((kind, args),) = item.items()
                items[k] = {kind: {"from": ref, **(args or {})}}
            self.features.add("from")
            return
        raise AssertionError("no item to take from:")

    def ref(self, t: Target) -> str:
        """How to write a reference to a target: its name relative to the group's scope, or (outside repeat
        bodies, where names are unique) sometimes only its last segment, found by suffix."""
        if "/" in t.ref:
            self.features.add("from-in-block")
            if not self.repeated and not t.shadows and self.b():
                self.features.add("from-suffix")
                return t.short
        return t.ref

    def name_end(self, cur: Cur, items: list[Any], agnostic: bool = False) -> Cur:
        """Give the stream end a name (a named pointwise layer after it) unless it has one."""
        if cur.ref is not None:
            return cur
        name = self.new_name("L")
        item, _ = self.pointwise(cur.sh, agnostic, name)
        items.append(item)
        return Cur(cur.sh, cur.r, name)

    def merge_item(self, kind: str, refs: list[str]) -> tuple[Any, str | None]:
        self.features.add(f"merge-{kind}")
        self.budget -= 1
        args: dict[str, Any] = {"from": refs}
        name = None
        if self.b(1, 3):
            name = self.new_name("M")
            args = {"name": name, **args}
        return {kind: args}, name

    def operands(self, cur: Cur, others: list[str]) -> list[str]:
        """The stream end (as ``previous`` or by name) and the other operands, in a random order."""
        first = "previous" if cur.ref is None or self.b() else cur.ref
        return list(self.draw(st.permutations([first, *others])))

    def dag(self, sh: Sh, s: Pair, depth: int, top: bool = False) -> tuple[list[Any], Sh]:
        """A DAG group mapping i → ⌈i/s⌉ (see the module docstring): its items and output shape."""
        self.features.add("dag")
        self.budget -= 1
        items: list[Any] = []
        anchor = self.new_name("L")
        item, _ = self.pointwise(sh, False, anchor)
        items.append(item)
        targets = [Target(anchor, anchor, sh, (1, 1))]
        cur = Cur(sh, (1, 1), anchor)
        n = self.i(2, 4)
        strided = self.i(0, n - 1) if s != (1, 1) else -1
        heads = top and self.outs is not None
        steps = [self.pick(["trunk", "block", "fork", "fork", "gate", "join", *(["head", "head"] if heads else [])])
                 for _ in range(n)]
        if strided >= 0:
            steps[strided] = self.pick(["trunk", "block"])
        if not any(k in steps for k in ("fork", "gate", "join")):
            steps[-1 if strided != n - 1 else 0] = "fork"
        for j, step in enumerate(steps):
            st_ = s if j == strided else (1, 1)
            if step == "join":
                same = [t for t in targets if t.r == cur.r and t.ref != cur.ref]
                if not same:
                    step = "fork"
                else:
                    kind = self.pick(["concat", "add", "mul"])
                    if kind != "concat":
                        same = [t for t in same if t.sh == cur.sh]
                    if not same:
                        kind = "concat"
                        same = [t for t in targets if t.r == cur.r and t.ref != cur.ref]
                    picked = self.draw(st.lists(st.sampled_from(same), min_size=1, max_size=2, unique=True))
                    merged, name = self.merge_item(kind, self.operands(cur, [self.ref(t) for t in picked]))
                    items.append(merged)
                    self.features.add("merge-refs")
                    c = cur.sh.c + sum(t.sh.c for t in picked) if kind == "concat" else cur.sh.c
                    cur = Cur(Sh(c, cur.sh.h, cur.sh.w), cur.r, name)
                    if name:
                        targets.append(Target(name, name, cur.sh, cur.r))
                    continue
            if step == "trunk":
                item, out = self.ceil_item(cur.sh, st_, depth, False)
                items.append(item)
                cur = Cur(out, (cur.r[0] * st_[0], cur.r[1] * st_[1]))
            elif step == "block":
                cur = self.dag_block(cur, st_, depth, items, targets)
            elif step == "fork":
                cur = self.fork(cur, depth, items, targets)
            elif step == "gate":
                cur = self.gate(cur, items, targets)
            else:
                cur = self.head(cur, depth, items, targets)
        if top:
            self.out_candidates += [(t.ref, t.sh) for t in targets]
        assert (cur.sh.h, cur.sh.w) == (ceil_div(sh.h, s[0]), ceil_div(sh.w, s[1])), (cur, sh, s)
        return items, cur.sh

    def dag_block(self, cur: Cur, s: Pair, depth: int, items: list[Any], targets: list[Target]) -> Cur:
        """A named sequence holding a named layer: both become targets (``B/L`` and ``B``). Sometimes the
        layer takes the name of an outer target (a name in two scopes) and the block ends with a merge of
        that name, which must find the inner one (the innermost scope first)."""
        block = self.new_name("B")
        outer = [t for t in targets if "/" not in t.ref]
        shadow = bool(outer) and self.b(1, 3)
        layer = self.pick(outer).short if shadow else self.new_name("L")
        first = self.b() or shadow
        body, mid = self.ceil_list(cur.sh, s if first else (1, 1), depth, None)
        inner, _ = self.pointwise(mid, False, layer)
        kind = self.pick(["add", "mul", "concat"])
        rest, out = self.ceil_list(mid, (1, 1) if first else s, depth, mid.c if shadow and kind != "concat" else None)
        body = [*body, inner, *rest]
        if shadow:
            merged, _ = self.merge_item(kind, list(self.draw(st.permutations(["previous", layer]))))
            body.append(merged)
            out = Sh(out.c + mid.c, out.h, out.w) if kind == "concat" else out
            self.features.add("shadowed-name")
        items.append({"sequence": {"name": block, "body": body}})
        self.features.add("named-block-layer")
        r_mid = (cur.r[0] * s[0], cur.r[1] * s[1]) if first else cur.r
        r_out = (cur.r[0] * s[0], cur.r[1] * s[1])
        targets.append(Target(f"{block}/{layer}", layer, mid, r_mid, shadow))
        targets.append(Target(block, block, out, r_out))
        return Cur(out, r_out, block)

    def fork(self, cur: Cur, depth: int, items: list[Any], targets: list[Target]) -> Cur:
        """A branch from an earlier name with the stride that meets the stream end, merged back with it."""
        cur = self.name_end(cur, items)
        inside = [t for t in targets if "/" in t.ref]
        t = self.pick(inside if inside and self.b() else targets)
        st_ = (cur.r[0] // t.r[0], cur.r[1] // t.r[1])
        assert (st_[0] * t.r[0], st_[1] * t.r[1]) == cur.r
        kind = self.pick(["add", "add", "concat", "mul"])
        branch, out = self.ceil_list(t.sh, st_, depth, None if kind == "concat" else cur.sh.c, min_len=1)
        assert (out.h, out.w) == (cur.sh.h, cur.sh.w), (out, cur, t)
        self.with_from(branch, self.ref(t))
        self.features.add("fork")
        merged, name = self.merge_item(kind, list(self.draw(st.permutations(["previous", cur.ref]))))
        sh = Sh(cur.sh.c + out.c, out.h, out.w) if kind == "concat" else cur.sh
        wrapper = None
        if self.b(1, 3):  # the branch in a later named block: its reference resolves outwards
            wrapper = self.new_name("B")
            self.features.add("from-inside-later-block")
            inside = self.b()
            items.append({"sequence": {"name": wrapper, "body": [*branch, merged] if inside else branch}})
            if not inside:
                items.append(merged)
                targets.append(Target(wrapper, wrapper, out, cur.r))
                if name:
                    targets.append(Target(name, name, sh, cur.r))
                return Cur(sh, cur.r, name)
            if name:
                targets.append(Target(f"{wrapper}/{name}", name, sh, cur.r))
            targets.append(Target(wrapper, wrapper, sh, cur.r))
            return Cur(sh, cur.r, wrapper)
        items += [*branch, merged]
        if name:
            targets.append(Target(name, name, sh, cur.r))
        return Cur(sh, cur.r, name)

    def gate(self, cur: Cur, items: list[Any], targets: list[Target]) -> Cur:
        """A gate written out and merged with the map it gates: SE-like (C×1×1, ``mul``), spatial (1×H×W,
        ``mul``) or a broadcast ``add`` of a C×1×1 path."""
        cur = self.name_end(cur, items)
        assert cur.ref is not None
        how = self.pick(["se", "spatial", "bias"])
        c = cur.sh.c
        path: list[Any] = []
        if how in ("se", "bias"):
            path.append(self.item(self.pick(["global_avgpool", "global_avgpool", "global_maxpool"]), {}))
            if how == "se":
                cr = self.i(1, max(1, c // 2))
                if self.b(3, 4):
                    path.append(self.item("conv", {"out": cr, "kernel": 1}))
                else:
                    path.append(self.item("linear", {"out": cr}))
                path.append(self.item(self.pick(["relu", "silu", "gelu"]), {}))
                path.append(self.item("conv", {"out": c, "kernel": 1}) if self.b() else self.item("pwconv", {"out": c}))
                path.append(self.item(self.pick(["sigmoid", "sigmoid", "hardsigmoid"]), {}))
            else:
                path.append(self.item("pwconv", {"out": c}))
            operand = Sh(c, 1, 1)
        else:
            k = self.pick([1, 3, 5]) if min(cur.sh.h, cur.sh.w) > 1 else 1
            path.append(self.item("conv", {"out": 1, "kernel": k, "padding": (k - 1) // 2}))
            path.append(self.item("sigmoid", {}))
            operand = Sh(1, cur.sh.h, cur.sh.w)
        if self.b():
            self.with_from(path, cur.ref)
        items += path
        kind = "add" if how == "bias" else "mul"
        merged, name = self.merge_item(kind, list(self.draw(st.permutations(["previous", cur.ref]))))
        items.append(merged)
        self.features.add(f"gate-{how}" + ("" if operand != cur.sh else "-equal"))
        if name:
            targets.append(Target(name, name, cur.sh, cur.r))
        return Cur(cur.sh, cur.r, name)

    def head(self, cur: Cur, depth: int, items: list[Any], targets: list[Target]) -> Cur:
        """(Top level) a branch from an earlier name that ends in a declared output; the stream resumes
        ``from:`` its end."""
        assert self.outs is not None
        cur = self.name_end(cur, items)
        assert cur.ref is not None
        t = self.pick(targets)
        branch, out = self.free_list(t.sh, max(depth - 1, 0), head=self.b(1, 3))
        self.with_from(branch, self.ref(t))
        end = self.new_name("H")
        last, _ = self.pointwise(out, False, end)
        items += [*branch, last]
        self.outs.append((end, out))
        self.features.add("head-output")
        resume, _ = self.pointwise(cur.sh)
        resume_list = [resume]
        self.with_from(resume_list, cur.ref)
        items += resume_list
        return Cur(cur.sh, cur.r, None)


@st.composite
def specs(draw: Callable[[Any], Any], neutral: bool = False, rf: bool = False) -> GeneratedSpec:
    """A random valid spec (one model, or two alternatives) and the output shapes of each model.

    ``neutral``: the subset ``tests/neutral/builder.py`` reads (see the module docstring), with DAG groups
    and declared outputs more often. ``rf`` (with ``neutral``): layers whose units' windows vary, more often
    (see the module docstring)."""
    features: set[str] = set()
    doc: dict[str, Any] = {"convcalc": 2, "name": "random"}
    defaults: dict[str, Any] = {}
    default_pad = None if neutral else draw(st.sampled_from([None, None, None, "same", "valid"]))
    if default_pad is not None:
        defaults["padding"] = default_pad
        features.add(f"defaults-padding-{default_pad}")
    if draw(st.booleans()):
        defaults["bias"] = draw(st.booleans())
    if defaults:
        doc["defaults"] = defaults
    if not neutral:
        doc["blocks"] = TEMPLATES
    gen = _Gen(draw, "same" if default_pad == "same" else None, features, neutral, rf)

    def model() -> tuple[dict[str, Any], list[Any], list[str] | None, list[Shape3]]:
        c, h, w = draw(st.integers(1, 8)), draw(st.integers(1, 16)), draw(st.integers(1, 16))
        inp: dict[str, Any] = {"channels": c, "height": h, "width": w} if h != w or draw(st.booleans()) \
            else {"channels": c, "size": h}
        gen.budget = draw(st.integers(8, 30) if neutral else st.integers(7, 26))
        gen.outs = [] if draw(st.integers(0, 2)) == 0 else None
        gen.out_candidates = []
        layers, out = gen.free_list(Sh(c, h, w), depth=draw(st.integers(1, 3)), min_items=3, top=True,
                                    dag_odds=3 if neutral else 5)
        if gen.outs is None:
            if draw(st.integers(0, 5)) == 0:  # YOLO's box decoding on the output: 4·b channels, then dfl
                bins = draw(st.integers(1, 4))
                layers.append(gen.item("conv", {"out": 4 * bins, "kernel": 1}))
                layers.append(gen.item("dfl", {"bins": bins, **({"shared": True} if draw(st.booleans()) else {})}))
                out = Sh(4, out.h, out.w)
            return inp, layers, None, [out.astuple()]
        features.add("outputs")
        end = gen.new_name("L")  # the last layer is an output (else it would feed none)
        item, _ = gen.pointwise(out, False, end)
        layers.append(item)
        pool = gen.out_candidates
        extra = draw(st.lists(st.sampled_from(pool), max_size=2, unique_by=lambda t: t[0])) if pool else []
        outs = [(end, out), *gen.outs, *extra]
        outs = list(draw(st.permutations(outs)))
        if len(outs) > 1:
            features.add("several-outputs")
        return inp, layers, [n for n, _ in outs], [o.astuple() for _, o in outs]

    all_outputs: list[list[Shape3]] = []
    if draw(st.integers(0, 3)) > 0:
        inp, layers, names, shapes = model()
        doc.update(input=inp, layers=layers)
        if names is not None:
            doc["outputs"] = names
        all_outputs.append(shapes)
    else:
        features.add("alternatives")
        alts = []
        top, layers, names, shapes = model()
        doc["input"] = top
        first: dict[str, Any] = {"name": "first", "layers": layers}
        alts.append({**first, **({"outputs": names} if names is not None else {})})
        all_outputs.append(shapes)
        inp, layers, names, shapes = model()
        alts.append({"name": "second", "input": inp, "layers": layers,
                     **({"outputs": names} if names is not None else {})})
        all_outputs.append(shapes)
        doc["alternatives"] = alts
    text = yaml.safe_dump(doc, sort_keys=False, default_flow_style=None, width=120)
    return GeneratedSpec(text, [o[0] for o in all_outputs], features, all_outputs)
