"""Footprints: which input pixels one output unit depends on, and through how many paths.

For one unit of a layer, the number of paths from each input pixel to it through the layer graph
(one channel; every kernel tap counts once, as with uniform weights at initialisation). Computed by
dynamic programming backwards over the topological order, on unbounded coordinates (an interior unit:
no image border cuts it), per axis and, where it is small enough, as a 2-D map. Zero counts inside
the receptive field are holes (the "gridding" of stacked dilations). The effective receptive field
is the smallest centred window holding a given share of the paths.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from fractions import Fraction

from convcalc.errors import Diagnostic, Location, UsageError
from convcalc.graph import Graph, Node
from convcalc.kinds.core import AXES, KINDS, AxisOp

#: Largest receptive-field area (h·w) for which the 2-D map is computed.
MAX_MAP_AREA = 256 * 256

Counts = dict[int, int]


@dataclass(frozen=True)
class AxisFootprint:
    """Path counts over input positions start, start + 1, … on one axis (zeros are holes)."""

    start: int
    counts: tuple[int, ...]

    @property
    def paths(self) -> int:
        return sum(self.counts)

    @property
    def holes(self) -> int:
        return sum(1 for c in self.counts if c == 0)

    def erf(self, share: Fraction) -> int:
        """Size of the smallest window centred on the receptive field holding ``share`` of the paths."""
        n = len(self.counts)
        total = self.paths
        size = 1 if n % 2 else 2
        while size < n:
            lo = (n - size) // 2
            if sum(self.counts[lo:lo + size]) >= share * total:
                return size
            size += 2
        return n


@dataclass(frozen=True)
class Footprint:
    layer: str
    axes: tuple[AxisFootprint, AxisFootprint]
    #: rows (h) of columns (w) of path counts over the receptive field, or None when too large
    map: tuple[tuple[int, ...], ...] | None
    data_dependent: bool
    #: the named block asked for, when the name was a block's (``layer`` is then its output node), else ""
    block: str = ""

    def erf(self, share: Fraction) -> tuple[int, int]:
        return self.axes[0].erf(share), self.axes[1].erf(share)


def _ops(node: Node, graph: Graph) -> tuple[AxisOp, AxisOp]:
    if node.layer is None:  # merges, splits: the same position
        return AxisOp(), AxisOp()
    src = graph.nodes[node.inputs[0]]
    return KINDS[node.layer.kind].rf(node.layer, src.shape)


def _sources(o: int, op: AxisOp) -> list[int]:
    """Input positions output position ``o`` reads on one axis (one entry per tap)."""
    taps = (op.k - 1) // op.d + 1
    if op.mode == "down":
        return [o * op.s - op.p + t * op.d for t in range(taps)]
    if op.mode == "transposed":  # o = i·s − p + t·d
        return [(o + op.p - t * op.d) // op.s for t in range(taps) if (o + op.p - t * op.d) % op.s == 0]
    return [o // op.s + t for t in range(taps)]  # upsampling: nearest (1 tap) or bilinear (2)


def _back(counts: Counts, op: AxisOp) -> Counts:
    out: Counts = defaultdict(int)
    for o, c in counts.items():
        for i in _sources(o, op):
            out[i] += c
    return out


def _back2(counts: dict[tuple[int, int], int], ops: tuple[AxisOp, AxisOp]) -> dict[tuple[int, int], int]:
    out: dict[tuple[int, int], int] = defaultdict(int)
    for (y, x), c in counts.items():
        for i in _sources(y, ops[0]):
            for j in _sources(x, ops[1]):
                out[(i, j)] += c
    return out


def resolve(graph: Graph, name: str) -> tuple[int, str] | None:
    """The node a name of the ``rf`` table stands for: a layer or merge, or a named block (also written
    ``[name]``, as the table shows it), whose output node it is; with the block's name ("" for a node)."""
    for n in graph.nodes[1:]:
        if n.name == name:
            return n.index, ""
    bare = name[1:-1] if name.startswith("[") and name.endswith("]") else name
    for b in graph.blocks:
        if b.name == bare:
            return b.node, bare
    return None


def footprint(graph: Graph, layer: str) -> Footprint:
    """The footprint of one interior output unit of the node or named block ``layer`` (KeyError if absent)."""
    found = resolve(graph, layer)
    if found is None:
        raise KeyError(layer)
    index, block = found
    target = graph.nodes[index]
    per_axis: list[dict[int, Counts]] = [{index: {0: 1}}, {index: {0: 1}}]
    rf = target.rf
    area = rf[0].size * rf[1].size
    two_d: dict[int, dict[tuple[int, int], int]] | None = {index: {(0, 0): 1}} if area <= MAX_MAP_AREA else None
    for node in reversed(graph.nodes[1:index + 1]):
        if node.index not in per_axis[0]:
            continue
        ops = _ops(node, graph)
        for ax in (0, 1):
            moved = _back(per_axis[ax].pop(node.index), ops[ax])
            for src in node.inputs:
                acc = per_axis[ax].setdefault(src, defaultdict(int))
                for i, c in moved.items():
                    acc[i] += c
        if two_d is not None:
            moved2 = _back2(two_d.pop(node.index), ops)
            for src in node.inputs:
                acc2 = two_d.setdefault(src, defaultdict(int))
                for ij, c in moved2.items():
                    acc2[ij] += c
    axes = []
    for ax in (0, 1):
        start, size = rf[ax].start, rf[ax].size
        if not (isinstance(start, int) and isinstance(size, int)):
            raise ValueError(f"the receptive field of {layer!r} is fractional on the {AXES[ax]} axis")
        counts = per_axis[ax].get(0, {})
        axes.append(AxisFootprint(start, tuple(counts.get(start + i, 0) for i in range(size))))
    grid = None
    if two_d is not None:
        cells = two_d.get(0, {})
        s0, s1 = axes[0].start, axes[1].start
        grid = tuple(tuple(cells.get((s0 + i, s1 + j), 0) for j in range(len(axes[1].counts)))
                     for i in range(len(axes[0].counts)))
    return Footprint(target.name, (axes[0], axes[1]), grid, target.data_dependent, block)


def footprints(graphs: list[Graph], layer: str) -> list[tuple[str, Footprint]]:
    """The footprint of ``layer`` (a layer, merge or named block) in every alternative that has it
    (:func:`lacking` names the others).

    Raises :class:`UsageError` (with a "did you mean") when none has it.
    """
    out = [(g.name, footprint(g, layer)) for g in graphs if resolve(g, layer) is not None]
    if not out:
        from convcalc.graph.names import name_hint

        names = dict.fromkeys([*(n.name for g in graphs for n in g.nodes[1:]),
                               *(b.name for g in graphs for b in g.blocks)])
        raise UsageError([Diagnostic(Location("--map", 0, 0), (), f"no layer or named block {layer!r}",
                                     name_hint(layer, names) or "run `convcalc rf SPEC` for the layer names")])
    return out


def lacking(graphs: list[Graph], layer: str) -> list[str]:
    """The names of the alternatives that have no layer or named block ``layer``."""
    return [g.name for g in graphs if resolve(g, layer) is None]
