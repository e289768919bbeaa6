"""Hypothesis strategy for random, valid convcalc specs (YAML text), for the PyTorch cross-check.

``specs()`` draws a :class:`GeneratedSpec`: the YAML text, the output shape of each model as computed
here independently of convcalc (plain per-axis arithmetic), and the block features used. Tensors stay tiny
(≤ 16 channels in most places, H, W ≤ 24) so every example runs in milliseconds.

Every layer kind and every block kind is drawn: residual (identity, projection, explicit shortcut,
``when`` false or an expression), branches (concat / add, ``split`` true or a list, empty paths), dense,
repeat (with ``$i`` conditions and interpolated names, ``n: 0``), side (``training_only``), sequence, and
templates (parameters with defaults and expressions, ``in_channels``, ``$kind`` parameters, a template
calling templates, ``make_divisible``); strides, dilations, asymmetric kernels, groups, explicit
asymmetric and TF ``same`` padding (also as ``defaults.padding``), ceil_mode, count_include_pad,
transposed convolutions with output_padding, upsampling, deformable v1/v2.

Merges stay valid by construction: inside blocks, each path is a "ceil list" (every strided layer maps
i → ⌈i/s⌉ per axis: padding p_begin + p_end = k_eff − 1 or ``same``), so paths with the same total
stride agree in size and effective stride; up-sampling appears there only as a pair (×u, then stride u)
that keeps both.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import yaml
from hypothesis import strategies as st

MAX_C = 16
MAX_HW = 24
ACTS = ("relu", "relu6", "leaky_relu", "sigmoid", "tanh", "gelu", "silu", "hardswish", "hardsigmoid")
POINTWISE = ("bn", "dropout", "identity", "channel_shuffle", "se", *ACTS)

Pair = tuple[int, int]
AxisPads = tuple[Pair, Pair]


@dataclass(frozen=True)
class Sh:
    c: int
    h: int
    w: int


@dataclass
class GeneratedSpec:
    """A random spec: its YAML, the output shape of each model (c, h, w) and the features drawn."""

    text: str
    outputs: list[tuple[int, int, int]]
    features: set[str] = field(default_factory=set)

    def __repr__(self) -> str:  # hypothesis prints this for a failing example
        return f"GeneratedSpec(outputs={self.outputs})\n--- spec ---\n{self.text}"


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

    def __init__(self, draw: Callable[[Any], Any], default_pad: str | None, features: set[str]) -> None:
        self.draw = draw
        self.default_pad = default_pad
        self.features = features
        self.budget = 0
        self.names = 0

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

    def item(self, kind: str, args: dict[str, Any]) -> Any:
        """A layer item in one of the spec's forms, sometimes named or guarded by a true condition."""
        self.features.add(kind)
        self.budget -= 1
        if self.b(1, 6):
            self.names += 1
            args = {"name": f"L{self.names}", **args}
        if self.b(1, 12):
            args = {"if": self.pick([True, "${1 < 2}", 1]), **args}
            self.features.add("if")
        if not args:
            return self.pick([kind, {kind: None}, {kind: {}}])
        return {kind: args}

    def skipped(self) -> Any:
        """An item left out by a false condition (the rest is never looked at)."""
        self.features.add("if-false")
        return {self.pick(["conv", "relu", "unit"]): {"if": self.pick([False, "${2 < 1}", 0]), "out": 3,
                                                      "kernel": 1}}

    # ------------------------------------------------------------ padding

    def pads_ceil(self, ke: Pair, pool: Pair | None) -> tuple[Any, Any]:
        """Padding keeping o = ⌈i/s⌉ on both axes: p_begin + p_end = k_eff − 1, or TF same. ``pool``: the
        pool's kernel (PyTorch allows at most kernel // 2 on a side)."""
        options = ["same"]
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
            pb = self.i(max(lo, 0), min(hi, k - 1)) if self.b(1, 2) else (k - 1) // 2
            pads.append((pb, k - 1 - pb))
        return self.pad_value(pads[0], pads[1]), (pads[0], pads[1])

    def pads_free(self, ke: Pair, pool: Pair | None) -> tuple[Any, Any]:
        how = self.pick(["omit", "int", "pair", "nested", "same", "valid"])
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
            if kind != "avgpool" and self.b(1, 3):
                d = (self.i(1, 2), self.i(1, 3))
                self.features.add("dilation")
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
            if self.b():
                pads = ((pads[0][0], pads[0][0]), (pads[1][0], pads[1][0]))
        else:
            kinds = []
            for u in up:
                kinds.append(self.pick(["k=s", "k=2s"] + (["k3p1op1"] if u == 2 else [])))
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

    def upsample(self, sh: Sh, up: Pair | None = None) -> tuple[Any, Sh]:
        s = up if up is not None else (self.i(1, 3), self.i(1, 3))
        mode = self.pick(["nearest", "bilinear"])
        self.features.add(f"upsample-{mode}")
        args: dict[str, Any] = {"scale": self.pair(s)}
        if mode == "bilinear" or self.b():
            args["mode"] = mode
        return self.item("upsample", args), Sh(sh.c, sh.h * s[0], sh.w * s[1])

    def pointwise(self, sh: Sh, agnostic: bool = False) -> tuple[Any, Sh]:
        kinds = [k for k in POINTWISE if not (agnostic and k == "channel_shuffle")]
        kind = self.pick(kinds)
        args: dict[str, Any] = {}
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
        return self.item(kind, args), sh

    # ------------------------------------------------------------ ceil lists (inside blocks)

    def ceil_item(self, sh: Sh, s: Pair, depth: int, agnostic: bool) -> tuple[Any, Sh]:
        """One item mapping (c, h, w) → (c', ⌈h/s_h⌉, ⌈w/s_w⌉) with effective stride s. ``agnostic``: valid
        for any channel count and keeping it."""
        choices = ["window", "window", "pointwise", "pointwise"]
        if sh.h * 2 <= MAX_HW and sh.w * 2 <= MAX_HW:
            choices.append("pair")
        if depth > 0 and self.budget > 0:
            choices += ["residual", "branches", "sequence", "side"]
            if s == (1, 1):
                choices += ["repeat"] + ([] if agnostic else ["dense"])
            if not agnostic:
                choices += ["template"]
        how = self.pick(choices)
        if how == "pointwise" and s == (1, 1):
            return self.pointwise(sh, agnostic)
        if how in ("window", "pointwise"):
            kinds = ["conv", "dwconv", "pwconv", "separable", "deform", "maxpool", "avgpool"]
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
        if not agnostic and self.b():
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
        if self.b(1, 3):
            self.names += 1
            args["name"] = f"B{self.names}"
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
            body, _ = self.ceil_list(sh, (1, 1), depth, None if agnostic else sh.c, agnostic)
            if self.b():
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
            if self.b():
                body.append({"bn": {"if": "${i > 0}"}})
            body.append(self.item("conv", {"out": growth, "kernel": 3, "padding": self.pick([1, "same"])}))
            args.update(n=n, body=body)
            out = Sh(sh.c + n * growth, sh.h, sh.w)
        else:  # template call
            return self.template(sh, s)
        return {kind: args}, out

    def residual(self, args: dict[str, Any], sh: Sh, s: Pair, depth: int, agnostic: bool) -> Sh:
        variants = ["identity", "when"] if agnostic else ["identity", "projection", "shortcut", "when"]
        if s != (1, 1) and "identity" in variants:
            variants.remove("identity")
        if s != (1, 1) and agnostic:
            variants = ["when"]
        how = self.pick(variants)
        self.features.add(f"residual-{how}")
        if how == "identity":
            body, out = self.ceil_list(sh, (1, 1), depth, None if agnostic else sh.c, agnostic, min_len=1)
            args["body"] = body
            if self.b(1, 4):
                args["when"] = self.pick([True, "${3 > 2}"])
            return out
        if how == "when":
            body, out = self.ceil_list(sh, s, depth, None, agnostic, min_len=1)
            args.update(body=body, when=self.pick([False, "${1 > 2}"]))
            if not agnostic and self.b():
                args["projection"] = [self.item("pwconv", {"out": 1})]  # never built: the skip is dropped
            return out
        c_out = self.i(1, MAX_C) if self.b() else sh.c
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
        merge = "add" if agnostic else self.pick(["concat", "add"])
        self.features.add(f"branches-{merge}")
        ins = [sh.c] * n
        if not agnostic and self.b(1, 3) and sh.c >= n:
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
            if merge == "add" and agnostic:
                want = None
            empty_ok = s == (1, 1) and (merge == "concat" or want in (None, c_in))
            if empty_ok and self.b(1, 4):
                paths.append([])
                outs.append(p_sh)
                self.features.add("empty-path")
                continue
            if merge == "add" and not agnostic and want is None:
                want = c_in
            path, o = self.ceil_list(p_sh, s, depth, want, agnostic, min_len=1)
            paths.append(path)
            outs.append(o)
        if merge == "add" and not agnostic:
            # every path must end with `target` channels (an empty path has c_in == target)
            assert all(o.c == outs[0].c for o in outs), (outs, target)
        args["paths"] = paths
        if merge == "add" or self.b():
            args["merge"] = merge
        c = outs[0].c if merge == "add" else sum(o.c for o in outs)
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
            if self.b():
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
        kinds = ["conv", "conv", "dwconv", "pwconv", "separable", "deform", "maxpool", "avgpool", "pointwise",
                 "pointwise", "deconv", "upsample", "adaptive_avgpool", "block", "block", "block", "block"]
        if sh.h * sh.w > 1:
            kinds += ["global_avgpool", "global_maxpool"] if self.b(1, 4) else []
        if sh.c * sh.h * sh.w <= 256 and self.b(1, 4):
            kinds += ["flatten", "linear"]
        kind = self.pick(kinds)
        if kind in ("conv", "dwconv", "pwconv", "separable", "deform", "maxpool", "avgpool"):
            got = self.window(kind, sh, None)
            if got is not None:
                return got
            kind = "pointwise"
        if kind == "deconv" and sh.h <= MAX_HW // 2 and sh.w <= MAX_HW // 2:
            got = self.deconv(sh)
            if got is not None:
                return got
        if kind == "upsample" and sh.h * 3 <= MAX_HW and sh.w * 3 <= MAX_HW:
            return self.upsample(sh)
        if kind == "adaptive_avgpool":
            size = (self.i(1, 4), self.i(1, 4))
            return self.item(kind, {"size": self.pair(size)}), Sh(sh.c, size[0], size[1])
        if kind in ("global_avgpool", "global_maxpool", "flatten"):
            return self.item(kind, {}), (Sh(sh.c, 1, 1) if kind != "flatten" else Sh(sh.c * sh.h * sh.w, 1, 1))
        if kind == "linear":
            return self.linear_head(sh)
        if kind == "block" and depth > 0 and self.budget > 0:
            s = self.pick([(1, 1), (1, 1), (2, 2), (2, 1), (1, 2), (3, 3)])
            return self.block(self.pick(["residual", "branches", "sequence", "repeat", "dense", "side",
                                         "template"]) if s == (1, 1) else
                              self.pick(["residual", "branches", "sequence", "template"]), sh, s, depth, False)
        return self.pointwise(sh)

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

    def free_list(self, sh: Sh, depth: int, head: bool = False, min_items: int = 1) -> tuple[list[Any], Sh]:
        items: list[Any] = []
        for _ in range(self.i(min_items, min_items + 5)):
            if self.budget <= 0 and items:
                break
            item, sh = self.free_item(sh, depth)
            items.append(item)
        if head:
            item, sh = self.linear_head(sh)
            items.append(item)
        return items, sh


