"""PyTorch modules of the token and attention kinds (imported only by those kinds' PyTorch rules).

Every module takes and returns N×C×H×W (a sequence is N×C×1×T). ``probe=True`` builds the monotone
surrogate of the receptive-field probe (:mod:`convcalc.torch_export`): attention weights uniform over the
tokens a query may see (the logits are zero, the masks stay), normalisations identities.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from convcalc.kinds.attention import CPB_HIDDEN, AttentionArgs, Geometry, relative_positions
from convcalc.kinds.core import Shape


class Tokens(nn.Module):
    """N×C×H×W → N×C×1×(H·W), row-major (``x.flatten(2)``)."""

    def forward(self, x: Tensor) -> Tensor:
        return x.flatten(2).unsqueeze(2)


class ClassToken(nn.Module):
    """``count`` learned tokens prepended to the sequence."""

    def __init__(self, c: int, count: int) -> None:
        super().__init__()
        self.token = nn.Parameter(torch.zeros(1, c, 1, count))

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([self.token.expand(x.shape[0], -1, -1, -1), x], dim=3)


class PosEmbed(nn.Module):
    """A position table of the input's shape added to it: a parameter, or a fixed sin-cos buffer."""

    def __init__(self, shape: Shape, learned: bool) -> None:
        super().__init__()
        table = torch.zeros(1, *shape)
        if learned:
            self.table = nn.Parameter(table)
        else:
            pos = torch.arange(shape.h * shape.w, dtype=torch.float32).reshape(1, 1, shape.h, shape.w)
            freq = torch.exp(-math.log(10000.0) * torch.arange(shape.c, dtype=torch.float32) / shape.c)
            angle = pos * freq.reshape(1, -1, 1, 1)
            even = (torch.arange(shape.c) % 2 == 0).reshape(1, -1, 1, 1)
            self.register_buffer("table", torch.where(even, angle.sin(), angle.cos()))

    def forward(self, x: Tensor) -> Tensor:
        return x + self.table


class SelectToken(nn.Module):
    """Token ``index`` of the sequence: N×C×1×1."""

    def __init__(self, index: int) -> None:
        super().__init__()
        self.index = index

    def forward(self, x: Tensor) -> Tensor:
        return x[..., self.index:self.index + 1]


class ToMap(nn.Module):
    """The sequence after its first ``skip`` tokens, as an N×C×height×width map."""

    def __init__(self, height: int, width: int, skip: int) -> None:
        super().__init__()
        self.height, self.width, self.skip = height, width, skip

    def forward(self, x: Tensor) -> Tensor:
        return x[..., self.skip:].reshape(x.shape[0], x.shape[1], self.height, self.width)


def relative_index(wh: int, ww: int) -> Tensor:
    """For each pair of the wh·ww tokens of a group, the index of their offset in the (2wh−1)(2ww−1) table."""
    ys, xs = torch.meshgrid(torch.arange(wh), torch.arange(ww), indexing="ij")
    coords = torch.stack([ys.flatten(), xs.flatten()])  # 2, T
    rel = coords[:, :, None] - coords[:, None, :]
    return ((rel[0] + wh - 1) * (2 * ww - 1) + rel[1] + ww - 1).flatten()


def _coords_table(wh: int, ww: int) -> Tensor:
    """Swin v2's log-spaced relative coordinates, 1×(2wh−1)×(2ww−1)×2."""
    h = torch.arange(-(wh - 1), wh, dtype=torch.float32) / max(wh - 1, 1)
    w = torch.arange(-(ww - 1), ww, dtype=torch.float32) / max(ww - 1, 1)
    table = torch.stack(torch.meshgrid([h, w], indexing="ij")).permute(1, 2, 0).unsqueeze(0) * 8
    return torch.sign(table) * torch.log2(table.abs() + 1.0) / 3.0


def _regions(padded: int, window: int, shift: int) -> Tensor:
    """Swin's mask regions on one (rolled) axis: [0, p − w), [p − w, p − s), [p − s, p)."""
    label = torch.zeros(padded, dtype=torch.long)
    if shift:
        label[padded - window:padded - shift] = 1
        label[padded - shift:] = 2
    return label


