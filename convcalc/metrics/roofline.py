"""The roofline pass: a lower bound on how long each layer takes on a device, and whether compute or memory
bounds it (Williams, Waterman and Patterson, "Roofline", CACM 2009).

For each layer of the inference pass (training-only layers and layers that feed no output are left out), at
the report's batch N, with s = ``BYTES[dtype]`` bytes per element (weights, buffers and maps alike):

- FLOPs  F = ``cost.flops`` = 2·macs + adds + muls + divs (batch applied; for int8 these are integer ops);
- bytes  B = R + P + W, the least the layer can move if it runs as a kernel of its own:
  R = Σ over its distinct input maps of C·H·W·N·s (each input map read once),
  P = (params + buffers)·s (its weights read once, whatever the batch),
  W = C·H·W·N·s of its output (written once);
  a view, which only re-labels memory (``flatten``, ``identity``, ``split``, and ``dropout`` and ``drop_path``
  at inference), moves B = 0;
- arithmetic intensity I = F / B FLOP per byte (None when B = 0);
- time bound t = max(F / peak_flops[dtype], B / bandwidth) seconds, an exact :class:`~fractions.Fraction`;
  the limit is "memory" when B / bandwidth > F / peak (I below the ridge point peak / bandwidth), "compute"
  otherwise (the ridge itself included), and "none" when F = B = 0 (t = 0).

The model's bound is Σ t over its layers, with ΣF, ΣB and the part of Σ t spent in memory-bound layers.
Σ t is a **lower bound on latency** under this model: every layer reads its inputs from device memory and
writes its output back (no fusion, no reuse in caches across layers), runs at no more than the device's peak,
and overlaps its arithmetic with its memory traffic perfectly. Fusing layers or keeping maps on chip can beat
it; launch overheads, re-reads inside a layer, kernels below peak and idle units only add to it.

Exact arithmetic only: integers and Fractions, no floats.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from convcalc.errors import Diagnostic, Location, UsageError
from convcalc.kinds.core import Shape
from convcalc.kinds.steps import BYTES
from convcalc.lang.device import Device
from convcalc.lang.hints import did_you_mean
from convcalc.metrics.analysis import Report

__all__ = ["BYTES", "INPUT", "VIEWS", "LayerBound", "Roofline", "roofline"]

#: Layer kinds that only re-label memory (at inference): they move no bytes.
VIEWS = frozenset({"flatten", "identity", "split", "dropout", "drop_path"})
#: The name of the graph's input node, as a layer's ``inputs`` name it (the model's input map).
INPUT = "input"


@dataclass(frozen=True, slots=True)
class LayerBound:
    """One layer on the roofline: its FLOPs and least bytes moved (read, write, weights), intensity, the time its
    compute and its memory traffic take at the device's peaks, the bound (the larger) and which limit binds."""

    name: str
    type: str
    flops: int
    read_bytes: int
    write_bytes: int
    weight_bytes: int
    bytes: int
    #: FLOP per byte; None when the layer moves no bytes
    intensity: Fraction | None
    compute_s: Fraction
    memory_s: Fraction
    bound_s: Fraction
    #: "compute", "memory", or "none" (no FLOPs and no bytes)
    limit: str


@dataclass(frozen=True, slots=True)
class Roofline:
    """A model on a device: the bound of each layer of the inference pass and the totals. ``bound_s`` is a lower
    bound on latency (see the module docstring); ``memory_bound_s`` is its part spent in memory-bound layers."""

    device: Device
    dtype: str
    batch: int
    layers: tuple[LayerBound, ...]
    flops: int
    bytes: int
    bound_s: Fraction
    memory_bound_s: Fraction

    @property
    def peak_flops(self) -> int:
        """The device's peak FLOP/s in this dtype."""
        return self.device.peak_flops[self.dtype]

    @property
    def ridge(self) -> Fraction:
        """The ridge point, FLOP per byte: layers of lower intensity are memory-bound."""
        return Fraction(self.peak_flops, self.device.bandwidth)

    @property
    def memory_share(self) -> Fraction | None:
        """The share of the bound spent in memory-bound layers (None when the bound is 0)."""
        return self.memory_bound_s / self.bound_s if self.bound_s else None


def _elements(s: Shape) -> int:
    return s.c * s.h * s.w


def roofline(report: Report, device: Device, dtype: str = "fp32") -> Roofline:
    """The roofline of an analysed model on ``device`` in ``dtype``; the formula is the module docstring's.

    Per layer: B = R + P + W bytes (inputs read once, weights once, output written once; views 0),
    t = max(F / peak, B / bandwidth); the total Σ t is a lower bound on latency. :class:`UsageError` when the
    device has no peak for ``dtype``."""
    if dtype not in device.peak_flops:
        has = ", ".join(device.peak_flops) or "none"
        close = did_you_mean(dtype, list(device.peak_flops)) if device.peak_flops else ""
        hint = (close + " " if close.startswith("did you mean") else "") + f"{device.name} has peaks for: {has}"
        what = "no peak FLOP/s" if dtype in BYTES else "unknown dtype"
        raise UsageError([Diagnostic(Location("--dtype", 0, 0), (), f"{what} {dtype!r} for {device.name}", hint)])
    size = BYTES[dtype]
    peak = device.peak_flops[dtype]
    batch = report.batch
    # the shape of each map by name, in topological order (a later layer's name shadows the input's, should a
    # layer be called "input")
    shapes: dict[str, Shape] = {INPUT: report.input_shape}
    rows: list[LayerBound] = []
    for row in report.layers:
        if not (row.training_only or row.dead):
            rows.append(_bound(row.name, row.type, row.cost.flops,
                               0 if row.type in VIEWS else sum(_elements(shapes[i]) for i in dict.fromkeys(row.inputs)),
                               0 if row.type in VIEWS else row.cost.params + row.cost.buffers,
                               0 if row.type in VIEWS else _elements(row.output_shape),
                               batch, size, peak, device.bandwidth))
        shapes[row.name] = row.output_shape
    total = sum((r.bound_s for r in rows), Fraction(0))
    memory = sum((r.bound_s for r in rows if r.limit == "memory"), Fraction(0))
    return Roofline(device, dtype, batch, tuple(rows), sum(r.flops for r in rows), sum(r.bytes for r in rows),
                    total, memory)


def _bound(name: str, kind: str, flops: int, read: int, weights: int, write: int, batch: int, size: int,
           peak: int, bandwidth: int) -> LayerBound:
    """One layer: ``read`` and ``write`` are elements per sample, ``weights`` elements in all."""
    rb, wb, pb = read * batch * size, write * batch * size, weights * size
    moved = rb + wb + pb
    compute = Fraction(flops, peak)
    memory = Fraction(moved, bandwidth)
    limit = "none" if not flops and not moved else "memory" if memory > compute else "compute"
    return LayerBound(name, kind, flops, rb, wb, pb, moved, Fraction(flops, moved) if moved else None,
                      compute, memory, max(compute, memory), limit)
