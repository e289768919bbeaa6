"""Export a convcalc graph to an equivalent ``torch.nn.Module`` (needs the optional ``convcalc[torch]``).

The module has exactly convcalc's semantics, layer by layer, for the input size of the spec: TensorFlow
``same`` padding and asymmetric padding are resolved per axis from each node's input shape (so the module
is specialised to that size), pools with padding PyTorch cannot express natively are computed as the
general case (max: −∞ padding; average: divided by the taps counted), and a ``training_only`` side branch
runs only in training mode. ``forward`` walks the graph's topological order; :meth:`ConvcalcNet.forward_all`
returns every node's output, keyed by node index.

This module imports torch at import time; ``import convcalc`` never imports it.

``rf_probe=True`` builds a monotone linear surrogate with the same geometry, to measure receptive fields by
back-propagation: activations and gates become identities, max pools become sums over the same windows (so
every tap, not only the arg-max, receives gradient), residual and branch adds become means (values stay
bounded however deep), and deformable convolutions sample at zero offsets with mask 1. Give it positive
weights (e.g. 1/fan-in) and zero biases.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from convcalc.graph import Graph, Node
from convcalc.kinds import KINDS, Layer, Shape
from convcalc.kinds.torch_modules import SqueezeExcite

__all__ = ["ConvcalcNet", "layer_module", "to_torch"]

# ---------------------------------------------------------------- the network


class ConvcalcNet(nn.Module):
    """A convcalc graph as a module: ``layers[str(node.index)]`` computes each layer node; input, add,
    concat and split nodes are computed by the walk. Input N×C×H×W with the spec's C, H, W; ``forward``
    returns the graph's output, :meth:`forward_all` every node's."""

    def __init__(self, graph: Graph, probe: bool = False) -> None:
        super().__init__()
        self.graph_name = graph.name
        self.input_shape = graph.input
        self.output = graph.output
        self.probe = probe
        self.nodes: list[Node] = list(graph.nodes)
        self.layers = nn.ModuleDict()
        self.outputs = [(o.name, o.node) for o in graph.outputs]
        self._record: dict[int, Tensor] | None = None
        #: detach operands broadcast over a merge (C×1×1 gates), so gradients follow only local paths
        self.detach_gates = False
        for node in graph.nodes:
            if node.layer is not None:
                inp = graph.nodes[node.inputs[0]].shape
                self.layers[str(node.index)] = layer_module(node.layer, inp, node.shape, probe)
        last: dict[int, int] = {o.node: len(graph.nodes) for o in graph.outputs}
        for node in graph.nodes:
            for i in node.inputs:
                last[i] = max(last.get(i, 0), node.index)
        #: node indices whose value may be dropped after each node (for ``forward``)
        self.release: dict[int, list[int]] = {}
        for i, at in last.items():
            self.release.setdefault(at, []).append(i)

    def names(self) -> dict[int, str]:
        """Node index → convcalc layer name."""
        return {n.index: n.name for n in self.nodes}

    def forward_all(self, x: Tensor) -> dict[int, Tensor]:
        """Every node's output by node index (training-only nodes only in training mode). Runs through
        ``self(x)``, so module hooks and tools that track the module tree (FlopCounterMode) see a normal call."""
        self._record = {}
        try:
            self(x)
            return self._record
        finally:
            self._record = None

    def _walk(self, x: Tensor, keep: bool) -> dict[int, Tensor]:
        if tuple(x.shape[1:]) != tuple(self.input_shape):
            raise ValueError(f"{self.graph_name}: expected input N×{self.input_shape}, found {tuple(x.shape)}")
        values: dict[int, Tensor] = {}
        for node in self.nodes:
            if not node.training_only or self.training:
                values[node.index] = self._node(node, x, values)
            if not keep:  # drop values no longer needed
                for i in self.release.get(node.index, ()):
                    values.pop(i, None)
        return values

    def _node(self, node: Node, x: Tensor, values: dict[int, Tensor]) -> Tensor:
        if node.kind == "input":
            return x
        args = [values[i] for i in node.inputs]
        if node.layer is not None:
            y: Tensor = self.layers[str(node.index)](args[0])
            return y
        if node.kind in ("add", "mul"):
            if self.detach_gates:
                args = [a.detach() if a.shape[2] * a.shape[3] == 1 < node.shape.h * node.shape.w else a
                        for a in args]
            total = args[0]
            for t in args[1:]:
                if node.kind == "add" and node.inplace and not self.probe:
                    total = total.add_(t)  # ``out += identity``: into the first input
                else:
                    total = total + t if node.kind == "add" else total * t
            return total / len(args) if self.probe and node.kind == "add" else total
        if node.kind == "concat":
            return torch.cat(args, 1)
        if node.kind == "split":
            return args[0][:, node.split_start:node.split_start + node.shape.c]
        raise ValueError(f"no PyTorch export for node kind {node.kind!r}")  # pragma: no cover

    def forward(self, x: Tensor) -> Tensor:
        values = self._walk(x, keep=self._record is not None)
        if self._record is not None:
            self._record.update(values)
        return values[self.output]

    def forward_outputs(self, x: Tensor) -> dict[str, Tensor]:
        """Every declared output by name (one entry when the spec declares none)."""
        values = self.forward_all(x)
        return {name: values[i] for name, i in self.outputs}


def layer_module(layer: Layer, inp: Shape, out: Shape, probe: bool = False) -> nn.Module:
    """The module computing one convcalc layer on input shape ``inp`` (output shape ``out``): its kind's
    PyTorch rule."""
    return KINDS[layer.kind].torch(layer, inp, out, probe)


def to_torch(graph: Graph, *, rf_probe: bool = False, local: bool = False) -> ConvcalcNet:
    """A ``torch.nn.Module`` computing ``graph`` with convcalc's semantics (see the module docstring).

    ``rf_probe``: the monotone linear surrogate used to measure receptive fields by back-propagation.
    ``local``: squeeze-excitation gates see a detached input (the same values), so gradients follow only the
    local paths: they measure convcalc's ``rf`` rather than ``rf_full``."""
    net = ConvcalcNet(graph, rf_probe)
    net.detach_gates = local
    for m in net.modules():
        if isinstance(m, SqueezeExcite):
            m.detach_gate = local
    return net


def spec_to_torch(source: str, alternative: int | str = 0) -> ConvcalcNet:
    """Build the module of one alternative of a spec file or zoo model (``"resnet50"``) in one call.

    ``alternative`` is an index or a name. Raises :class:`convcalc.errors.ConvcalcError` for a bad spec.
    """
    from convcalc.lang.sources import open_source
    from convcalc.metrics.analysis import graphs_of

    graphs = graphs_of(open_source(source))
    if isinstance(alternative, str):
        named = [g for g in graphs if g.name == alternative]
        if not named:
            raise KeyError(f"no alternative named {alternative!r}; have {[g.name for g in graphs]}")
        return to_torch(named[0])
    return to_torch(graphs[alternative])
