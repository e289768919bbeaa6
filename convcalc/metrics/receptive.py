"""The receptive-field pass: exact windows of every unit of every node, per axis, in input-pixel coordinates.

Definition: per axis, the receptive field of a node is the largest extent, over its units, of the input
pixels a unit depends on (its support), on unbounded coordinates (no border clips a window). Each node
keeps its exact :data:`~convcalc.metrics.channels.Field` (``windows``, and ``windows_full`` with global side
paths such as SE gates) and a summary per axis (:class:`~convcalc.metrics.support.AxisRF`: largest and
smallest unit window, period, effective stride, unit 0's start and centre).

A dynamic programme over the nodes in topological order, linear in the edges: a layer composes its input's
windows with the kind's reads (``Kind.rf``) and channel rule (``Kind.channels``); a merge takes the union,
channel by channel; a split takes its channels. It is incremental (:meth:`ReceptivePass.upto`) because
expansion asks whether a residual's body changed the effective stride.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from typing import TYPE_CHECKING

from convcalc.kinds.core import AXES, KINDS
from convcalc.kinds.merge import broadcasts
from convcalc.kinds.reads import BROADCAST, MAX_PERIOD, MIX, constant
from convcalc.metrics import channels as ch
from convcalc.metrics.support import NO_RF, RF, AxisRF, apply, misalignment, summaries
from convcalc.metrics.windows import AnyTerm

if TYPE_CHECKING:
    from convcalc.graph.nodes import Node

__all__ = ["NO_RF", "RF", "AxisRF", "Field", "ReceptivePass", "summarize"]

Field = ch.Field


def summarize(f: ch.Field, h: int, w: int) -> RF:
    """The per-axis receptive field of a map of h × w units with field f."""
    return summaries(ch.support(f), h, w)


def _px(v: Fraction) -> str:
    """A number of pixels for a note: exact where it reads well (3, 1/2, 8/9), else to 3 digits (≈0.469)."""
    return str(v) if v.denominator <= 16 else f"≈{float(v):.3g}"


#: Reports a problem at a node: (node, message, hint).
Report = Callable[["Node", str, str], None]


def _jump(t: AnyTerm) -> Fraction | int:
    """A term's effective stride (:attr:`~convcalc.metrics.windows.Term.jump`), an int where the term has one
    phase (no Fraction made for the usual case)."""
    return t.shift if type(t.shift) is int and t.period == 1 else t.jump


def _plain(j: Fraction | int) -> bool:
    """A jump of integer strides and integer upsampling only (s or 1/s)."""
    return j.numerator == 1 or j.denominator == 1


COARSE = (f"takes channels of a flatten of more than {ch.FLAT_LIMIT} values, whose channels keep one window (the "
          "whole map): the window of the channels taken is an outer bound")


def _differ(r: AxisRF) -> bool:
    """Whether the units' windows are not all one window moved by the stride (some unit reads anything)."""
    return r.size > 0 and (r.varies or r.period != 1)


