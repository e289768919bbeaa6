"""convcalc's layout rules (``convcalc/kinds/layout.py``) against PyTorch: for maps of every small shape with
the strides the memory pass meets (contiguous, channels last as LayerNorm2d leaves them, a channel slice of
either, a crop, dense permutations), the strides PyTorch gives each kind of result, and where it copies.

One intra-op thread (the cross-checks' setting: with more, ATen picks oneDNN for some grouped 1×1 convs that
the native kernels run with one, and those keep a different layout)."""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import import_torch

torch = import_torch()

from torch import nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402
from torch.utils._python_dispatch import TorchDispatchMode  # noqa: E402

from convcalc.kinds import layout as L  # noqa: E402

pytestmark = [pytest.mark.torch, pytest.mark.usefixtures("one_torch_thread")]


def lay(t: Any) -> L.Strides:
    return L.canonical(tuple(t.shape), t.stride())


def sources() -> list[tuple[str, Any]]:
    rng = random.Random(0)
    out = []
    for n, c, h, w in itertools.product((1, 2), (1, 2, 4), (1, 2, 3), (1, 3)):
        base = torch.randn(n, c, h, w)
        out.append(("contiguous", base))
        out.append(("channels-last", nn.LayerNorm(c)(base.permute(0, 2, 3, 1)).permute(0, 3, 1, 2).detach()))
        big = torch.randn(n, 2 * c + 1, h, w)
        out.append(("slice", big[:, 1:1 + c]))
        out.append(("slice-channels-last", big.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2)[:, 1:1 + c]))
        out.append(("crop", torch.randn(n, c, h + 2, w + 1)[:, :, 1:1 + h, :w]))
        for _ in range(2):
            perm = list(range(4))
            rng.shuffle(perm)
            t = torch.randn([(n, c, h, w)[p] for p in perm])
            out.append((f"permuted{perm}", t.permute(*[perm.index(i) for i in range(4)])))
    return out


SOURCES = sources()


class Ops(TorchDispatchMode):
    """The aten ops a call dispatches."""

    def __init__(self) -> None:
        super().__init__()
        self.names: list[str] = []

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        self.names.append(str(func))
        return func(*args, **(kwargs or {}))


def ops(f: Callable[[], Any]) -> tuple[Any, list[str]]:
    with torch.no_grad(), Ops() as rec:
        y = f()
    return y, rec.names


def each(check: Callable[[str, Any, L.Operand], list[str]]) -> None:
    wrong: list[str] = []
    for name, t in SOURCES:
        wrong += [f"{name} {tuple(t.shape)}{t.stride()}: {w}" for w in check(name, t, (tuple(t.shape), lay(t)))]
    assert not wrong, "\n".join(wrong[:20])


def compare(what: str, ours: object, theirs: object) -> list[str]:
    return [] if ours == theirs else [f"{what}: convcalc {ours}, PyTorch {theirs}"]


def test_contiguity_and_density() -> None:
    def check(name: str, t: Any, op: L.Operand) -> list[str]:
        return compare("is_contiguous", L.is_contiguous(*op), t.is_contiguous()) + \
            compare("channels last", L.is_channels_last(*op), t.is_contiguous(memory_format=torch.channels_last)) + \
            compare("empty_like", L.like(op), lay(torch.empty_like(t)))
    each(check)


def test_elementwise_results() -> None:
    """TensorIterator: unary, with a 0-dim number, with a broadcast parameter, gate or noise, with a map."""
    def check(name: str, t: Any, op: L.Operand) -> list[str]:
        sz = op[0]
        n, c = sz[:2]
        y = torch.randn(sz)
        cases = [
            ("relu", L.elementwise(sz, op), torch.relu(t)), ("gelu", L.elementwise(sz, op), F.gelu(t)),
            ("x·2", L.elementwise(sz, op, ((), ())), t * 2),
            ("x·γ", L.elementwise(sz, op, ((1, c, 1, 1), ())), t * torch.randn(1, c, 1, 1)),
            ("x·γ (C×1×1)", L.elementwise(sz, op, ((c, 1, 1), ())), t * torch.randn(c, 1, 1)),
            ("x·gate", L.elementwise(sz, op, ((n, c, 1, 1), ())), t * torch.randn(n, c, 1, 1)),
            ("x·noise", L.elementwise(sz, op, ((n, 1, 1, 1), ())), t * torch.randn(n, 1, 1, 1)),
            ("x + y", L.elementwise(sz, op, (sz, ())), t + y), ("y + x", L.elementwise(sz, (sz, ()), op), y + t),
            ("dropout", L.elementwise(sz, op, (sz, L.like(op))), F.dropout(t, 0.5, True)),
            ("prelu", L.like(op), F.prelu(t, torch.ones(c))),
        ]
        return [w for what, ours, r in cases for w in compare(what, ours, lay(r))]
    each(check)


