"""The roofline bound as JSON fragments, CSV and neutral tables: labelled a lower bound everywhere, never a
prediction (see :mod:`convcalc.metrics.roofline`)."""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from typing import Any

from convcalc.metrics.analysis import Comparison, Report
from convcalc.metrics.roofline import Roofline
from convcalc.outputs.views import Table, shape
from convcalc.units import human, human_bytes, human_seconds, ratio

LABEL = "a lower bound on latency, not a prediction: each layer at the device's peak FLOP/s or bandwidth, " \
        "whichever binds, inputs read and output written once, no fusion"


def _f(v: Fraction | None) -> float | None:
    return None if v is None else float(v)


def roofline_dict(b: Roofline) -> dict[str, Any]:
    """A model's roofline: device, dtype, batch, the bound (seconds, as a float, and exactly as a fraction
    string), FLOPs, bytes, the memory-bound share, and each layer's."""
    return {
        "device": b.device.name, "dtype": b.dtype, "batch": b.batch, "kind": "lower bound",
        "latency_bound_s": float(b.bound_s), "latency_bound_exact_s": str(b.bound_s),
        "flops": b.flops, "bytes": b.bytes, "memory_bound_s": float(b.memory_bound_s),
        "peak_flops": b.peak_flops, "bandwidth": b.device.bandwidth, "ridge_flops_per_byte": float(b.ridge),
        "sources": list(b.device.sources),
        "layers": [{"name": x.name, "type": x.type, "flops": x.flops, "read_bytes": x.read_bytes,
                    "write_bytes": x.write_bytes, "weight_bytes": x.weight_bytes, "bytes": x.bytes,
                    "intensity": _f(x.intensity), "compute_s": float(x.compute_s), "memory_s": float(x.memory_s),
                    "bound_s": float(x.bound_s), "limit": x.limit} for x in b.layers],
    }


def roofline_json(reports: Sequence[Report], bounds: Sequence[Roofline]) -> str:
    """``{"schema_version", "models": [{name, input_shape, batch, roofline}]}``."""
    from convcalc.outputs.render import SCHEMA_VERSION, dumps

    return dumps({"schema_version": SCHEMA_VERSION, "models": [
        {"name": r.name, "input_shape": list(r.input_shape), "batch": r.batch, "macs": r.macs, "flops": r.flops,
         "roofline": roofline_dict(b)} for r, b in zip(reports, bounds, strict=True)]})


def roofline_csv(reports: Sequence[Report], bounds: Sequence[Roofline]) -> str:
    """One row per layer: its FLOPs, bytes, intensity, bound (seconds) and the limit that binds."""
    from convcalc.outputs.render import _csv

    header = ["model", "device", "dtype", "batch", "layer", "type", "flops", "bytes", "intensity", "bound_s", "limit"]
    rows = [[r.name, b.device.name, b.dtype, b.batch, x.name, x.type, x.flops, x.bytes, _f(x.intensity),
             float(x.bound_s), x.limit] for r, b in zip(reports, bounds, strict=True) for x in b.layers]
    return _csv(header, rows)


def roofline_table(r: Report, b: Roofline, exact: bool = False) -> Table:
    """Per layer: FLOPs, bytes moved, intensity, the time bound and which limit binds; the total bound."""
    rows = [(x.name, x.type, human(x.flops, exact), human_bytes(x.bytes, exact),
             "-" if x.intensity is None else f"{float(x.intensity):.1f}", human_seconds(x.bound_s), x.limit)
            for x in b.layers]
    footer = ("total (bound)", "", human(b.flops, exact), human_bytes(b.bytes, exact), "",
              human_seconds(b.bound_s, exact), "")
    share = b.memory_share
    notes = [f"{b.device.name}, {b.dtype}, batch {b.batch}, input {shape(r.input_shape)}: {LABEL}",
             f"peak {human(b.peak_flops)}FLOP/s, bandwidth {human_bytes(b.device.bandwidth)}/s, ridge "
             f"{float(b.ridge):.1f} FLOP/B; intensity = FLOPs per byte moved",
             "memory-bound layers: " + ("-" if share is None else f"{float(share) * 100:.1f}% of the bound")]
    return Table(f"{r.name}: roofline bound", ("layer", "type", "FLOPs", "bytes", "FLOP/B", "bound", "limit"),
                 rows, footer, notes, frozenset({2, 3, 4, 5}), optional=(1, 4, 6))


def compare_bounds_table(c: Comparison, bounds: Sequence[Roofline], exact: bool = False,
                         title: str = "compare") -> Table:
    """Alternatives side by side: MACs and their ratio next to the latency bound and its ratio, and the share
    of the bound that memory binds (where FLOPs and the bound disagree)."""
    base = bounds[0].bound_s
    rows = []
    for r, b in zip(c.alternatives, bounds, strict=True):
        share = b.memory_share
        rows.append((c.label(r), human(r.macs, exact), ratio(c.ratio(r, "macs")), human_bytes(b.bytes, exact),
                     human_seconds(b.bound_s), ratio(float(b.bound_s / base) if base else None),
                     "-" if share is None else f"{float(share) * 100:.0f}%"))
    notes = [f"ratios against {c.labels[0]!r}; bound on {bounds[0].device.name}, {bounds[0].dtype}: {LABEL}",
             "bytes: the least each layer moves (inputs, weights, output); memory: the share of the bound spent "
             "in memory-bound layers"]
    return Table(title, ("model", "MACs", "×", "bytes", "bound", "×", "memory"), rows, None, notes,
                 frozenset({1, 2, 3, 4, 5, 6}), optional=(3, 6))
