"""Costs per block: of each named block (the report's block rows), and at one nesting depth (``show --depth N``).

Layer names are ``/``-separated paths (``layer1/0/conv1``); at depth N a layer belongs to the block named
by its first N segments (``layer1`` at depth 1, ``layer1/0`` at depth 2), a layer with fewer segments
stands for itself (``fc``). Every layer lands in exactly one row, so the rows sum to the model's totals.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from functools import lru_cache
from operator import add
from typing import TYPE_CHECKING

from convcalc.kinds.core import Cost

if TYPE_CHECKING:
    from convcalc.metrics.analysis import LayerRow, Report


@dataclass(frozen=True, slots=True)
class DepthRow:
    """One block (or top-level layer) at a nesting depth, with the sum over its layers."""

    name: str
    #: the named block's kind (``repeat``, a template's name), the layer's type for a single layer, or
    #: ``block`` for an unnamed segment (an automatic ``repeat1``)
    type: str
    layers: int
    cost: Cost
    activations: int


def at_depth(r: Report, depth: int) -> list[DepthRow]:
    """The rows of ``r`` at nesting ``depth`` (>= 1), in the order of their first layer."""
    if depth < 1:
        raise ValueError("depth must be >= 1")
    kinds = {b.name: b.type for b in r.blocks}
    types: dict[str, str] = {}  # in the order of the first layer of each row
    layers: dict[str, int] = {}
    costs: dict[str, Cost] = {}
    acts: dict[str, int] = {}
    for row in r.layers:
        key = "/".join(row.name.split("/", depth)[:depth])
        cost, act = counted(row)
        if key in types:
            layers[key] += 1
            costs[key] += cost
            acts[key] += act
            if key not in kinds:
                types[key] = "block"  # several layers under one unnamed prefix
        else:
            types[key] = kinds.get(key) or (row.type if key == row.name else "block")
            layers[key], costs[key], acts[key] = 1, cost, act
    return [DepthRow(k, t, layers[k], costs[k], acts[k]) for k, t in types.items()]


def counted(row: LayerRow) -> tuple[Cost, int]:
    """A layer's share of the model total: its cost and activations (a training-only layer: its params)."""
    return (row.cost.without_work(), 0) if row.training_only else (row.cost, row.activations)


def _innermost(name: str, names: Collection[str]) -> str | None:
    """The longest of ``names`` that is ``name`` or a ``/``-prefix of it ("" when in ``names``: the root)."""
    if name in names:
        return name
    cut = name.rfind("/")
    while cut != -1:
        if name[:cut] in names:
            return name[:cut]
        cut = name.rfind("/", 0, cut)
    return "" if "" in names else None


def block_sums(rows: Sequence[LayerRow], names: set[str]) -> dict[str, tuple[Cost, int]]:
    """Cost and activations of each named block in ``names``: the sum over its layers (named ``block/...``,
    or the block's own name: a merge), counted as in the report's total. Each layer is added to its innermost
    block, then each block to the next enclosing one, deepest first: one addition per layer and per block."""
    keys, parents = _nesting(tuple(row.name for row in rows), frozenset(names))
    sums: dict[str, list[int]] = {n: [0] * 9 for n in names}
    for row, key in zip(rows, keys, strict=True):
        if key is None:
            continue
        c, act = counted(row)
        v = sums[key]
        v[0] += c.params
        v[1] += c.buffers
        v[2] += c.macs
        v[3] += c.adds
        v[4] += c.muls
        v[5] += c.divs
        v[6] += c.cmps
        v[7] += c.special
        v[8] += act
    for name, parent in parents:  # children before their parents
        sums[parent] = list(map(add, sums[parent], sums[name]))
    return {n: (Cost(*v[:8]), v[8]) for n, v in sums.items()}


@lru_cache(maxsize=64)
def _nesting(layers: tuple[str, ...], names: frozenset[str]) -> tuple[tuple[str | None, ...],
                                                                     tuple[tuple[str, str], ...]]:
    """The innermost of ``names`` holding each layer (None: none), and each block with the next enclosing one,
    children before their parents (once per model's names: a sweep's configurations share them)."""
    memo: dict[str, str | None] = {}  # the innermost block of a layer's enclosing path (shared by its siblings)
    keys: list[str | None] = []
    for name in layers:
        if name in names:
            keys.append(name)
            continue
        head = name[:max(name.rfind("/"), 0)]
        if head not in memo:
            memo[head] = _innermost(head, names) if head else ("" if "" in names else None)
        keys.append(memo[head])
    parents = []
    for name in sorted(names, key=lambda n: -n.count("/") if n else 1):
        cut = name.rfind("/")
        parent = _innermost(name[:cut], names) if cut != -1 else ("" if name and "" in names else None)
        if parent is not None and parent != name:
            parents.append((name, parent))
    return tuple(keys), tuple(parents)
