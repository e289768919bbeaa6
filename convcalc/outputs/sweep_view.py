"""A sweep's rows as a neutral table (for Rich and Markdown), JSON and CSV. JSON and CSV hold exact integers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from convcalc.outputs.render import SCHEMA_VERSION, _csv, _num, dumps
from convcalc.outputs.views import Table
from convcalc.sweep.axes import Axis, shown_value
from convcalc.sweep.run import SweepRow
from convcalc.units import human, human_bytes, pair

_METRICS = ("params", "macs", "flops", "activations", "peak_memory")


def _sources(rows: Sequence[SweepRow]) -> tuple[bool, bool]:
    """Whether the spec and the model columns are needed (several specs; a spec with several models)."""
    specs = {r.source for r in rows}
    models = {(r.source, r.model) for r in rows}
    return len(specs) > 1, len(models) > len(specs)


def verdict_cell(row: SweepRow, reasons: dict[str, int] | None = None) -> str:
    """``pass``, ``FAIL max_macs, min_rf[h]``, ``-`` (no budget), or ``error: reason`` (``error [n]`` with the
    numbers of ``reasons``: each reason once, in the table's notes)."""
    if row.error is not None:
        return f"error: {row.error}" if reasons is None else f"error [{reasons[row.error]}]"
    if not row.verdicts:
        return "-"
    failed = [v.label for v in row.verdicts if not v.passed]
    return "FAIL " + ", ".join(failed) if failed else "pass"


def sweep_table(rows: Sequence[SweepRow], axes: Sequence[str], exact: bool = False, title: str = "sweep",
                notes: Sequence[str] = ()) -> Table:
    """One row per model and configuration: the swept values, params, MACs, FLOPs, activations, peak memory,
    RF and stride of the first output, and the budgets' verdict (or the reason it could not be analysed)."""
    spec_col, model_col = _sources(rows)
    lead = (["spec"] if spec_col else []) + (["model"] if model_col else []) + list(axes)
    cols = (*lead, "params", "MACs", "FLOPs", "activations", "peak mem", "RF", "stride", "budgets")
    reasons = {e: i + 1 for i, e in enumerate(dict.fromkeys(r.error for r in rows if r.error is not None))}
    out = []
    for r in rows:
        cells = ([r.source] if spec_col else []) + ([r.model] if model_col else []) + \
            [shown_value(r.config.value(a)) for a in axes]
        if r.ok:
            assert r.params is not None and r.macs is not None and r.flops is not None
            assert r.activations is not None and r.peak_memory is not None and r.rf is not None
            assert r.stride is not None
            cells += [human(r.params, exact), human(r.macs, exact), human(r.flops, exact),
                      human(r.activations, exact), human_bytes(r.peak_memory, exact), pair(r.rf), pair(r.stride)]
        else:
            cells += ["-"] * 7
        cells.append(verdict_cell(r, reasons))
        out.append(tuple(cells))
    n = len(lead)
    many = any(len(r.outputs) > 1 for r in rows)
    at = sorted({r.rf_at for r in rows if r.rf_at is not None})
    where = ("the first output (--format json: every output)" if many else "the output") if not at else \
        ", ".join(at) + (" (each row's rf_at in --format json; none: the output)"
                         if len(at) > 1 or any(r.ok and r.rf_at is None for r in rows) else "")
    table_notes = ["batch as the spec's unless swept; activations = elements of all layer outputs; peak mem = "
                   f"fp32 inference peak of live tensors; RF and stride (h×w, input pixels) at {where}"]
    table_notes += [f"[{i}] could not be analysed: {e}" for e, i in reasons.items()]
    table_notes += list(notes)
    return Table(title, cols, out, None, table_notes, frozenset(range(n, n + 5)),
                 optional=(n + 2, n + 3, n + 6, n + 4), wrap=frozenset({len(cols) - 1}),
                 shorten=frozenset(range(min(n, 2) if (spec_col or model_col) else 0)))


def _config(r: SweepRow) -> dict[str, Any]:
    out: dict[str, Any] = {k: v for k, v in r.config.values}
    if r.config.size is not None:
        out["size"] = list(r.config.size)
    if r.config.batch is not None:
        out["batch"] = r.config.batch
    return out


def row_dict(r: SweepRow) -> dict[str, Any]:
    """A row: spec, model, config (the values set; size as [h, w]), status, every figure (null when it could
    not be analysed), the outputs, the verdicts, the error."""
    return {
        "spec": r.source, "model": r.model, "config": _config(r), "status": r.status,
        **{m: getattr(r, m) for m in _METRICS},
        "rf": None if r.rf is None else [_num(v) for v in r.rf],
        "stride": None if r.stride is None else [_num(v) for v in r.stride],
        "rf_at": r.rf_at,
        "outputs": [{"name": o.name, "shape": list(o.shape), "rf": [_num(v) for v in o.rf],
                     "stride": [_num(v) for v in o.stride]} for o in r.outputs],
        "verdicts": [{"label": v.label, "key": v.key, "limit": _num(v.limit), "actual": _num(v.actual),
                      "passed": v.passed} for v in r.verdicts],
        "error": r.error,
    }


def _axis_value(v: Any) -> Any:
    return list(v) if isinstance(v, tuple) else v


def sweep_json(rows: Sequence[SweepRow], axes: Sequence[Axis], pareto: Sequence[str] | None = None) -> str:
    """``{"schema_version", "axes": [{"name", "values"}], "pareto": [metrics] | null, "rows": [...]}``."""
    return dumps({"schema_version": SCHEMA_VERSION,
                  "axes": [{"name": a.name, "values": [_axis_value(v) for v in a.values]} for a in axes],
                  "pareto": None if pareto is None else list(pareto), "rows": [row_dict(r) for r in rows]})


def sweep_csv(rows: Sequence[SweepRow], axes: Sequence[str]) -> str:
    """One line per row: spec, model, the swept values (a size as ``HxW``), the figures (peak memory in bytes),
    rf and stride per axis, status, the failed limits (``;``-separated), the error and where rf is measured
    (empty: the output)."""
    header = ["spec", "model", *axes, "params", "macs", "flops", "activations", "peak_memory_bytes",
              "rf_h", "rf_w", "stride_h", "stride_w", "status", "failed", "error", "rf_at"]
    lines = []
    for r in rows:
        lines.append([r.source, r.model, *(_csv_value(r.config.value(a)) for a in axes),
                      *(getattr(r, m) for m in _METRICS), *(r.rf or ("", "")), *(r.stride or ("", "")),
                      r.status, ";".join(v.label for v in r.verdicts if not v.passed), r.error or "", r.rf_at or ""])
    return _csv(header, lines)


def _csv_value(v: Any) -> Any:
    if v is None:
        return ""
    if isinstance(v, tuple):
        return shown_value(v)
    return v
