"""The memory figures as JSON fragments, CSV and neutral tables (never through Rich)."""

from __future__ import annotations

from typing import Any

from convcalc.metrics.analysis import Report
from convcalc.metrics.memory import Memory
from convcalc.outputs.views import Table, shape
from convcalc.units import human_bytes

#: how many tensors alive at the peak a table lists (JSON lists them all)
ALIVE_SHOWN = 6


def model_keys(m: Memory) -> dict[str, Any]:
    """The memory keys of a model's JSON object (exact bytes), for the options asked."""
    o = m.options
    return {
        "memory": {"dtype": o.dtype, "mode": "train" if o.train else "inference", "optimizer": o.optimizer,
                   "mixed_precision": o.mixed, "inplace": o.inplace, "fold_bn": o.fold_bn, "batch": m.batch},
        "weights_bytes": m.weights_bytes, "buffers_bytes": m.buffers_bytes, "gradients_bytes": m.gradients_bytes,
        "optimizer_bytes": m.optimizer_bytes, "inference_peak_bytes": m.inference_peak_bytes,
        "peak_layer": m.peak_layer, "alive_at_peak": [{"layer": a.layer, "bytes": a.bytes} for a in m.alive_at_peak],
        "train_activation_bytes": m.train_activation_bytes,
        "train_saved_buffer_bytes": m.train_saved_buffer_bytes,
        "inference_total_bytes": m.inference_total_bytes, "train_total_bytes": m.train_total_bytes,
    }


def layer_keys(m: Memory | None) -> dict[str, dict[str, Any]]:
    """Per layer name: ``output_bytes``, ``live_bytes`` (inference), ``saved_bytes`` (training)."""
    if m is None:
        return {}
    return {x.name: {"output_bytes": x.output_bytes, "live_bytes": x.live_bytes, "saved_bytes": x.saved_bytes}
            for x in m.layers}


def _mode(m: Memory) -> str:
    o = m.options
    bits = [o.dtype + (" mixed precision" if o.mixed else ""), f"batch {m.batch}",
            f"training with {o.optimizer}" if o.train else "inference"]
    if not o.inplace:
        bits.append("in-place layers run out of place")
    if o.fold_bn:
        bits.append("batch norm folded")
    return ", ".join(bits)


def summary_table(r: Report, m: Memory, exact: bool = False) -> Table:
    """The breakdown: weights, buffers, gradients, optimizer, saved activations, inference peak, totals."""
    rows = [("weights", human_bytes(m.weights_bytes, exact), "parameters"),
            ("buffers", human_bytes(m.buffers_bytes, exact), "running statistics, tables, counters")]
    if m.options.train:
        rows += [("gradients", human_bytes(m.gradients_bytes, exact), "one per parameter"),
                 ("optimizer", human_bytes(m.optimizer_bytes, exact), f"{m.options.optimizer} state"),
                 ("activations", human_bytes(m.train_activation_bytes, exact), "saved for backward"),
                 ("training total", human_bytes(m.train_total_bytes, exact), "the sum above")]
    rows += [("inference peak", human_bytes(m.inference_peak_bytes, exact), f"live at {m.peak_layer}")]
    if not m.options.train:
        rows.append(("inference total", human_bytes(m.inference_total_bytes, exact),
                     "weights + buffers + peak"))
    notes = [f"{_mode(m)}; input {shape(r.input_shape)}; bytes in binary units (KiB = 1024 B; --exact for exact bytes)",
             "peak = the most bytes of tensors alive at once, in the spec's order, each freed after its last "
             "reader"]
    shown = m.alive_at_peak[:ALIVE_SHOWN]
    more = len(m.alive_at_peak) - len(shown)
    notes.append("alive at the peak: " + ", ".join(f"{a.layer} {human_bytes(a.bytes, exact)}" for a in shown)
                 + (f", and {more} more" if more else ""))
    return Table(f"{r.name}: memory", ("part", "bytes", "what"), rows, None, notes, frozenset({1}),
                 shorten=frozenset())


def layers_table(r: Report, m: Memory, exact: bool = False) -> Table:
    """Per layer: output shape, the bytes its result allocates, live bytes while it runs, bytes it saves."""
    rows = []
    for x in m.layers:
        row = next((y for y in r.layers if y.name == x.name), None)
        out = shape(row.output_shape) if row is not None else ""
        rows.append((x.name, x.type, out, human_bytes(x.output_bytes, exact), human_bytes(x.live_bytes, exact),
                     human_bytes(x.saved_bytes, exact)))
    notes = ["allocates = bytes of its result (0: a view or in place); live = all tensors alive while it runs "
             "(inference); saved = bytes it is the first to save for backward (training)"]
    return Table(f"{r.name}: memory per layer", ("layer", "type", "output", "allocates", "live", "saved"), rows,
                 None, notes, frozenset({3, 4, 5}), optional=(1, 2))


def memory_csv(reports: list[Report]) -> str:
    """One row per model: the options and every total, in exact bytes (per layer: the JSON)."""
    from convcalc.outputs.render import _csv

    header = ["model", "dtype", "mixed_precision", "mode", "optimizer", "batch", "weights_bytes", "buffers_bytes",
              "gradients_bytes", "optimizer_bytes", "train_activation_bytes", "inference_peak_bytes", "peak_layer",
              "total_bytes"]
    rows: list[list[Any]] = []
    for r in reports:
        m = r.memory
        assert m is not None
        o = m.options
        rows.append([r.name, o.dtype, o.mixed, "train" if o.train else "inference", o.optimizer, m.batch,
                     m.weights_bytes, m.buffers_bytes, m.gradients_bytes, m.optimizer_bytes,
                     m.train_activation_bytes, m.inference_peak_bytes, m.peak_layer, m.total_bytes])
    return _csv(header, rows)
