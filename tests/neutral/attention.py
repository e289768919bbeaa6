"""The neutral builder's token and attention kinds, written from the spec format (docs/spec-format.md,
"Tokens and attention") and from the reference implementations it names, in plain ``torch.nn``; nothing of
convcalc (not its exporter's ``convcalc.kinds.torch_attention``) is imported or copied.

Every module takes and returns N×C×H×W; a token sequence is N×C×1×T (height 1, the tokens along the width).

* ``tokens``: the map flattened row-major; ``class_token``: k learned tokens first (timm's ``cls_token``);
  ``pos_embed``: a table of the input's shape added (a parameter, or a fixed sin-cos buffer);
  ``select_token``: one token; ``to_map``: the tokens after ``skip`` as a height×width map; ``linear`` on a
  sequence: ``nn.Linear`` on the N×T×C tokens.
* ``attention`` without a window, with one projection width (heads·head_dim = C = out), one bias setting for
  both projections, no position bias and no cosine: ``nn.MultiheadAttention(C, heads, bias=…,
  batch_first=True)`` itself (:class:`TorchMHA`). Everything else: :class:`GroupAttention`, which follows
  torchvision's ``shifted_window_attention`` (Swin v1/v2) in what it computes but not in how: the map is
  padded at the end to a multiple of the window and rolled by −shift, the projections run on every token of
  the padded map, and the groups are gathered by explicit index lists (windows: w_h×w_w tiles; a grid:
  MaxViT's groups of w_h×w_w tokens spread H/w_h apart); the mask comes from labelling each position of the
  *unrolled* map by the piece of the last window it falls in (the wrapped-round first ``shift`` units, the
  last w − shift units, the rest), and is −∞ (not torchvision's −100, which leaks e^−100) where labels
  differ; the position bias is a table of (2w_h − 1)(2w_w − 1) offsets per head gathered by an index buffer
  of T², or Swin v2's MLP (2 → 512 → ReLU → heads, no bias) on a log-spaced coordinate buffer, then
  16·sigmoid; cosine attention normalises q and k and multiplies the logits by exp(min(logit_scale, log 100)).
* ``patch_merging``: torchvision's PatchMerging (LayerNorm(4C) then a linear 4C → out without bias) or
  PatchMergingV2 (the linear, then LayerNorm(out)); odd sizes padded by one at the end; each 2×2 patch's
  channels in torchvision's order (x[0::2, 0::2], x[1::2, 0::2], x[0::2, 1::2], x[1::2, 1::2]).
* ``psa_attention``: Ultralytics' ``Attention(dim, num_heads, attn_ratio)`` (YOLO11's C2PSA): qkv, proj and a
  3×3 depthwise positional conv, each conv (no bias) + BatchNorm; q, k of key_dim = ⌊d·attn_ratio⌋, v of
  d = C/heads per head; softmax(qᵀk · key_dim^−½); v·attnᵀ + pe(v); proj.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

#: Swin v2's continuous position bias MLP width.
CPB_HIDDEN = 512

TOKEN_KINDS = ("tokens", "class_token", "pos_embed", "select_token", "to_map")
ATTENTION_KINDS = ("attention", "patch_merging", "psa_attention")
ARGS: dict[str, set[str]] = {
    "tokens": set(), "class_token": {"tokens"}, "pos_embed": {"table"}, "select_token": {"token"},
    "to_map": {"height", "width", "skip"},
    "attention": {"heads", "head_dim", "out", "qkv_bias", "proj_bias", "window", "shift", "partition", "pad",
                  "position", "cosine"},
    "patch_merging": {"out", "norm"}, "psa_attention": {"heads", "attn_ratio"},
}


class Unsupported(ValueError):
    """The spec uses something outside the subset the neutral builder reads (``tests.neutral.builder``'s)."""


def _pair(v: Any) -> tuple[int, int]:
    if isinstance(v, list) and len(v) == 2 and all(type(x) is int for x in v):
        return v[0], v[1]
    if type(v) is int:
        return v, v
    raise Unsupported(f"expected an integer or [h, w], found {v!r}")


def _flag(v: Any) -> bool:
    if not isinstance(v, bool):
        raise Unsupported(f"expected true or false, found {v!r}")
    return v


def _sequence(kind: str, shape: tuple[int, int, int]) -> int:
    if shape[1] != 1:
        raise Unsupported(f"{kind} on the map {shape} (a sequence is C×1×N)")
    return shape[2]


# ---------------------------------------------------------------- tokens


class Flatten(nn.Module):
    """C×H×W → C×1×(H·W), row-major."""

    def forward(self, x: Tensor) -> Tensor:
        b, c, h, w = x.shape
        return x.reshape(b, c, 1, h * w)


class ClassTokens(nn.Module):
    """k learned tokens (timm's ``cls_token``, 1×k×C) put before the sequence."""

    def __init__(self, c: int, k: int) -> None:
        super().__init__()
        self.cls_token = nn.Parameter(torch.zeros(1, k, c))

    def forward(self, x: Tensor) -> Tensor:
        seq = x[:, :, 0].transpose(1, 2)  # N, T, C
        seq = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), seq], dim=1)
        return seq.transpose(1, 2).unsqueeze(2)