class Attention(nn.Module):
    """Multi-head self-attention over groups of tokens (all, windows with Swin's padding, cyclic shift and
    mask, or MaxViT's grid), with q/k/v and output projections, a relative position table or Swin v2's MLP,
    and cosine attention with a learned logit scale."""

    def __init__(self, a: AttentionArgs, inp: Shape, cout: int, g: Geometry, d: int, probe: bool) -> None:
        super().__init__()
        self.a, self.g, self.d, self.probe = a, g, d, probe
        dd = a.heads * d
        self.qkv = nn.Linear(inp.c, 3 * dd, bias=a.qkv_bias)
        self.proj = nn.Linear(dd, cout, bias=a.proj_bias)
        wh, ww = g.window
        if a.position != "none":
            self.register_buffer("relative_position_index", relative_index(wh, ww))
        if a.position == "table":
            self.table = nn.Parameter(torch.zeros(relative_positions(g.window), a.heads))
            nn.init.trunc_normal_(self.table, std=0.02)
        elif a.position == "mlp":
            self.cpb = nn.Sequential(nn.Linear(2, CPB_HIDDEN), nn.ReLU(), nn.Linear(CPB_HIDDEN, a.heads, bias=False))
            self.register_buffer("relative_coords_table", _coords_table(wh, ww))
        if a.cosine:
            self.logit_scale = nn.Parameter(torch.log(10 * torch.ones(a.heads, 1, 1)))

    def _bias(self) -> Tensor:
        t, h = self.g.tokens, self.a.heads
        index = self.get_buffer("relative_position_index")
        if self.a.position == "table":
            return self.table[index].reshape(t, t, h).permute(2, 0, 1)
        table = self.cpb(self.get_buffer("relative_coords_table")).reshape(-1, h)
        return 16 * torch.sigmoid(table[index].reshape(t, t, h).permute(2, 0, 1))

    def _partition(self, x: Tensor) -> Tensor:
        b, ph, pw, c = x.shape
        wh, ww = self.g.window
        if self.g.grid:  # group (i mod t_h, j mod t_w): its wh×ww tokens t apart
            x = x.reshape(b, wh, ph // wh, ww, pw // ww, c).permute(0, 2, 4, 1, 3, 5)
        else:
            x = x.reshape(b, ph // wh, wh, pw // ww, ww, c).permute(0, 1, 3, 2, 4, 5)
        return x.reshape(-1, wh * ww, c)

    def _departition(self, y: Tensor, b: int) -> Tensor:
        (ph, pw), (wh, ww), c = self.g.padded, self.g.window, y.shape[-1]
        if self.g.grid:
            y = y.reshape(b, ph // wh, pw // ww, wh, ww, c).permute(0, 3, 1, 4, 2, 5)
        else:
            y = y.reshape(b, ph // wh, pw // ww, wh, ww, c).permute(0, 1, 3, 2, 4, 5)
        return y.reshape(b, ph, pw, c)

    def _mask(self, device: torch.device) -> Tensor:
        """−∞ between tokens of a window that came from different regions of the rolled map (G×1×T×T)."""
        (ph, pw), (wh, ww), (sh, sw) = self.g.padded, self.g.window, self.g.shift
        label = (_regions(ph, wh, sh)[:, None] * 3 + _regions(pw, ww, sw)[None, :]).to(device)
        groups = self._partition(label[None, :, :, None].float()).squeeze(-1)  # G, T
        differ = groups[:, None, :] != groups[:, :, None]
        return torch.zeros(differ.shape, device=device).masked_fill(differ, float("-inf")).unsqueeze(1)

    def forward(self, x: Tensor) -> Tensor:
        b, _, h, w = x.shape
        (ph, pw), shift, heads, d = self.g.padded, self.g.shift, self.a.heads, self.d
        x = F.pad(x.permute(0, 2, 3, 1), (0, 0, 0, pw - w, 0, ph - h))
        if any(shift):
            x = torch.roll(x, shifts=(-shift[0], -shift[1]), dims=(1, 2))
        tokens = self._partition(x)
        n, t, _ = tokens.shape
        q, k, v = self.qkv(tokens).reshape(n, t, 3, heads, d).permute(2, 0, 3, 1, 4)
        if self.probe:
            attn = torch.zeros(n, heads, t, t, dtype=x.dtype, device=x.device)
        elif self.a.cosine:
            attn = F.normalize(q, dim=-1) @ F.normalize(k, dim=-1).transpose(-2, -1)
            attn = attn * torch.clamp(self.logit_scale, max=math.log(100.0)).exp()
        else:
            attn = (q * d ** -0.5) @ k.transpose(-2, -1)
        if self.a.position != "none" and not self.probe:
            attn = attn + self._bias()
        if any(shift):
            groups = n // b
            attn = (attn.reshape(b, groups, heads, t, t) + self._mask(x.device)).reshape(n, heads, t, t)
        y = (attn.softmax(dim=-1) @ v).transpose(1, 2).reshape(n, t, heads * d)
        y = self._departition(self.proj(y), b)
        if any(shift):
            y = torch.roll(y, shifts=(shift[0], shift[1]), dims=(1, 2))
        return y[:, :h, :w].permute(0, 3, 1, 2)


class PatchMerging(nn.Module):
    """torchvision's PatchMerging (norm before the linear, over 4C) or PatchMergingV2 (after, over C_out),
    on N×C×H×W (odd sizes padded by one at the end)."""

    def __init__(self, c: int, cout: int, norm_before: bool, probe: bool) -> None:
        super().__init__()
        self.norm_before = norm_before
        self.reduction = nn.Linear(4 * c, cout, bias=False)
        norm = nn.LayerNorm(4 * c if norm_before else cout)
        self.norm: nn.Module = nn.Identity() if probe else norm
        if probe:  # the parameters stay (a probe has the same params)
            self.unused = norm

    def forward(self, x: Tensor) -> Tensor:
        h, w = x.shape[2:]
        x = F.pad(x.permute(0, 2, 3, 1), (0, 0, 0, w % 2, 0, h % 2))
        x = torch.cat([x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]], -1)
        y: Tensor = self.reduction(self.norm(x)) if self.norm_before else self.norm(self.reduction(x))
        return y.permute(0, 3, 1, 2)


def _conv_bn(cin: int, cout: int, k: int, groups: int) -> nn.Sequential:
    from convcalc.kinds.torch_modules import BatchNorm

    return nn.Sequential(nn.Conv2d(cin, cout, k, 1, k // 2, groups=groups, bias=False), BatchNorm(cout, True, True))


class PSAAttention(nn.Module):
    """Ultralytics' ``Attention(C, heads, attn_ratio)``: qkv, proj and the positional depthwise conv are
    conv + BN (``Conv(act=False)``); attention over the H·W positions."""

    def __init__(self, c: int, heads: int, key_dim: int, head_dim: int, probe: bool) -> None:
        super().__init__()
        self.heads, self.key_dim, self.head_dim, self.probe = heads, key_dim, head_dim, probe
        self.qkv = _conv_bn(c, c + 2 * key_dim * heads, 1, 1)
        self.proj = _conv_bn(c, c, 1, 1)
        self.pe = _conv_bn(c, c, 3, c)

    def forward(self, x: Tensor) -> Tensor:
        b, c, h, w = x.shape
        n = h * w
        q, k, v = self.qkv(x).view(b, self.heads, 2 * self.key_dim + self.head_dim, n).split(
            [self.key_dim, self.key_dim, self.head_dim], dim=2)
        if self.probe:
            attn = torch.full((b, self.heads, n, n), 1.0 / n, dtype=x.dtype, device=x.device)
        else:
            attn = ((q.transpose(-2, -1) @ k) * self.key_dim ** -0.5).softmax(dim=-1)
        pe: Tensor = self.pe(v.reshape(b, c, h, w))
        y = (v @ attn.transpose(-2, -1)).view(b, c, h, w) + pe
        out: Tensor = self.proj(y)
        return out
