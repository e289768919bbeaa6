"""Costs per block at one nesting depth: ``show --depth N``.

Layer names are ``/``-separated paths (``layer1/0/conv1``); at depth N a layer belongs to the block named
by its first N segments (``layer1`` at depth 1, ``layer1/0`` at depth 2), a layer with fewer segments
stands for itself (``fc``). Every layer lands in exactly one row, so the rows sum to the model's totals.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from convcalc.kinds.core import Cost

if TYPE_CHECKING:
    from convcalc.metrics.analysis import Report


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
    from convcalc.metrics.analysis import counted

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