@st.composite
def specs(draw: Callable[[Any], Any]) -> GeneratedSpec:
    """A random valid spec (one model, or two alternatives) and the output shape of each model."""
    features: set[str] = set()
    doc: dict[str, Any] = {"convcalc": 1, "name": "random"}
    defaults: dict[str, Any] = {}
    default_pad = draw(st.sampled_from([None, None, None, "same", "valid"]))
    if default_pad is not None:
        defaults["padding"] = default_pad
        features.add(f"defaults-padding-{default_pad}")
    if draw(st.booleans()):
        defaults["bias"] = draw(st.booleans())
    if defaults:
        doc["defaults"] = defaults
    doc["blocks"] = TEMPLATES
    gen = _Gen(draw, "same" if default_pad == "same" else None, features)

    def model() -> tuple[dict[str, Any], list[Any], Sh]:
        c, h, w = draw(st.integers(1, 8)), draw(st.integers(1, 16)), draw(st.integers(1, 16))
        inp: dict[str, Any] = {"channels": c, "height": h, "width": w} if h != w or draw(st.booleans()) \
            else {"channels": c, "size": h}
        gen.budget = draw(st.integers(8, 30))
        layers, out = gen.free_list(Sh(c, h, w), depth=draw(st.integers(1, 3)), min_items=3)
        return inp, layers, out

    outputs: list[tuple[int, int, int]] = []
    if draw(st.integers(0, 3)) > 0:
        inp, layers, out = model()
        doc.update(input=inp, layers=layers)
        outputs.append((out.c, out.h, out.w))
    else:
        features.add("alternatives")
        alts = []
        top, layers, out = model()
        doc["input"] = top
        alts.append({"name": "first", "layers": layers})
        outputs.append((out.c, out.h, out.w))
        inp, layers, out = model()
        alts.append({"name": "second", "input": inp, "layers": layers})
        outputs.append((out.c, out.h, out.w))
        doc["alternatives"] = alts
    text = yaml.safe_dump(doc, sort_keys=False, default_flow_style=None, width=120)
    return GeneratedSpec(text, outputs, features)
