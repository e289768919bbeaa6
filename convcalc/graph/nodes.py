"""The expanded graph: nodes in topological order, named blocks, and the outputs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from convcalc.errors import KeyPath, Location
from convcalc.kinds.core import ZERO, Cost, Layer, Shape
from convcalc.metrics.receptive import NO_RF, RF, Field

#: Most nodes one model may expand to (repeat, dense and templates multiply). The same limit bounds
#: the walk (every layer, block and template call visited, every repeat/dense iteration) and the
#: connections (inputs of every layer and merge; a dense block of n iterations makes n·(n+1)/2).
MAX_NODES = 2_000_000


@dataclass(slots=True)
class Node:
    """One node of the expanded graph (a layer, a merge, a split, or the input).

    ``shape`` comes from expansion; ``cost``, ``rf``, ``rf_full``, ``data_dependent`` and the notes of the
    receptive field are filled by the metric passes (:func:`convcalc.graph.build.build_graph` runs them).
    """

    index: int
    name: str
    kind: str
    inputs: tuple[int, ...]
    shape: Shape
    location: Location
    path: KeyPath
    layer: Layer | None = None
    training_only: bool = False
    #: where the node was written: the chain of named-block calls, for errors found after expansion
    via: str = ""
    #: a channel split: the first channel it takes from its input
    split_start: int = 0
    cost: Cost = ZERO
    rf: RF = NO_RF
    rf_full: RF = NO_RF
    #: the exact windows of every unit, per channel run (``windows_full``: with global side paths)
    windows: Field = ()
    windows_full: Field = ()
    notes: list[str] = field(default_factory=list)
    data_dependent: bool = False
    #: inside a ``side`` block (an auxiliary branch that feeds no output by design)
    side: bool = False
    #: a merge written in place (``inplace: true``: an add into its first input, as ``out += identity``)
    inplace: bool = False


class BlockEnd(NamedTuple):
    """A named block (or template call) and the node holding its output."""

    name: str
    kind: str
    node: int
    location: Location


class Output(NamedTuple):
    """A declared output of a model (``outputs:``), or the last node when none are declared."""

    name: str
    node: int


@dataclass
class Graph:
    name: str
    description: str
    input: Shape
    batch: int
    nodes: list[Node]
    blocks: list[BlockEnd]
    outputs: list[Output]
    #: nodes that feed no output (and are not in a ``side`` block): left out of the totals, with a warning
    dead: frozenset[int] = frozenset()
    #: problems that do not stop the analysis (each says where)
    warnings: list[str] = field(default_factory=list)

    @property
    def output(self) -> int:
        """The node of the first output."""
        return self.outputs[0].node

    @property
    def layers(self) -> list[Node]:
        """Every node but the input."""
        return self.nodes[1:]
