"""The cost pass: every node's exact cost from its kind's formula (merges from theirs)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from convcalc.kinds.core import KINDS, ZERO
from convcalc.kinds.memo import memo
from convcalc.kinds.merge import merge_cost

if TYPE_CHECKING:
    from convcalc.graph.nodes import Node


def cost_pass(nodes: list[Node]) -> None:
    """Fill ``node.cost`` of every node: its kind's cost rule on (input shape, output shape)."""
    for node in nodes:
        if node.layer is not None:
            src = nodes[node.inputs[0]].shape
            node.cost = memo(KINDS[node.layer.kind].cost, node.layer, src, node.shape)
        elif node.kind in ("add", "mul", "concat"):
            node.cost = merge_cost(node.kind, node.shape, len(node.inputs))
        else:
            node.cost = ZERO
