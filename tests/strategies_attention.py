"""Hypothesis strategy for random specs of the token and attention kinds (tests/test_attention_crosscheck.py).

``attention_specs()`` draws an :class:`AttentionSpec`: the YAML text, the output shape computed here with
plain arithmetic (not convcalc's), and the features drawn. A small conv stem (or none), then one to three
stages, each one of:

* ``vit``: ``tokens`` → ``class_token`` (1 or 2) → ``pos_embed`` (learned or sin-cos) → residual blocks of
  layernorm + attention over the whole sequence (``nn.MultiheadAttention``'s case or not: heads, head_dim,
  biases, a position table over the sequence) or over windows of the sequence (``window: [1, w]``, shifted,
  padded), and layernorm + ``linear`` MLPs on the tokens → ``select_token`` (then maybe a linear head: the
  model ends there) or ``to_map`` back to any factorisation of the tokens left after ``skip`` (then one
  short stage at most, never ``vit`` again: see ``_Gen.unflattened``);
* ``swin``: residual blocks of layernorm + windowed attention (windows that do not divide the map with
  ``pad: true``, windows larger than the map, ``pad: false`` where they divide, shifts per axis, a position
  table or Swin v2's MLP, cosine attention, heads and head_dim) or grid attention (MaxViT: windows that
  divide the map) and layernorm + pwconv MLPs, then maybe ``patch_merging`` (odd sizes too, norm before or
  after, ``out``);
* ``psa``: a residual ``psa_attention`` (heads, attn_ratio) and a 1×1 conv;
* ``plain``: one attention layer outside a residual, so with any ``out`` (global or windowed);
* ``merge``: a ``patch_merging`` alone.

Maps stay at most 16×16 (``rf``: 12×12, fewer channels), so every example runs in milliseconds. Activations
are smooth ones (gelu, silu, tanh, sigmoid): the receptive-field test back-propagates through the real
network, where a ReLU would cut paths depending on the data. ``local`` (for the receptive-field test): no
global attention and no psa_attention, so that every unit reads a window of the input.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import yaml
from hypothesis import strategies as st

ACTS = ("gelu", "silu", "tanh", "sigmoid")
Shape3 = tuple[int, int, int]

#: Every feature that 100 examples must draw.
FEATURES = {
    "stem", "no-stem", "vit", "swin", "psa", "plain", "merge", "tokens", "class_token", "pos_embed-learned",
    "pos_embed-sincos", "select_token", "to_map", "to_map-skip", "to_map-reshaped", "linear-seq", "linear-head",
    "global", "global-mha", "global-table", "seq-window", "seq-window-shift", "window", "window-pad",
    "window-large", "window-pad-false", "shift", "shift-one-axis", "grid", "table", "mlp", "cosine",
    "head_dim", "out", "qkv_bias-false", "proj_bias-false", "patch_merging-odd", "patch_merging-after",
    "patch_merging-out", "psa_attention",
}


@dataclass
class AttentionSpec:
    text: str
    output: Shape3
    features: set[str] = field(default_factory=set)
    local: bool = True

    def __repr__(self) -> str:  # hypothesis prints this for a failing example
        return f"AttentionSpec(output={self.output}, local={self.local})\n--- spec ---\n{self.text}"


def divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


class _Gen:
    def __init__(self, draw: Callable[[Any], Any], rf: bool) -> None:
        self.draw, self.rf = draw, rf
        self.features: set[str] = set()
        self.local = True
        self.max_c = 8 if rf else 16
        #: made a map from tokens already: a spec flattens once, and a map made from tokens gets one short
        #: stage (psa, plain, merge) at most (a limit from when round trips through tokens multiplied the
        #: receptive-field parts; they no longer do, so it may be lifted)
        self.unflattened = False

    def i(self, lo: int, hi: int) -> int:
        return int(self.draw(st.integers(lo, max(lo, hi))))

    def b(self, p_true: int = 1, of: int = 2) -> bool:
        return self.i(0, of - 1) < p_true

    def pick(self, options: Any) -> Any:
        return self.draw(st.sampled_from(list(options)))

    @staticmethod
    def item(kind: str, args: dict[str, Any]) -> Any:
        return {kind: args} if args else kind

    def pair(self, v: tuple[int, int]) -> Any:
        return v[0] if v[0] == v[1] and self.b() else [v[0], v[1]]

    # ------------------------------------------------------------ pieces

    def stem(self, c: int, h: int, w: int) -> tuple[list[Any], Shape3]:
        items: list[Any] = []
        for _ in range(self.i(1, 2)):
            k, s = self.i(1, 3), self.i(1, 2)
            p = self.i(0, k // 2)
            ho, wo = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
            if ho < 1 or wo < 1:
                break
            c = self.i(2, self.max_c)
            items.append({"conv": {"out": c, "kernel": k, "stride": s, "padding": p}})
            h, w = ho, wo
            extra = self.pick(["none", "bn", "act", "layernorm"])
            if extra == "act":
                items.append(self.pick(ACTS))
            elif extra != "none":
                items.append({extra: {}})
        self.features.add("stem" if items else "no-stem")
        return items, (c, h, w)

    def heads(self, c: int, residual: bool) -> dict[str, Any]:
        """heads (and head_dim, out, the biases) for attention on c channels."""
        a: dict[str, Any] = {}
        if self.b(1, 3):
            a["heads"], a["head_dim"] = self.i(1, 4), self.i(1, 8)
            self.features.add("head_dim")
        else:
            a["heads"] = self.pick([d for d in divisors(c) if d <= 4])
        if not residual and self.b():
            a["out"] = self.i(1, self.max_c)
            self.features.add("out")
        elif residual and self.b(1, 6):
            a["out"] = c
        for key in ("qkv_bias", "proj_bias"):
            if self.b(1, 3):
                a[key] = self.b()
                if not a[key]:
                    self.features.add(f"{key}-false")
        return a

    def position(self, a: dict[str, Any], cosine: bool = True) -> None:
        pos = self.pick(["none", "none", "table", "mlp"])
        if pos != "none":
            a["position"] = pos
            self.features.add(pos)
        if cosine and self.b(1, 4):
            a["cosine"] = True
            self.features.add("cosine")

    def map_attention(self, sh: Shape3, residual: bool) -> dict[str, Any]:
        """Attention on a C×H×W map: windows (shifted, padded, larger than the map) or a grid; global in a
        ``plain`` stage sometimes."""
        c, h, w = sh
        a = self.heads(c, residual)
        how = self.pick(["window", "window", "grid"] + ([] if residual or self.rf else ["global"]))
        if how == "global":
            self.features.add("global")
            self.local = False
            self.position(a)
            return a
        if how == "grid":
            win = (self.pick(divisors(h)), self.pick(divisors(w)))
            a["window"], a["partition"] = self.pair(win), "grid"
            self.features.add("grid")
            if self.b(1, 4):
                a["pad"] = True
            self.position(a)
            return a
        win = (self.i(1, h + 3), self.i(1, w + 3))
        a["window"] = self.pair(win)
        self.features.add("window")
        if h % win[0] or w % win[1]:
            self.features.add("window-pad")
            if self.b(1, 3):
                a["pad"] = True
        elif self.b(1, 3):
            a["pad"] = False
            self.features.add("window-pad-false")
        if win[0] > h or win[1] > w:
            self.features.add("window-large")
        if self.b(2, 3):
            s = (self.i(0, win[0] - 1), self.i(0, win[1] - 1))
            if any(s):
                a["shift"] = self.pair(s)
                self.features.add("shift")
                if 0 in s:
                    self.features.add("shift-one-axis")
        self.position(a)
        if self.b(1, 5):
            a["partition"] = "window"
        return a

    def seq_attention(self, c: int, n: int) -> dict[str, Any]:
        """Attention on a C×1×N sequence: over all of it, or windows along it (``[1, w]``, shifted)."""
        a = self.heads(c, True)
        if self.b(1, 3) or self.rf and self.b(2, 3):
            ww = self.i(1, n + 2)
            a["window"] = [1, ww]
            self.features.add("seq-window")
            if ww > 1 and self.b():
                a["shift"] = [0, self.i(1, ww - 1)]
                self.features.add("seq-window-shift")
            self.position(a)
            return a
        self.local = False
        self.features.add("global")
        if self.b(1, 5) and n <= 64:
            a["position"] = "table"
            self.features.add("global-table")
        elif self.b(1, 8):
            a["cosine"] = True
        if "head_dim" not in a and a.get("out", c) == c and a.get("qkv_bias", True) == a.get("proj_bias", True) \
                and "position" not in a and "cosine" not in a:
            self.features.add("global-mha")
        return a

    # ------------------------------------------------------------ stages

    def vit(self, sh: Shape3) -> tuple[list[Any], Shape3, bool]:
        """Returns (items, shape, ended): ended when select_token made a C×1×1 vector."""
        c, h, w = sh
        items: list[Any] = [self.pick(["tokens", {"tokens": {}}])]
        self.features.add("tokens")
        n, k = h * w, 0
        if self.b(2, 3):
            k = self.i(1, 2)
            items.append({"class_token": {"tokens": k}} if k > 1 or self.b() else "class_token")
            self.features.add("class_token")
            n += k
        if self.b(2, 3):
            table = self.pick(["learned", "sincos"])
            items.append({"pos_embed": {"table": table}} if table == "sincos" or self.b() else "pos_embed")
            self.features.add(f"pos_embed-{table}")
        if c < 2 or self.b(1, 4):  # a linear to a width layernorm can normalise (layernorm on 1 channel is constant)
            c = self.i(2, self.max_c)
            items.append({"linear": {"out": c}})
            self.features.add("linear-seq")
        for _ in range(self.i(1, 2)):
            items.append({"residual": {"body": [{"layernorm": {}}, {"attention": self.seq_attention(c, n)}]}})
            if self.b():
                hid = self.i(1, 2 * self.max_c)
                mlp = [{"layernorm": {}}, {"linear": {"out": hid}}, self.pick(ACTS), {"linear": {"out": c}}]
                items.append({"residual": {"body": mlp}})
                self.features.add("linear-seq")
        if self.b(1, 3):
            items.append({"layernorm": {}})
        if self.b(1, 3):
            t = self.i(0, n - 1)
            items.append({"select_token": {"token": t}} if t or self.b() else "select_token")
            self.features.add("select_token")
            if self.b():
                c = self.i(1, self.max_c)
                items.append({"linear": {"out": c}})
                self.features.add("linear-head")
            return items, (c, 1, 1), True
        skip = self.i(0, k) if self.b(3, 4) else self.i(0, n - 1)
        left = n - skip
        hh = self.pick([d for d in divisors(left) if d <= 16 and left // d <= 16] or [1])
        ww = left // hh
        if ww > 16:  # keep maps small
            return items + [{"select_token": {"token": 0}}], (c, 1, 1), True
        args: dict[str, Any] = {"height": hh, "width": ww}
        if skip or self.b():
            args["skip"] = skip
        items.append({"to_map": args})
        self.unflattened = True
        self.features.add("to_map")
        if skip:
            self.features.add("to_map-skip")
        if (hh, ww) != (h, w):
            self.features.add("to_map-reshaped")
        return items, (c, hh, ww), False

    def swin(self, sh: Shape3) -> tuple[list[Any], Shape3]:
        c, h, w = sh
        items: list[Any] = []
        self.features.add("swin")
        if c < 2:
            c = self.i(2, self.max_c)
            items.append({"pwconv": {"out": c}})
        for _ in range(self.i(1, 2)):
            attention = self.map_attention((c, h, w), True)
            items.append({"residual": {"body": [{"layernorm": {}}, {"attention": attention}]}})
            if self.b():
                hid = self.i(1, 2 * self.max_c)
                mlp = [{"layernorm": {}}, {"pwconv": {"out": hid, "bias": True}}, self.pick(ACTS),
                       {"pwconv": {"out": c, "bias": True}}]
                items.append({"residual": {"body": mlp}})
        if self.b():
            more, sh = self.merge((c, h, w))
            return items + more, sh
        return items, (c, h, w)

    def merge(self, sh: Shape3) -> tuple[list[Any], Shape3]:
        c, h, w = sh
        args: dict[str, Any] = {}
        out = 2 * c
        if self.b(1, 3):  # (not 1: a LayerNorm over one channel is a constant, which reads nothing)
            out = args["out"] = self.i(2, self.max_c)
            self.features.add("patch_merging-out")
        if self.b():
            args["norm"] = self.pick(["before", "after"])
            if args["norm"] == "after":
                self.features.add("patch_merging-after")
        if h % 2 or w % 2:
            self.features.add("patch_merging-odd")
        return [self.item("patch_merging", args)], (out, -(-h // 2), -(-w // 2))

    def psa(self, sh: Shape3) -> tuple[list[Any], Shape3]:
        c, h, w = sh
        items: list[Any] = []
        if c < 2:
            c = self.i(2, self.max_c)
            items.append({"pwconv": {"out": c}})
        heads = self.pick([d for d in divisors(c) if d <= 4])
        ratio = self.pick([r for r in (0.25, 0.5, 1.0) if int(c // heads * r) >= 1])
        args: dict[str, Any] = {"heads": heads}
        if ratio != 0.5 or self.b():
            args["attn_ratio"] = ratio
        items.append({"residual": {"body": [{"psa_attention": args}]}})
        items.append({"conv": {"out": c, "kernel": 1}})
        self.features.update(("psa", "psa_attention"))
        self.local = False
        return items, (c, h, w)

    def plain(self, sh: Shape3) -> tuple[list[Any], Shape3]:
        a = self.map_attention(sh, False)
        self.features.add("plain")
        return [{"attention": a}], (a.get("out", sh[0]), sh[1], sh[2])


@st.composite
def attention_specs(draw: Callable[[Any], Any], rf: bool = False) -> AttentionSpec:
    """A random valid spec of one model (see the module docstring); ``rf``: smaller, for back-propagation."""
    gen = _Gen(draw, rf)
    top = 12 if rf else 16
    c, h, w = draw(st.integers(1, 4)), draw(st.integers(2, top)), draw(st.integers(2, top))
    inp = {"channels": c, "height": h, "width": w}
    layers, sh = gen.stem(c, h, w) if draw(st.integers(0, 3)) else ([], (c, h, w))
    if not layers:
        gen.features.add("no-stem")
    after_map = 0
    for _ in range(draw(st.integers(1, 3))):
        if gen.unflattened:  # (one short stage after a map made from tokens: see _Gen.unflattened)
            if after_map:
                break
            after_map += 1
        stage = gen.pick(["psa", "plain", "merge"] if gen.unflattened else
                         ["vit", "vit", "swin", "swin", "psa", "plain", "merge"])
        if stage == "vit":
            gen.features.add("vit")
            items, sh, ended = gen.vit(sh)
            layers += items
            if ended:
                break
            continue
        items, sh = getattr(gen, stage)(sh)
        if stage == "merge":
            gen.features.add("merge")
        layers += items
    doc = {"convcalc": 2, "name": "attention", "input": inp, "layers": layers}
    text = yaml.safe_dump(doc, sort_keys=False, default_flow_style=None, width=120)
    return AttentionSpec(text, sh, gen.features, gen.local)
