"""The checks after the walk: training-only layers that the inference pass reads, and nodes that feed no output."""

from __future__ import annotations

from typing import TYPE_CHECKING

from convcalc.graph.nodes import Node, Output

if TYPE_CHECKING:
    from convcalc.graph.build import Builder


def training_only_used(b: Builder, outputs: list[Output]) -> None:
    """A training-only layer (in a ``side`` block with ``training_only: true``) is not in the inference pass:
    an output or a layer of the inference pass that reads it is an error."""
    for o in outputs:
        node = b.nodes[o.node]
        if node.training_only:
            b.node_error(node, f"output {node.name!r} is a training-only layer: the inference pass does not run it",
                         "declare outputs from the main path, or drop training_only from the side block")
    for node in b.nodes:
        if node.training_only:
            continue
        for i in node.inputs:
            if b.nodes[i].training_only:
                b.node_error(node, f"{node.name!r} reads the training-only layer {b.nodes[i].name!r}, which the "
                             "inference pass does not run", "read it from the main path, or drop training_only")
                break


def dead_nodes(nodes: list[Node], outputs: list[Output]) -> frozenset[int]:
    """Nodes from which no output can be reached, other than the input and ``side`` blocks' nodes."""
    live = {o.node for o in outputs}
    for node in reversed(nodes):
        if node.index in live or node.side:
            live.update(node.inputs)
    return frozenset(n.index for n in nodes if n.index not in live and not n.side and n.kind != "input")