class PositionTable(nn.Module):
    """x + a table of x's shape: learned (a parameter) or sin-cos (a buffer: sin on even channels, cos on odd,
    of the row-major position index times a frequency per channel pair)."""

    def __init__(self, shape: tuple[int, int, int], learned: bool) -> None:
        super().__init__()
        c, h, w = shape
        self.learned = learned
        if learned:
            self.pos_embed = nn.Parameter(torch.zeros(1, c, h, w))
        else:
            pos = torch.arange(h * w, dtype=torch.float64)
            half = torch.arange(c, dtype=torch.float64) // 2
            angle = pos[None, :] / (10000.0 ** (2 * half[:, None] / max(c, 1)))
            table = torch.where(torch.arange(c)[:, None] % 2 == 0, angle.sin(), angle.cos())
            self.register_buffer("pos_table", table.reshape(1, c, h, w).float())

    def forward(self, x: Tensor) -> Tensor:
        table = self.pos_embed if self.learned else self.get_buffer("pos_table")
        return x + table.to(x.dtype)


class Select(nn.Module):
    def __init__(self, t: int) -> None:
        super().__init__()
        self.t = t

    def forward(self, x: Tensor) -> Tensor:
        return x[:, :, :, self.t:self.t + 1]


class Unflatten(nn.Module):
    """The tokens after the first ``skip``, as a height×width map (row-major)."""

    def __init__(self, skip: int, h: int, w: int) -> None:
        super().__init__()
        self.skip, self.h, self.w = skip, h, w

    def forward(self, x: Tensor) -> Tensor:
        b, c = x.shape[:2]
        return x[:, :, 0, self.skip:].reshape(b, c, self.h, self.w)


class TokenLinear(nn.Module):
    """``nn.Linear`` on each token of an N×C×1×T sequence (as on the N×T×C tokens)."""

    def __init__(self, c: int, out: int, bias: bool) -> None:
        super().__init__()
        self.fc = nn.Linear(c, out, bias)

    def forward(self, x: Tensor) -> Tensor:
        y: Tensor = self.fc(x[:, :, 0].transpose(1, 2))
        return y.transpose(1, 2).unsqueeze(2)


# ---------------------------------------------------------------- attention


class TorchMHA(nn.Module):
    """Global self-attention over the H·W positions by ``nn.MultiheadAttention`` (need_weights false: PyTorch's
    scaled_dot_product_attention; count MACs under the math backend, with grad enabled so that the module's
    inference fast path, which FlopCounterMode does not see into, is not taken)."""

    def __init__(self, c: int, heads: int, bias: bool) -> None:
        super().__init__()
        self.mha = nn.MultiheadAttention(c, heads, bias=bias, batch_first=True)

    def forward(self, x: Tensor) -> Tensor:
        b, c, h, w = x.shape
        t = x.reshape(b, c, h * w).transpose(1, 2)
        y, _ = self.mha(t, t, t, need_weights=False)
        out: Tensor = y.transpose(1, 2).reshape(b, c, h, w)
        return out


def _pieces(p: int, w: int, s: int) -> list[int]:
    """Per position o of an unrolled axis of p (padded) units with windows of w shifted by s: which piece of
    the windows it belongs to. Rolling by −s makes window k cover o ∈ [k·w + s, (k + 1)·w + s) mod p, so
    the last window holds [p − w + s, p) and, wrapped round, [0, s): pieces 1 and 2, never mixed; the rest,
    piece 0."""
    if s == 0:
        return [0] * p
    return [2 if o < s else 1 if o >= p - w + s else 0 for o in range(p)]