class ReceptivePass:
    """Fills ``windows``, ``windows_full``, ``rf``, ``rf_full``, ``data_dependent`` and the receptive-field
    notes of nodes, in order.

    A merge of branches whose effective strides differ by integer factors (one downsamples by 2, the other by
    3) is reported through ``report`` once (not again after it); where a resize to a size that its input
    does not divide made them differ (an FPN at an odd size, align_corners), the windows drift across the
    map and the merge gets a note."""

    def __init__(self, nodes: list[Node], report: Report) -> None:
        self.nodes = nodes
        self.report = report
        self.done = 0
        self.reported: set[int] = set()
        #: nodes whose channels come from a flatten too large for a window per channel (FLAT_LIMIT)
        self.coarse: set[int] = set()
        #: nodes fed by an attention layer through single-input layers (a merge with them is not aligned)
        self.attended: set[int] = set()
        #: nodes after a global or grid attention (its note is said once per path; alignment is not checked:
        #: a unit's window spans the map, so it has no position of its own to align)
        self.said: set[int] = set()

    def upto(self, last: int) -> None:
        """Compute every node up to and including index ``last``."""
        while self.done <= last:
            self.step(self.nodes[self.done])
            self.done += 1

    def step(self, node: Node) -> None:
        if node.kind == "input":
            node.windows = node.windows_full = ch.start(node.shape.c)
            return
        srcs = [self.nodes[i] for i in node.inputs]
        self._flags(node, srcs)
        if node.layer is not None:
            self._layer(node, srcs[0])
        elif node.kind == "split":
            src = srcs[0]
            if src.index in self.coarse:
                self.coarse.add(node.index)
                node.notes.append(COARSE)
            node.windows = ch.sliced(src.windows, node.split_start, node.shape.c)
            node.windows_full = node.windows if src.windows_full is src.windows else \
                ch.sliced(src.windows_full, node.split_start, node.shape.c)
        else:
            self._merge(node, srcs)
        first, shape = srcs[0].shape, node.shape
        same = len(srcs) == 1 and first.h == shape.h and first.w == shape.w
        node.rf = srcs[0].rf if same and node.windows is srcs[0].windows else \
            summarize(node.windows, shape.h, shape.w)
        node.rf_full = node.rf if node.windows_full is node.windows else \
            srcs[0].rf_full if same and node.windows_full is srcs[0].windows_full else \
            summarize(node.windows_full, shape.h, shape.w)
        if len(srcs) > 1 or node.rf is not srcs[0].rf:  # (a field passed on unchanged starts nothing)
            self._notes(node, srcs)

    def _flags(self, node: Node, srcs: list[Node]) -> None:
        """What a node takes from its inputs: data dependence, a reported stride mismatch, a coarse flatten
        (through merges and splits), attention's (through single-input layers)."""
        index = node.index
        if len(srcs) == 1:  # (most nodes: the same tests as below, on the one input)
            i = srcs[0].index
            node.data_dependent = srcs[0].data_dependent
            if i in self.reported:
                self.reported.add(index)
            if node.layer is None and i in self.coarse:
                self.coarse.add(index)
            if i in self.said:
                self.said.add(index)
            if i in self.attended:
                self.attended.add(index)
            return
        node.data_dependent = any(s.data_dependent for s in srcs)
        if any(s.index in self.reported for s in srcs):
            self.reported.add(index)
        if node.layer is None and any(s.index in self.coarse for s in srcs):
            self.coarse.add(index)
        if any(s.index in self.said for s in srcs):
            self.said.add(index)

    def _notes(self, node: Node, srcs: list[Node]) -> None:
        """The notes of a node whose field starts something its inputs' do not: outer bounds, windows that differ
        or are not evenly spaced, no input read at all."""
        h, w = node.rf
        if not (h.exact and w.exact) and all(r.exact for s in srcs for r in s.rf):
            node.notes.append(f"the units' windows repeat only after more than {MAX_PERIOD} units: receptive fields "
                              "from here on are outer bounds")
        elif (_differ(h) or _differ(w)) and not any(_differ(r) for s in srcs for r in s.rf):
            for ax, r in enumerate(node.rf):
                if _differ(r):
                    every = f"repeating every {r.period} units" if r.period is not None else "never repeating"
                    if r.varies:
                        node.notes.append(f"the units' windows differ from here on ({AXES[ax]}: {r.smallest} to "
                                          f"{r.size} px, {every}): the receptive field is the largest")
                    else:
                        node.notes.append(f"the units' windows are not evenly spaced from here on ({AXES[ax]}: "
                                          f"{r.size} px each, {every})")
        if (h.size == 0 or w.size == 0) and all(r.size for s in srcs for r in s.rf):
            node.notes.append("no unit of this layer reads any input pixel (a transposed conv whose taps miss "
                              "every input): receptive field 0")

    def _layer(self, node: Node, src: Node) -> None:
        layer = node.layer
        assert layer is not None
        kind = KINDS[layer.kind]
        reads = kind.rf(layer, src.shape)
        rule = kind.channels(layer, src.shape)
        local = ch.through(src.windows, rule, reads, src.shape, node.shape)
        full = local if src.windows_full is src.windows else \
            ch.through(src.windows_full, rule, reads, src.shape, node.shape)
        if ch.coarse(rule, node.shape) or (src.index in self.coarse and rule != MIX):
            self.coarse.add(node.index)
            if rule.how in ("shuffle", "pixel_shuffle", "pixel_unshuffle") and src.index in self.coarse:
                node.notes.append(COARSE)
        if kind.global_gate:
            full = self._gated(full, src, kind.gate_groups(layer))
        if kind.attends is not None:
            self.attended.add(node.index)
            note = kind.attends(layer, src.shape)
            if note and node.index not in self.said:
                node.notes.append(note)
                self.said.add(node.index)
        node.windows, node.windows_full = local, full
        node.data_dependent = node.data_dependent or kind.data_dependent

    def _gated(self, full: ch.Field, src: Node, groups: int) -> ch.Field:
        """Add a global side path (an SE gate: all channels; a groupnorm: each group's) to every unit."""
        glob = (constant(src.shape.h), constant(src.shape.w))
        c = src.shape.c
        per = c // groups
        gate: ch.Field = ch.coalesce((per, apply(ch.support(ch.sliced(src.windows_full, j * per, per)), glob))
                                     for j in range(groups)) if groups > 1 else \
            ((c, apply(ch.support(src.windows_full), glob)),)
        return ch.joined([full, gate])

    def _merge(self, node: Node, srcs: list[Node]) -> None:
        shape = node.shape
        gates = [s for s in srcs if node.kind != "concat" and broadcasts(s.shape, shape)
                 and s.shape.h * s.shape.w == 1 < shape.h * shape.w]
        local = [s for s in srcs if s not in gates]
        supports = [ch.support(s.windows) for s in local]
        for ax, axis in enumerate(AXES):
            # (a map of one unit on this axis has no drift to speak of)
            jumps = {_jump(p[ax]) for sup in supports for p in sup} if shape[1 + ax] > 1 else set()
            if len(jumps) > 1 and all(_plain(j) for j in jumps):
                if node.index not in self.reported:
                    detail = ", ".join(f"{s.name!r} jump {_px(Fraction(s.rf[ax].jump))}" for s in local)
                    self.report(node, f"{node.kind} {node.name!r} merges different effective strides on the {axis} "
                                f"axis: {detail}", "the branches must downsample by the same factor")
                    self.reported.add(node.index)
            elif len(jumps) > 1:
                detail = ", ".join(f"{s.name!r} jump {_px(Fraction(s.rf[ax].jump))}" for s in local)
                node.notes.append(f"merges different effective strides on the {axis} axis: {detail}; the windows "
                                  f"drift across the map (the stride shown is {local[0].name!r}'s)")
            if any(s.index in self.attended or s.index in self.said for s in local):
                continue  # attention's units read whole windows (or the whole map): not centred by design
            least, most = misalignment(tuple(supports), ax, shape.h if ax == 0 else shape.w)
            if most:
                centres = ", ".join(f"{s.name!r} centre {_px(Fraction(s.rf[ax].centre))}" for s in local)
                if least == most:
                    node.notes.append(f"misaligned on the {axis} axis by {_px(most)} px: {centres}")
                else:
                    node.notes.append(f"misaligned on the {axis} axis by {_px(least)} to {_px(most)} px, by unit "
                                      f"(unit 0: {centres})")
        node.windows = self._combine(node, [s.windows for s in local], local)
        if not gates and all(s.windows_full is s.windows for s in srcs):
            node.windows_full = node.windows
            return
        fulls = [s.windows_full for s in local]
        fulls += [ch.coalesce((n, apply(sup, (BROADCAST, BROADCAST))) for n, sup in g.windows_full) for g in gates]
        node.windows_full = self._combine(node, fulls, [*local, *gates])

    def _combine(self, node: Node, fields: list[ch.Field], srcs: list[Node]) -> ch.Field:
        if node.kind == "concat":
            return ch.coalesce(run for f in fields for run in f)
        c = node.shape.c
        spread = [f if s.shape.c == c else ch.spread(f, c) for f, s in zip(fields, srcs, strict=True)]
        return ch.joined(spread)

