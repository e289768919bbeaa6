"""The receptive-field pass: per axis, in input-pixel coordinates, over the nodes in topological order.

State per axis: ``size`` r, ``jump`` j (effective stride) and ``start`` (the first input pixel seen by
output index 0; effective padding P = −start, centre = start + (r − 1)/2). Start r = 1, j = 1, start 0.
A window op (k_eff, s, p_begin): r ← r + (k_eff − 1)·j; start ← start − p_begin·j; j ← j·s.
Merges take the union of the windows and need equal jumps; an operand broadcast over the others (a C×1×1
gate) joins only the full receptive field, like a squeeze-excitation gate. Values are exact: ``int``s, and
``Fraction``s only once transposed convolutions or upsampling divide the jump.

The pass is a dynamic programme, linear in the edges. It is incremental (:meth:`ReceptivePass.upto`)
because expansion asks it one question: whether a residual's body changed the effective stride.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import TYPE_CHECKING

from convcalc.kinds.core import KINDS, AxisOp
from convcalc.kinds.merge import broadcasts
from convcalc.kinds.pool import whole_input

if TYPE_CHECKING:
    from convcalc.graph.nodes import Node

#: An exact value: an int, or a Fraction when the jump has been divided.
Exact = Fraction | int


def _div(a: Exact, b: Exact) -> Exact:
    """a / b exactly (an int when b divides a)."""
    q = Fraction(a) / b
    return q.numerator if q.denominator == 1 else q


@dataclass(frozen=True, slots=True)
class AxisRF:
    """Receptive field of one output unit on one axis."""

    size: Exact = 1
    jump: Exact = 1
    start: Exact = 0

    @property
    def end(self) -> Exact:
        return self.start + self.size - 1

    @property
    def padding(self) -> Exact:
        """Effective padding P = −start."""
        return -self.start

    @property
    def centre(self) -> Exact:
        d = self.size - 1
        return self.start + (d // 2 if isinstance(d, int) and d % 2 == 0 else Fraction(d, 2))

    def apply(self, op: AxisOp) -> AxisRF:
        """Window op: r ← r + (k − 1)·j; start ← start − p·j; j ← j·s (transposed/up: j ← j/s)."""
        if op.mode == "down":
            if op.k == 1 and op.s == 1 and op.p == 0:  # pointwise: the same window
                return self
            return AxisRF(self.size + (op.k - 1) * self.jump, self.jump * op.s, self.start - op.p * self.jump)
        if op.mode == "transposed":
            # output u reads inputs i with i·s = u + p − t, t in 0..k−1: i ∈ [(u + p − k + 1)/s, (u + p)/s].
            # Those (fractional) bounds hold for every u, so the window is an outer bound for every unit
            # (the exact window of one unit alternates with u mod s and can even be empty).
            return AxisRF(self.size + (op.k - 1) * _div(self.jump, op.s), _div(self.jump, op.s),
                          self.start + (op.p - op.k + 1) * _div(self.jump, op.s))
        return AxisRF(self.size + (op.k - 1) * self.jump, _div(self.jump, op.s), self.start - op.p * self.jump)


RF = tuple[AxisRF, AxisRF]
START: RF = (AxisRF(), AxisRF())


def union(windows: Sequence[AxisRF]) -> AxisRF:
    """Union of aligned windows with one jump (the caller checks the jumps)."""
    lo = min(w.start for w in windows)
    hi = max(w.end for w in windows)
    return AxisRF(hi - lo + 1, windows[0].jump, lo)


def misalignment(windows: Sequence[AxisRF]) -> Exact:
    """Largest centre difference between merged windows (0 when aligned)."""
    centres = [w.centre for w in windows]
    return max(centres) - min(centres)


def _with_jump(rf: RF, like: RF) -> RF:
    """``rf`` with the jumps of ``like`` (for a merge of nominal fields)."""
    return (replace(rf[0], jump=like[0].jump), replace(rf[1], jump=like[1].jump))


#: Reports a problem at a node: (node, message, hint).
Report = Callable[["Node", str, str], None]


class ReceptivePass:
    """Fills ``rf``, ``rf_full``, ``data_dependent`` and the alignment notes of nodes, in order.

    A merge of different effective strides is reported through ``report``; its node and everything after it
    on that path keep no receptive field (``poisoned``), so one mistake is reported once.
    """

    def __init__(self, nodes: list[Node], report: Report) -> None:
        self.nodes = nodes
        self.report = report
        self.done = 0
        self.poisoned: set[int] = set()
        #: nodes whose receptive field is nominal: after upsampling by a factor that is not an integer
        self.nominal: set[int] = set()

    def upto(self, last: int) -> None:
        """Compute every node up to and including index ``last``."""
        while self.done <= last:
            self.step(self.nodes[self.done])
            self.done += 1

    def step(self, node: Node) -> None:
        if node.kind == "input":
            return
        if any(i in self.poisoned for i in node.inputs):
            self.poisoned.add(node.index)
            return
        srcs = [self.nodes[i] for i in node.inputs]
        node.data_dependent = any(s.data_dependent for s in srcs)
        if any(i in self.nominal for i in node.inputs):
            self.nominal.add(node.index)
        if node.layer is not None:
            self._layer(node, srcs[0])
        elif node.kind == "split":
            node.rf, node.rf_full = srcs[0].rf, srcs[0].rf_full
        else:
            self._merge(node, srcs)

    def _layer(self, node: Node, src: Node) -> None:
        layer = node.layer
        assert layer is not None
        kind = KINDS[layer.kind]
        ops = kind.rf(layer, src.shape)
        rf = (src.rf[0].apply(ops[0]), src.rf[1].apply(ops[1]))
        full = rf if src.rf_full is src.rf else (src.rf_full[0].apply(ops[0]), src.rf_full[1].apply(ops[1]))
        if kind.global_gate:
            g = whole_input(layer, src.shape)
            full = tuple(  # type: ignore[assignment]
                replace(union([full[ax], src.rf_full[ax].apply(g[ax])]), jump=full[ax].jump) for ax in (0, 1))
        node.rf, node.rf_full = rf, full
        node.data_dependent = node.data_dependent or kind.data_dependent
        if any(op.mode == "up" and isinstance(op.s, Fraction) for op in ops):
            self.nominal.add(node.index)
            node.notes.append(f"upsampling {src.shape.h}×{src.shape.w} → {node.shape.h}×{node.shape.w} is not by an "
                              "integer factor: receptive fields from here on are nominal")
        if layer.kind.startswith("adaptive_") and (src.shape.h % node.shape.h or src.shape.w % node.shape.w):
            node.notes.append(f"adaptive pooling {src.shape.h}×{src.shape.w} → {node.shape.h}×{node.shape.w}: the "
                              "windows vary in size; receptive field is nominal (largest window, stride ⌊in/out⌋)")

    def _merge(self, node: Node, srcs: list[Node]) -> None:
        gates = [s for s in srcs if node.kind != "concat" and broadcasts(s.shape, node.shape)
                 and s.shape.h * s.shape.w == 1 < node.shape.h * node.shape.w]
        local = [s for s in srcs if s not in gates]
        for ax, axis in enumerate(("height", "width")):
            if len({s.rf[ax].jump for s in local}) != 1:
                detail = ", ".join(f"{s.name!r} jump {s.rf[ax].jump}" for s in local)
                if node.index in self.nominal:  # a non-integer upsampling upstream: no exact stride to agree on
                    node.notes.append(f"merges different nominal effective strides on the {axis} axis: {detail}; "
                                      f"the receptive field uses the stride of {local[0].name!r}")
                    local = [replace(s, rf=_with_jump(s.rf, local[0].rf)) for s in local]
                    continue
                self.report(node, f"{node.kind} {node.name!r} merges different effective strides on the {axis} "
                            f"axis: {detail}", "the branches must downsample by the same factor")
                self.poisoned.add(node.index)
                return
        for ax, axis in enumerate(("height", "width")):
            off = misalignment([s.rf[ax] for s in local])
            if off:
                centres = ", ".join(f"{s.name!r} centre {s.rf[ax].centre}" for s in local)
                node.notes.append(f"misaligned on the {axis} axis by {off} px: {centres}")
        rf = (union([s.rf[0] for s in local]), union([s.rf[1] for s in local]))
        if not gates and all(s.rf_full is s.rf for s in srcs):
            node.rf, node.rf_full = rf, rf
            return
        full = tuple(replace(union([s.rf_full[ax] for s in srcs]), jump=rf[ax].jump) for ax in (0, 1))
        node.rf, node.rf_full = rf, full  # type: ignore[assignment]

