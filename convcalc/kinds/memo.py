"""A kind's rules, memoised by what they read.

Every rule of a kind (:class:`~convcalc.kinds.core.Kind`: shape, cost, reads, channels, memory) is a pure
function of its layer's kind and arguments (never of its name) and of the shapes (and, for memory, the run)
it is given, all immutable and hashable; its result is immutable too (a shape, a cost, reads, a program). So
layers that differ only in name share one result: the blocks a repeat or a named block writes again and again,
within one graph and across the graphs of one spec at many settings (a sweep, where most layers recur at some
width or size). A rule that raises (a shape a layer cannot take) is not remembered: it raises again.

The kind and arguments of a layer are hashed once: each distinct (kind, arguments) gets a number, looked up
by the identity of the layer (kept beside its number, so that its id is not another layer's while it is here).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from itertools import count
from typing import Any, TypeVar

from convcalc.kinds.core import Layer

R = TypeVar("R")

#: Most results (and layers, and distinct arguments) kept; past it a table starts again, so that a long-running
#: process stays bounded. The numbers of contents are never given again, so no result is ever another's.
MEMO_LIMIT = 1 << 16

_MEMO: dict[tuple[Hashable, ...], Any] = {}
_CONTENTS: dict[tuple[str, Any], int] = {}
_LAYERS: dict[int, tuple[Layer, int]] = {}
_NUMBERS = count(1)
_MISSING = object()


def content(layer: Layer) -> int:
    """The number of the layer's kind and arguments: one for every layer with equal ones, whatever its name."""
    known = _LAYERS.get(id(layer))
    if known is not None and known[0] is layer:
        return known[1]
    key = (layer.kind, layer.args)
    number = _CONTENTS.get(key)
    if number is None:
        if len(_CONTENTS) >= MEMO_LIMIT:
            _CONTENTS.clear()
        number = _CONTENTS[key] = next(_NUMBERS)
    if len(_LAYERS) >= MEMO_LIMIT:
        _LAYERS.clear()
    _LAYERS[id(layer)] = (layer, number)
    return number


def memo(rule: Callable[..., R], layer: Layer, *rest: Hashable) -> R:
    """``rule(layer, *rest)``, computed once per (rule, the layer's kind and arguments, rest)."""
    key = (rule, content(layer), *rest)
    out = _MEMO.get(key, _MISSING)
    if out is _MISSING:
        out = rule(layer, *rest)
        if len(_MEMO) >= MEMO_LIMIT:
            _MEMO.clear()
        _MEMO[key] = out
    return out  # type: ignore[no-any-return]
