"""A model's totals without its receptive fields: what ``convcalc zoo`` lists, and the totals of a
:class:`~convcalc.metrics.analysis.Report` (one sum, shared)."""

from __future__ import annotations

from typing import NamedTuple

from convcalc.graph import Graph
from convcalc.kinds.core import Cost, Shape, total


class Totals(NamedTuple):
    """The inference pass's cost over the nodes that feed an output (batch applied; a training-only node's
    parameters only), and the cost of the training-only nodes."""

    name: str
    description: str
    input_shape: Shape
    batch: int
    total: Cost
    training_only: Cost

    @property
    def params(self) -> int:
        return self.total.params

    @property
    def macs(self) -> int:
        return self.total.macs

    @property
    def flops(self) -> int:
        return self.total.flops


def totals_of(g: Graph) -> Totals:
    """Sum the nodes' costs (dead nodes left out; a training-only node adds its params and buffers to the
    total and all of its cost to ``training_only``)."""
    counted: list[Cost] = []
    excluded: list[Cost] = []
    dead, batch = g.dead, g.batch
    for node in g.layers:
        if node.index in dead:
            continue
        cost = node.cost.scaled(batch)
        if node.training_only:
            counted.append(cost.without_work())
            excluded.append(cost)
        else:
            counted.append(cost)
    return Totals(g.name, g.description, g.input, g.batch, total(counted), total(excluded))