def _local_offsets(wh: int, ww: int) -> Tensor:
    """For the T = wh·ww tokens of a group (row-major in the group's own wh×ww coordinates), the T×T index of
    their offset (dy, dx) in a (2wh − 1)×(2ww − 1) table, row-major."""
    coords = [(i, j) for i in range(wh) for j in range(ww)]
    idx = [(a[0] - b[0] + wh - 1) * (2 * ww - 1) + (a[1] - b[1] + ww - 1) for a in coords for b in coords]
    return torch.tensor(idx, dtype=torch.long)


class GroupAttention(nn.Module):
    """Multi-head self-attention in groups of tokens (see the module docstring)."""

    def __init__(self, shape: tuple[int, int, int], heads: int, d: int, cout: int, qkv_bias: bool,
                 proj_bias: bool, window: tuple[int, int] | None, shift: tuple[int, int], grid: bool,
                 position: str, cosine: bool) -> None:
        super().__init__()
        c, h, w = shape
        self.h, self.w, self.heads, self.d, self.cosine, self.position = h, w, heads, d, cosine, position
        wh, ww = window if window is not None else (h, w)
        ph, pw = -(-h // wh) * wh, -(-w // ww) * ww
        if grid and (ph, pw) != (h, w):
            raise Unsupported(f"a grid of {wh}×{ww} on {h}×{w}")
        # torchvision: no shift on an axis whose window covers the padded map
        sh, sw = (0 if wh >= ph else shift[0]), (0 if ww >= pw else shift[1])
        if sh >= wh or sw >= ww:
            raise Unsupported(f"shift {shift} of a window {wh}×{ww}")
        self.padded, self.shift, self.group = (ph, pw), (sh, sw), (wh, ww)
        # the groups: flat indices into the padded, rolled map (row-major), one row per group
        groups = []
        if grid:
            th, tw = ph // wh, pw // ww
            for a in range(th):
                for b in range(tw):
                    groups.append([(i * th + a) * pw + (j * tw + b) for i in range(wh) for j in range(ww)])
        else:
            for a in range(ph // wh):
                for b in range(pw // ww):
                    groups.append([(a * wh + i) * pw + (b * ww + j) for i in range(wh) for j in range(ww)])
        index = torch.tensor(groups, dtype=torch.long)
        # (plain tensors, not buffers: torchvision computes them in the forward, and convcalc counts no buffer)
        self.groups, self.ungroup = index, torch.argsort(index.flatten())
        self.n_groups, self.n_tokens = index.shape
        # the shift's mask, from the pieces of the unrolled map moved to the rolled positions
        self.masked = bool(sh or sw)
        if self.masked:
            rows, cols = _pieces(ph, wh, sh), _pieces(pw, ww, sw)
            label = torch.tensor([[rows[(y + sh) % ph] * 3 + cols[(x + sw) % pw] for x in range(pw)]
                                  for y in range(ph)]).flatten()
            lab = label[index]  # G, T
            differ = lab[:, :, None] != lab[:, None, :]
            self.mask = torch.zeros(differ.shape).masked_fill(differ, float("-inf"))
        self.qkv = nn.Linear(c, 3 * heads * d, bias=qkv_bias)
        self.proj = nn.Linear(heads * d, cout, bias=proj_bias)
        r = (2 * wh - 1) * (2 * ww - 1)
        if position != "none":
            self.register_buffer("relative_position_index", _local_offsets(wh, ww))
        if position == "table":
            self.relative_position_bias_table = nn.Parameter(torch.zeros(r, heads))
            nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)
        elif position == "mlp":
            self.cpb_mlp = nn.Sequential(nn.Linear(2, CPB_HIDDEN), nn.ReLU(inplace=True),
                                         nn.Linear(CPB_HIDDEN, heads, bias=False))
            dy = torch.arange(-(wh - 1), wh, dtype=torch.float32) / max(wh - 1, 1)
            dx = torch.arange(-(ww - 1), ww, dtype=torch.float32) / max(ww - 1, 1)
            table = torch.stack(torch.meshgrid(dy, dx, indexing="ij"), -1)[None] * 8  # 1, 2wh−1, 2ww−1, 2
            self.register_buffer("relative_coords_table", torch.sign(table) * torch.log2(table.abs() + 1) / 3)
        elif position != "none":
            raise Unsupported(f"position {position!r}")
        if cosine:
            self.logit_scale = nn.Parameter(torch.log(10 * torch.ones(heads, 1, 1)))

    def bias(self) -> Tensor:
        """heads × T × T."""
        t, idx = self.n_tokens, self.get_buffer("relative_position_index")
        if self.position == "table":
            return self.relative_position_bias_table[idx].reshape(t, t, self.heads).permute(2, 0, 1)
        table = self.cpb_mlp(self.get_buffer("relative_coords_table")).reshape(-1, self.heads)
        return 16 * torch.sigmoid(table[idx].reshape(t, t, self.heads).permute(2, 0, 1))

    def forward(self, x: Tensor) -> Tensor:
        b = x.shape[0]
        (ph, pw), (sh, sw) = self.padded, self.shift
        y = F.pad(x.permute(0, 2, 3, 1), (0, 0, 0, pw - self.w, 0, ph - self.h))  # N, ph, pw, C
        if sh or sw:
            y = torch.roll(y, shifts=(-sh, -sw), dims=(1, 2))
        flat = y.reshape(b, ph * pw, -1)
        qkv = self.qkv(flat)  # every token of the padded map
        g, t, heads, d = self.n_groups, self.n_tokens, self.heads, self.d
        qkv = qkv[:, self.groups].reshape(b, g, t, 3, heads, d).permute(3, 0, 1, 4, 2, 5)
        q, k, v = qkv[0], qkv[1], qkv[2]  # N, G, heads, T, d
        if self.cosine:
            logits = F.normalize(q, dim=-1) @ F.normalize(k, dim=-1).transpose(-2, -1)
            logits = logits * torch.clamp(self.logit_scale, max=math.log(100.0)).exp()
        else:
            logits = (q * d ** -0.5) @ k.transpose(-2, -1)
        if self.position != "none":
            logits = logits + self.bias()
        if self.masked:
            logits = logits + self.mask[None, :, None].to(logits.dtype)
        out = (logits.softmax(-1) @ v).permute(0, 1, 3, 2, 4).reshape(b, g * t, heads * d)
        back = out[:, self.ungroup]  # each padded position is in exactly one group
        z: Tensor = self.proj(back).reshape(b, ph, pw, -1)
        if sh or sw:
            z = torch.roll(z, shifts=(sh, sw), dims=(1, 2))
        return z[:, :self.h, :self.w].permute(0, 3, 1, 2)


class PatchMerge(nn.Module):
    """torchvision's PatchMerging (``before``: LayerNorm(4C), then the linear) or PatchMergingV2 (the linear,
    then LayerNorm(out)), on N×C×H×W."""

    def __init__(self, c: int, cout: int, before: bool) -> None:
        super().__init__()
        self.before = before
        self.reduction = nn.Linear(4 * c, cout, bias=False)
        self.norm = nn.LayerNorm(4 * c if before else cout)

    def forward(self, x: Tensor) -> Tensor:
        b, c, h, w = x.shape
        x = F.pad(x, (0, w % 2, 0, h % 2))
        h2, w2 = x.shape[2] // 2, x.shape[3] // 2
        # (n, c, i, dy, j, dx) → (n, i, j, dx, dy, c): torchvision's x0 (0,0), x1 (dy 1), x2 (dx 1), x3 (1,1)
        x = x.reshape(b, c, h2, 2, w2, 2).permute(0, 2, 4, 5, 3, 1).reshape(b, h2, w2, 4 * c)
        y: Tensor = self.reduction(self.norm(x)) if self.before else self.norm(self.reduction(x))
        return y.permute(0, 3, 1, 2)


def _conv_bn(cin: int, cout: int, k: int, groups: int = 1) -> nn.Sequential:
    """Ultralytics' ``Conv(c1, c2, k, g=…, act=False)``: a conv without bias, padding k // 2, then BN."""
    return nn.Sequential(nn.Conv2d(cin, cout, k, 1, k // 2, groups=groups, bias=False),
                         nn.BatchNorm2d(cout, eps=1e-3, momentum=0.03))


class UltralyticsAttention(nn.Module):
    """Ultralytics' ``Attention`` (ultralytics/nn/modules/block.py) as written there."""

    def __init__(self, dim: int, num_heads: int, attn_ratio: float) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.key_dim = int(self.head_dim * attn_ratio)
        self.scale = self.key_dim ** -0.5
        nh_kd = self.key_dim * num_heads
        self.qkv = _conv_bn(dim, dim + nh_kd * 2, 1)
        self.proj = _conv_bn(dim, dim, 1)
        self.pe = _conv_bn(dim, dim, 3, dim)

    def forward(self, x: Tensor) -> Tensor:
        b, c, h, w = x.shape
        n = h * w
        q, k, v = self.qkv(x).view(b, self.num_heads, self.key_dim * 2 + self.head_dim, n).split(
            [self.key_dim, self.key_dim, self.head_dim], dim=2)
        attn = ((q.transpose(-2, -1) @ k) * self.scale).softmax(dim=-1)
        x = (v @ attn.transpose(-2, -1)).view(b, c, h, w) + self.pe(v.reshape(b, c, h, w))
        out: Tensor = self.proj(x)
        return out


# ---------------------------------------------------------------- the kinds


def attention_module(a: dict[str, Any], shape: tuple[int, int, int]) -> nn.Module:
    c = shape[0]
    heads = a["heads"]
    if "head_dim" in a:
        d = a["head_dim"]
    elif c % heads:
        raise Unsupported(f"{heads} heads on {c} channels")
    else:
        d = c // heads
    cout = a.get("out", c)
    qkv_bias, proj_bias = _flag(a.get("qkv_bias", True)), _flag(a.get("proj_bias", True))
    position, cosine = a.get("position", "none"), _flag(a.get("cosine", False))
    window = _pair(a["window"]) if "window" in a else None
    shift = _pair(a.get("shift", 0))
    partition = a.get("partition", "window")
    if partition not in ("window", "grid"):
        raise Unsupported(f"partition {partition!r}")
    if window is None and ("shift" in a or "partition" in a or "pad" in a):
        raise Unsupported("shift, partition or pad without a window")
    if window is not None and not _flag(a.get("pad", True)) and (shape[1] % window[0] or shape[2] % window[1]):
        raise Unsupported(f"pad: false with a window {window} on {shape}")
    if (window is None and heads * d == c == cout and qkv_bias == proj_bias and position == "none"
            and not cosine):
        return TorchMHA(c, heads, qkv_bias)
    return GroupAttention(shape, heads, d, cout, qkv_bias, proj_bias, window, shift, partition == "grid",
                          position, cosine)


def token_module(kind: str, a: dict[str, Any], shape: tuple[int, int, int]) -> nn.Module:
    """The module of a token, attention, patch merging or PSA layer on an input of ``shape`` (C, H, W)."""
    extra = set(a) - ARGS[kind]
    if extra:
        raise Unsupported(f"{kind} arguments {sorted(extra)}")
    c = shape[0]
    if kind == "tokens":
        return Flatten()
    if kind == "class_token":
        _sequence(kind, shape)
        return ClassTokens(c, a.get("tokens", 1))
    if kind == "pos_embed":
        table = a.get("table", "learned")
        if table not in ("learned", "sincos"):
            raise Unsupported(f"table {table!r}")
        return PositionTable(shape, table == "learned")
    if kind == "select_token":
        t = a.get("token", 0)
        if t >= _sequence(kind, shape):
            raise Unsupported(f"token {t} of {shape}")
        return Select(t)
    if kind == "to_map":
        n, skip = _sequence(kind, shape), a.get("skip", 0)
        if n != skip + a["height"] * a["width"]:
            raise Unsupported(f"to_map {a} of {n} tokens")
        return Unflatten(skip, a["height"], a["width"])
    if kind == "attention":
        return attention_module(a, shape)
    if kind == "patch_merging":
        norm = a.get("norm", "before")
        if norm not in ("before", "after"):
            raise Unsupported(f"norm {norm!r}")
        return PatchMerge(c, a.get("out", 2 * c), norm == "before")
    if kind == "psa_attention":
        heads, ratio = a["heads"], float(a.get("attn_ratio", 0.5))
        if c % heads or int(c // heads * ratio) < 1:
            raise Unsupported(f"psa_attention {a} on {c} channels")
        return UltralyticsAttention(c, heads, ratio)
    raise Unsupported(f"layer kind {kind!r}")


def linear_module(a: dict[str, Any], shape: tuple[int, int, int], bias: bool) -> nn.Module:
    """``linear`` on a sequence C×1×T with T > 1 (the builder keeps its own module for C×1×1)."""
    _sequence("linear", shape)
    return TokenLinear(shape[0], a["out"], bias)
