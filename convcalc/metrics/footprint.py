"""Footprints: which input pixels one output unit depends on, and through how many paths.

For the centre unit of a layer, the number of paths from each input pixel to it through the layer graph
(every kernel tap counts once, as with uniform weights; a path follows the channels it can: a split takes
the paths of its channels only). Computed by dynamic programming backwards over the topological order
with the kinds' exact reads (:mod:`convcalc.kinds.reads`), the ones the receptive-field pass composes
forwards, on unbounded coordinates (no image border cuts it), per axis and, where it is small enough, as a
2-D map; its window is the unit's exact window. Zero counts inside the window are holes (the "gridding" of
stacked dilations); the window's ends always have paths. The effective receptive field is the smallest
centred window holding a given share of the paths.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from fractions import Fraction

from convcalc.errors import Diagnostic, Location, UsageError
from convcalc.graph import Graph, Node
from convcalc.kinds.core import KINDS
from convcalc.kinds.merge import broadcasts
from convcalc.kinds.reads import POINT, AxisReads, Reads, Spread, offset, parts_of, phase_of
from convcalc.metrics.channels import support
from convcalc.metrics.support import unit

#: Largest receptive-field area (h·w) for which the 2-D map is computed.
MAX_MAP_AREA = 256 * 256

Counts = dict[int, int]
Grid = dict[tuple[int, int], int]
#: channels of a node as sorted (first, end) runs
Chans = tuple[tuple[int, int], ...]


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
    #: the unit (h, w) whose footprint this is: the centre of the layer's map
    unit: tuple[int, int] = (0, 0)

    def erf(self, share: Fraction) -> tuple[int, int]:
        return self.axes[0].erf(share), self.axes[1].erf(share)


def _runs(chans: set[int]) -> Chans:
    out: list[tuple[int, int]] = []
    for c in sorted(chans):
        if out and out[-1][1] == c:
            out[-1] = (out[-1][0], c + 1)
        else:
            out.append((c, c + 1))
    return tuple(out)


def _each(chans: Chans) -> list[int]:
    return [c for a, b in chans for c in range(a, b)]


def _spans(chans: Chans, lo: int, hi: int, shift: int = 0) -> Chans:
    """The runs of ``chans`` within [lo, hi), moved by ``shift``."""
    out = []
    for a, b in chans:
        a2, b2 = max(a, lo), min(b, hi)
        if a2 < b2:
            out.append((a2 + shift, b2 + shift))
    return tuple(out)


def _back_channels(graph: Graph, node: Node, chans: Chans) -> list[tuple[int, Chans, AxisReads]]:
    """Where the channels ``chans`` of ``node`` come from: (input node, its channels, the reads per axis)."""
    out: list[tuple[int, Chans, AxisReads]] = []
    if node.layer is None:
        if node.kind == "split":
            return [(node.inputs[0], _spans(chans, 0, node.shape.c, node.split_start), (POINT, POINT))]
        pos = 0
        for i in node.inputs:
            src = graph.nodes[i]
            if node.kind == "concat":
                got = _spans(chans, pos, pos + src.shape.c, -pos)
                pos += src.shape.c
            elif broadcasts(src.shape, node.shape) and src.shape.h * src.shape.w == 1 < node.shape.h * node.shape.w:
                continue  # a gate: not in the local field
            else:
                got = chans if src.shape.c == node.shape.c else ((0, 1),)
            if got:
                out.append((i, got, (POINT, POINT)))
        return out
    src = graph.nodes[node.inputs[0]]
    kind = KINDS[node.layer.kind]
    reads = kind.rf(node.layer, src.shape)
    rule = kind.channels(node.layer, src.shape)
    i, how, r = node.inputs[0], rule.how, rule.factor
    if how == "same":
        return [(i, chans, rd) for rd in parts_of(reads)]
    if how == "groups":
        gi, go = src.shape.c // rule.groups, node.shape.c // rule.groups
        # a run of output channels a … b − 1 touches the groups a // go … (b − 1) // go, whose inputs are a run
        spans = {((a // go) * gi, ((b - 1) // go + 1) * gi) for a, b in chans}
        got = _runs({c for lo, hi in spans for c in range(lo, hi)}) if len(spans) > 1 else tuple(spans)
        return [(i, got, rd) for rd in parts_of(reads)]
    prod = parts_of(reads)[0]  # the other channel rules are products per axis
    if how == "shuffle":
        per = src.shape.c // rule.groups
        return [(i, _runs({(k % rule.groups) * per + k // rule.groups for k in _each(chans)}), prod)]
    by_sub: dict[tuple[int, int], set[int]] = defaultdict(set)
    if how == "pixel_shuffle":
        for k in _each(chans):
            for y in range(r):
                for x in range(r):
                    by_sub[(y, x)].add(k * r * r + y * r + x)
        return [(i, _runs(cs), (phase_of(r, y), phase_of(r, x))) for (y, x), cs in by_sub.items()]
    if how == "pixel_unshuffle":
        for k in _each(chans):
            c, sub = divmod(k, r * r)
            by_sub[divmod(sub, r)].add(c)
        return [(i, _runs(cs), (offset(r, y), offset(r, x))) for (y, x), cs in by_sub.items()]
    assert how == "flatten"
    hw = src.shape.h * src.shape.w
    if node.shape.c > 4096:
        return [(i, ((0, src.shape.c),), prod)]
    for k in _each(chans):
        c, pix = divmod(k, hw)
        by_sub[divmod(pix, src.shape.w)].add(c)
    return [(i, _runs(cs), (offset(src.shape.h, y), offset(src.shape.w, x))) for (y, x), cs in by_sub.items()]


def _sources(o: int, reads: Reads | Spread) -> list[int]:
    """Input positions output position ``o`` reads on one axis (one entry per tap; every position of the
    bound for reads that repeat only after more than MAX_PERIOD units)."""
    if isinstance(reads, Spread):
        lo, hi = o * reads.jump + reads.lo, o * reads.jump + reads.hi
        return list(range(-(-lo.numerator // lo.denominator), hi.numerator // hi.denominator + 1))
    q, phi = divmod(o, reads.period)
    base = q * reads.shift
    return [base + run.first + t * run.step for run in reads.phases[phi] for t in range(run.n)]


def _back(counts: Counts, reads: Reads | Spread) -> Counts:
    out: Counts = defaultdict(int)
    if isinstance(reads, Reads) and reads.period == 1 and len(reads.phases[0]) == 1:  # a sliding window
        run, s = reads.phases[0][0], reads.shift
        offsets = [run.first + t * run.step for t in range(run.n)]
        for o, c in counts.items():
            base = o * s
            for off in offsets:
                out[base + off] += c
        return out
    for o, c in counts.items():
        for i in _sources(o, reads):
            out[i] += c
    return out


def _back2(counts: Grid, reads: AxisReads) -> Grid:
    out: Grid = defaultdict(int)
    for (y, x), c in counts.items():
        cols = _sources(x, reads[1])
        for i in _sources(y, reads[0]):
            for j in cols:
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
    """The footprint of the centre unit of the node or named block ``layer`` (KeyError if absent)."""
    found = resolve(graph, layer)
    if found is None:
        raise KeyError(layer)
    index, block = found
    target = graph.nodes[index]
    u = ((target.shape.h - 1) // 2, (target.shape.w - 1) // 2)
    window = unit(support(target.windows), *u)
    area = 0 if window is None else (window[0].hi - window[0].lo + 1) * (window[1].hi - window[1].lo + 1)
    # per node: {channels: (counts h, counts w, 2-D counts or None)}
    state: dict[int, dict[Chans, tuple[Counts, Counts, Grid | None]]] = {
        index: {((0, target.shape.c),): ({u[0]: 1}, {u[1]: 1}, {u: 1} if area <= MAX_MAP_AREA else None)}}
    for node in reversed(graph.nodes[1:index + 1]):
        for chans, (ch, cw, grid) in state.pop(node.index, {}).items():
            back = _back_channels(graph, node, chans)
            for src, got, reads in back:
                if reads == (POINT, POINT) and len(back) == 1:  # the same positions: hand the counts on
                    h2, w2, g2 = ch, cw, grid
                else:
                    h2, w2 = _back(ch, reads[0]), _back(cw, reads[1])
                    g2 = None if grid is None else _back2(grid, reads)
                into = state.setdefault(src, {})
                if got in into:
                    ah, aw, ag = into[got]
                    for k, v in h2.items():
                        ah[k] = ah.get(k, 0) + v
                    for k, v in w2.items():
                        aw[k] = aw.get(k, 0) + v
                    if ag is not None and g2 is not None:
                        for k2, v in g2.items():
                            ag[k2] = ag.get(k2, 0) + v
                elif len(back) == 1 and reads == (POINT, POINT):
                    into[got] = (h2, w2, g2)
                else:
                    into[got] = (dict(h2), dict(w2), None if g2 is None else dict(g2))
    per_axis: list[Counts] = [defaultdict(int), defaultdict(int)]
    cells: Grid = defaultdict(int)
    for ch, cw, grid in state.get(0, {}).values():
        for ax, counts in enumerate((ch, cw)):
            for k, v in counts.items():
                per_axis[ax][k] += v
        for k2, v in (grid or {}).items():
            cells[k2] += v
    if window is None:
        axes = (AxisFootprint(0, ()), AxisFootprint(0, ()))
    else:
        axes = tuple(AxisFootprint(e.lo, tuple(per_axis[ax].get(e.lo + i, 0) for i in range(e.hi - e.lo + 1)))
                     for ax, e in enumerate(window))  # type: ignore[assignment]
    grid_out = None
    if area <= MAX_MAP_AREA and window is not None:
        s0, s1 = axes[0].start, axes[1].start
        grid_out = tuple(tuple(cells.get((s0 + i, s1 + j), 0) for j in range(len(axes[1].counts)))
                         for i in range(len(axes[0].counts)))
    return Footprint(target.name, (axes[0], axes[1]), grid_out, target.data_dependent, block, u)


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