def test_results_in_the_suggested_format() -> None:
    """Pools, upsampling, pixel shuffles, F.pad and batch norm; softmax and a mean are contiguous, LayerNorm
    over the channels channels last."""
    def check(name: str, t: Any, op: L.Operand) -> list[str]:
        sz = op[0]
        n, c, h, w = sz
        made = [F.max_pool2d(t, 3, 1, 1), F.avg_pool2d(t, 3, 1, 1), F.adaptive_avg_pool2d(t, 1),
                F.adaptive_avg_pool2d(t, 2), F.adaptive_max_pool2d(t, 1), F.adaptive_max_pool2d(t, 2),
                F.interpolate(t, scale_factor=2.0), F.interpolate(t, size=(3, 5), mode="bilinear"),
                F.pad(t, (0, 1, 1, 0)), F.pixel_unshuffle(t, 1)]
        if c % 4 == 0:
            made.append(F.pixel_shuffle(t, 2))
        wrong = [w for r in made for w in compare(str(tuple(r.shape)), L.formatted(tuple(r.shape), op), lay(r))]
        bn = F.batch_norm(t, torch.zeros(c), torch.ones(c), training=False)
        ln = nn.LayerNorm(c)(t.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        return wrong + compare("batch norm", L.batch_normed(op), lay(bn)) + \
            compare("softmax", (), lay(torch.softmax(t, 1))) + \
            compare("mean", (), lay(t.mean((2, 3), keepdim=True))) + \
            compare("layernorm", L.canonical(sz, L.channels_last(sz)), lay(ln)) + \
            compare("cat", L.concatenated((n, 2 * c, h, w), [op, op]), lay(torch.cat([t, t], 1))) + \
            compare("cat with a contiguous map", L.concatenated((n, 2 * c, h, w), [op, (sz, ())]),
                    lay(torch.cat([t, torch.randn(sz)], 1)))
    each(check)


def test_convolutions() -> None:
    def check(name: str, t: Any, op: L.Operand) -> list[str]:
        n, c, h, w = op[0]
        wrong = []
        convs = [((1, 1), (1, 1), (1, 1), 1, 3), ((1, 1), (2, 2), (1, 1), 1, 3), ((1, 1), (1, 1), (1, 1), c, c),
                 ((3, 3), (1, 1), (1, 1), c, c), ((3, 3), (2, 2), (1, 1), 1, 2), ((5, 5), (1, 1), (1, 1), 1, 2),
                 ((3, 3), (1, 1), (2, 2), 1, 2)] + ([((1, 1), (1, 1), (1, 1), 2, 4)] if c % 2 == 0 else [])
        for k, s, d, g, o in convs:
            y = F.conv2d(t, torch.randn(o, c // g, *k), None, s, (d[0] * (k[0] // 2), d[1] * (k[1] // 2)), d, g)
            wrong += compare(f"conv {k} {s} {d} groups {g}", L.convolved(tuple(y.shape), op, k, s, d, g), lay(y))
        for k, s, g, o, p in [((2, 2), (2, 2), 1, 3, (0, 0)), ((3, 3), (1, 1), 1, 3, (0, 0)),
                              ((1, 1), (1, 1), c, c, (0, 0)), ((3, 3), (2, 2), c, c, (1, 1))]:
            y = F.conv_transpose2d(t, torch.randn(c, o // g, *k), None, s, 0, p, g)
            wrong += compare(f"deconv {k} {s} groups {g}", L.convolved(tuple(y.shape), op, k, s, (1, 1), g, True, p),
                             lay(y))
        return wrong
    each(check)


def test_views_and_copies() -> None:
    """flatten (a view where the dimensions merge, else a contiguous copy), channel_shuffle's
    ``.contiguous()``, F.group_norm's contiguous input, F.linear's rows of tokens."""
    def check(name: str, t: Any, op: L.Operand) -> list[str]:
        sz, ly = op
        n, c, h, w = sz
        wrong = []
        for new in [(n, c * h * w), (n, c * h * w, 1, 1), (n, c, h * w)]:
            try:
                theirs = t.view(new).stride()
            except RuntimeError:
                theirs = None
            wrong += compare(f"view {new}", L.view(sz, ly, new), theirs)
        flat, names = ops(lambda: torch.flatten(t, 1).reshape(n, -1, 1, 1))
        s1, copies = L.reshape(sz, ly, (n, c * h * w))
        wrong += compare("flatten copies", copies, "aten.clone.default" in names)
        wrong += compare("flatten", L.reshape((n, c * h * w), s1, (n, c * h * w, 1, 1))[0], lay(flat))
        for g in sorted({1, c} | ({2} if c % 2 == 0 else set())):
            y, names = ops(lambda g=g: torch.transpose(t.view(n, g, c // g, h, w), 1, 2).contiguous().view(n, c, h, w))
            wrong += compare(f"channel_shuffle {g}", L.shuffled(op, g), (lay(y), "aten.clone.default" in names))
        if c * h * w > 1:
            y, names = ops(lambda: F.group_norm(t, 1))
            normed = L.contiguous_as(op, L.suggests_channels_last(*op))
            wrong += compare("group_norm copies", normed != op, "aten.clone.default" in names)
            wrong += compare("group_norm", L.formatted(sz, normed), lay(y))
        for bias in (True, False):
            _, names = ops(lambda bias=bias: nn.Linear(c, 3, bias)(t.permute(0, 2, 3, 1)))
            fused, copies = L.token_rows(op)
            wrong += compare(f"linear (bias {bias})", (fused and bias, copies),
                             ("aten.addmm.default" in names, "aten.clone.default" in names))
        return wrong
    each(check)
