"""Token sequences: tokens, class_token, pos_embed, select_token, to_map.

A sequence of N tokens of C channels is a C×1×N map: height 1, width N, the channels the token's features
(PyTorch's N×C layout, stored channels-first). ``tokens`` flattens a C×H×W map row-major (token n is
position (⌊n/W⌋, n mod W), as ``x.flatten(2).transpose(1, 2)``); every per-position layer (layernorm,
activations, add, dropout, ``linear``, attention) then works on the sequence unchanged. ``to_map`` turns a
sequence back into a C×H×W map. Receptive fields stay exact through both: a token reads its own pixel's
window (a union over the map's rows, :class:`~convcalc.kinds.reads.ReadsUnion`); learned tokens read
nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from convcalc.kinds import layout as lay
from convcalc.kinds import steps as st
from convcalc.kinds.core import ZERO, Cost, Kind, Layer, LayerShapeError, Shape, register, size
from convcalc.kinds.norm import pointwise, same_shape
from convcalc.kinds.reads import ONE, POINT, LayerReads, Reads, ReadsUnion, Run, offset, row_to_tokens, tokens_to_row
from convcalc.kinds.values import choice, non_negative, positive

if TYPE_CHECKING:
    from torch import nn


class TokensArgs(NamedTuple):
    """No arguments."""


class ClassTokenArgs(NamedTuple):
    tokens: int = 1


class PosEmbedArgs(NamedTuple):
    table: str = "learned"


class SelectArgs(NamedTuple):
    token: int = 0


class ToMapArgs(NamedTuple):
    height: int = 1
    width: int = 1
    skip: int = 0


SEQUENCE_HINT = "make a sequence with `tokens` (a C×H×W map → C×1×(H·W))"


def _sequence(kind: str, inp: Shape) -> int:
    """The number of tokens of a C×1×N sequence (anything else is refused)."""
    if inp.h != 1:
        raise LayerShapeError(f"{kind} needs a token sequence C×1×N, found the map {inp}", SEQUENCE_HINT)
    return inp.w


# ---------------------------------------------------------------- shape


def tokens_shape(layer: Layer, inp: Shape) -> Shape:
    """C×H×W → C×1×(H·W)."""
    return Shape(inp.c, 1, inp.h * inp.w)


def class_token_shape(layer: Layer, inp: Shape) -> Shape:
    """C×1×N → C×1×(tokens + N): the learned tokens come first."""
    a = layer.args
    assert isinstance(a, ClassTokenArgs)
    return Shape(inp.c, 1, _sequence("class_token", inp) + a.tokens)


def select_shape(layer: Layer, inp: Shape) -> Shape:
    """C×1×N → C×1×1 (``token`` t, 0 ≤ t < N)."""
    a = layer.args
    assert isinstance(a, SelectArgs)
    n = _sequence("select_token", inp)
    if a.token >= n:
        raise LayerShapeError(f"select_token token {a.token} is past the last of the {n} tokens",
                              f"take a token from 0 to {n - 1}")
    return Shape(inp.c, 1, 1)


def to_map_shape(layer: Layer, inp: Shape) -> Shape:
    """C×1×N → C×height×width, with N = skip + height·width (the first ``skip`` tokens left out)."""
    a = layer.args
    assert isinstance(a, ToMapArgs)
    n = _sequence("to_map", inp)
    if n != a.skip + a.height * a.width:
        raise LayerShapeError(
            f"to_map {a.height}×{a.width} needs {a.height * a.width} tokens after the {a.skip} skipped, "
            f"found {n - a.skip} of {n}",
            "height·width must be the number of tokens left after `skip` (e.g. skip: 1 for a class token)")
    return Shape(inp.c, a.height, a.width)


# ---------------------------------------------------------------- cost


def free_cost(layer: Layer, inp: Shape, out: Shape) -> Cost:
    """Moving values: nothing to count."""
    return ZERO


def class_token_cost(layer: Layer, inp: Shape, out: Shape) -> Cost:
    """k learned tokens of C channels: params = k·C (prepending them moves values only)."""
    a = layer.args
    assert isinstance(a, ClassTokenArgs)
    return Cost(params=a.tokens * inp.c)


def pos_embed_cost(layer: Layer, inp: Shape, out: Shape) -> Cost:
    """A position table of the input's shape added to it: params (learned) or buffers (fixed sin-cos)
    = C·H·W; adds = C·H·W."""
    a = layer.args
    assert isinstance(a, PosEmbedArgs)
    n = size(inp)
    return Cost(params=n, adds=n) if a.table == "learned" else Cost(buffers=n, adds=n)


# ---------------------------------------------------------------- receptive field


def tokens_rf(layer: Layer, inp: Shape) -> LayerReads:
    """Token n reads the position (⌊n/W⌋, n mod W): a union over the rows y of
    :func:`~convcalc.kinds.reads.row_to_tokens` (no product of one map per axis)."""
    if inp.h == 1:
        return POINT, POINT
    return ReadsUnion(tuple(row_to_tokens(inp.h, inp.w, y) for y in range(inp.h)))


def class_token_rf(layer: Layer, inp: Shape) -> LayerReads:
    """Width: of every k + N units (period k + N, shift N) the first k read nothing (learned), unit k + n
    reads token n."""
    a = layer.args
    assert isinstance(a, ClassTokenArgs)
    k, n = a.tokens, inp.w
    phases = tuple(() if phi < k else (Run(phi - k, 1, 1, ONE),) for phi in range(k + n))
    return POINT, Reads(k + n, n, phases)


def select_rf(layer: Layer, inp: Shape) -> LayerReads:
    """The one output unit reads token t (unit v: v·N + t)."""
    a = layer.args
    assert isinstance(a, SelectArgs)
    return POINT, offset(inp.w, a.token)


def to_map_rf(layer: Layer, inp: Shape) -> LayerReads:
    """Position (y, x) reads token skip + y·width + x: a union over the rows y of
    :func:`~convcalc.kinds.reads.tokens_to_row`."""
    a = layer.args
    assert isinstance(a, ToMapArgs)
    if a.height == 1:
        return POINT, offset(1, a.skip) if a.skip else POINT
    return ReadsUnion(tuple(tokens_to_row(a.height, a.width, y, a.skip) for y in range(a.height)))


# ---------------------------------------------------------------- PyTorch


def tokens_torch(layer: Layer, inp: Shape, out: Shape, probe: bool) -> nn.Module:
    """The module of each kind (:mod:`convcalc.kinds.torch_attention`)."""
    from convcalc.kinds import torch_attention as ta

    a = layer.args
    if isinstance(a, ClassTokenArgs):
        return ta.ClassToken(inp.c, a.tokens)
    if isinstance(a, PosEmbedArgs):
        return ta.PosEmbed(inp, a.table == "learned")
    if isinstance(a, SelectArgs):
        return ta.SelectToken(a.token)
    if isinstance(a, ToMapArgs):
        return ta.ToMap(a.height, a.width, a.skip)
    return ta.Tokens()


def tokens_memory(layer: Layer, inp: Shape, out: Shape, run: st.Run) -> st.Program:
    """tokens (``flatten(2).transpose(1, 2)``) and select_token (``x[:, t]``): views of the input;
    class_token (a concatenation: one parameter tensor) and pos_embed (an addition of the table: a parameter
    tensor when learned, a buffer when sin-cos) and to_map (a transpose made contiguous): a new result that
    saves nothing. Under autocast the fp32 token makes the concatenation fp32 (autocast's ``cat`` casts a low
    sequence first), and the fp32 table the addition.

    Strides (a sequence C×1×T is PyTorch's N×T×C: channels last here): tokens' ``flatten(2)`` is a view where
    H and W merge (else a contiguous copy first: a cropped map), so the tokens of a contiguous map are not
    contiguous as N×T×C; select_token keeps its input's strides; class_token's concatenation (N×T×C) is
    contiguous as N×T×C, pos_embed TensorIterator's of x and its table (1×C×H×W), to_map contiguous."""
    a = layer.args
    b = run.batch
    sizes, src = (b, *inp), run.source(inp)
    if isinstance(a, TokensArgs):
        flat, copies = lay.reshape(sizes, run.layout, (b, inp.c, inp.h * inp.w))
        s = lay.strides((b, inp.c, inp.h * inp.w), flat)
        layout = lay.canonical((b, *out), (s[0], s[1], s[2] * inp.h * inp.w, s[2]))
        return st.Program((st.Step((0,), st.new(st.count(*out, b)) if copies else 0),), layout=layout)
    if isinstance(a, SelectArgs):
        return st.view(lay.canonical((b, *out), lay.strides(sizes, run.layout)))
    params = 1 if isinstance(a, ClassTokenArgs) or (isinstance(a, PosEmbedArgs) and a.table == "learned") else 0
    prog = st.saves_nothing(st.count(*out, b), params)
    if isinstance(a, (ClassTokenArgs, PosEmbedArgs)):
        how = st.WIDEST if isinstance(a, ClassTokenArgs) else st.PROMOTE
        layout = lay.canonical((b, *out), lay.channels_last((b, *out))) if isinstance(a, ClassTokenArgs) else \
            lay.elementwise(sizes, src, ((1, *inp), ()))
        return prog._replace(steps=tuple(s._replace(autocast=how) for s in prog.steps), layout=layout)
    return prog


def _kind(name: str, args: type, params: dict[str, object], doc: str, shape: object, cost: object,
          rf: object) -> Kind:
    return Kind(name, args, params, (), doc, "attention", shape, cost, rf, tokens_torch,  # type: ignore[arg-type]
                memory=tokens_memory)


register(
    _kind("tokens", TokensArgs, {}, "a C×H×W map → a sequence of H·W tokens, C×1×(H·W) (row-major)",
          tokens_shape, free_cost, tokens_rf),
    _kind("class_token", ClassTokenArgs, {"tokens": positive},
          "prepend learned tokens (a class token, register tokens): C×1×N → C×1×(tokens + N)",
          class_token_shape, class_token_cost, class_token_rf),
    _kind("pos_embed", PosEmbedArgs, {"table": choice("learned", "sincos")},
          "add a position embedding of the input's shape (learned params, or a fixed sin-cos buffer)",
          same_shape, pos_embed_cost, pointwise),
    _kind("select_token", SelectArgs, {"token": non_negative}, "take one token: C×1×N → C×1×1",
          select_shape, free_cost, select_rf),
    Kind("to_map", ToMapArgs, {"height": positive, "width": positive, "skip": non_negative}, ("height", "width"),
         "a sequence → a C×height×width map (after skipping the first tokens)", "attention", to_map_shape, free_cost,
         to_map_rf, tokens_torch, memory=tokens_memory),
)
