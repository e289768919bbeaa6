"""The graph: a spec's layer lists expanded into nodes (shapes, names, edges, outputs), then the metric
passes run over it. ``build_graph(spec, model)`` is the entry point."""

from convcalc.graph.build import build_graph
from convcalc.graph.nodes import MAX_NODES, BlockEnd, Graph, Node, Output

__all__ = ["MAX_NODES", "BlockEnd", "Graph", "Node", "Output", "build_graph"]
