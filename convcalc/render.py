"""JSON, CSV and Markdown as plain strings (never through Rich). Exact integers in JSON and CSV."""

from __future__ import annotations

import csv
import io
import json
from fractions import Fraction
from typing import Any

from convcalc.analysis import BlockRow, Comparison, Field, LayerRow, Report
from convcalc.costs import Cost
from convcalc.views import Table

SCHEMA_VERSION = 1
BUCKETS = ("params", "buffers", "macs", "adds", "muls", "divs", "cmps", "special")


def _num(v: int | Fraction) -> int | float:
    return v if isinstance(v, int) else float(v)


def _pair(p: tuple[int | Fraction, int | Fraction]) -> list[int | float]:
    return [_num(p[0]), _num(p[1])]


def _field(f: Field, prefix: str = "") -> dict[str, Any]:
    return {f"{prefix}rf": _pair(f.size), f"{prefix}stride": _pair(f.stride), f"{prefix}padding": _pair(f.padding),
            f"{prefix}centre": _pair(f.centre)}


def _cost(c: Cost) -> dict[str, int]:
    out = {k: getattr(c, k) for k in BUCKETS}
    out["flops"] = c.flops
    return out


def layer_dict(row: LayerRow) -> dict[str, Any]:
    return {
        "name": row.name, "type": row.type, "inputs": list(row.inputs), "output_shape": list(row.output_shape),
        **_cost(row.cost), "activations": row.activations, **_field(row.rf),
        "rf_full": _pair(row.rf_full.size), "notes": list(row.notes), "training_only": row.training_only,
        "data_dependent": row.data_dependent,
    }


def block_dict(b: BlockRow) -> dict[str, Any]:
    return {"name": b.name, "type": b.type, "output": b.output, "output_shape": list(b.output_shape),
            **_field(b.rf), "rf_full": _pair(b.rf_full.size)}


def report_dict(r: Report) -> dict[str, Any]:
    """The JSON object of one model (stable key order)."""
    return {
        "name": r.name, "description": r.description, "file": r.file,
        "input_shape": list(r.input_shape), "batch": r.batch,
        **_cost(r.total), "training_only_macs": r.training_only.macs,
        "output_shape": list(r.output_shape), **_field(r.rf), "rf_full": _pair(r.rf_full.size),
        "weight_layers": r.weight_layers, "nonlinearities": r.nonlinearities,
        "activations": r.activations, "peak_activation": r.peak_activation,
        "notes": list(r.notes),
        "layers": [layer_dict(x) for x in r.layers],
        "blocks": [block_dict(b) for b in r.blocks],
    }


def dumps(obj: Any) -> str:
    return json.dumps(obj, indent=2, ensure_ascii=False) + "\n"


def report_json(r: Report) -> str:
    return dumps({"schema_version": SCHEMA_VERSION, **report_dict(r)})


def comparison_json(c: Comparison) -> str:
    alts = []
    for r in c.alternatives:
        d = report_dict(r)
        d["ratios"] = {m: c.ratio(r, m) for m in ("params", "macs", "flops")}
        alts.append(d)
    return dumps({"schema_version": SCHEMA_VERSION, "baseline": c.baseline.name, "alternatives": alts})


def _csv(header: list[str], rows: list[list[Any]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    for row in rows:
        w.writerow([_num(v) if isinstance(v, Fraction) else v for v in row])
    return buf.getvalue()


_SHAPE = ["out_c", "out_h", "out_w"]
_RF = ["rf_h", "rf_w", "stride_h", "stride_w", "padding_h", "padding_w", "centre_h", "centre_w"]


def _rf_cells(f: Field) -> list[Any]:
    return [*f.size, *f.stride, *f.padding, *f.centre]


def show_csv(r: Report) -> str:
    """One row per layer: name, type, output shape, every cost bucket, flops, activations."""
    header = ["model", "name", "type", *_SHAPE, *BUCKETS, "flops", "activations", "training_only"]
    rows = [[r.name, x.name, x.type, *x.output_shape, *(getattr(x.cost, k) for k in BUCKETS), x.cost.flops,
             x.activations, x.training_only] for x in r.layers]
    return _csv(header, rows)


def rf_csv(r: Report) -> str:
    """One row per layer (and named block): receptive field per axis."""
    header = ["model", "name", "type", *_SHAPE, *_RF, "rf_full_h", "rf_full_w", "notes"]
    rows = [[r.name, x.name, x.type, *x.output_shape, *_rf_cells(x.rf), *x.rf_full.size, "; ".join(x.notes)]
            for x in r.layers]
    rows += [[r.name, b.name, "block:" + b.type, *b.output_shape, *_rf_cells(b.rf), *b.rf_full.size, ""]
             for b in r.blocks]
    return _csv(header, rows)


def compare_csv(c: Comparison) -> str:
    """One row per alternative, with ratios against the first."""
    header = ["name", *BUCKETS, "flops", *_SHAPE, *_RF, "weight_layers", "nonlinearities",
              "params_ratio", "macs_ratio", "flops_ratio"]
    rows = [[r.name, *(getattr(r.total, k) for k in BUCKETS), r.flops, *r.output_shape, *_rf_cells(r.rf),
             r.weight_layers, r.nonlinearities, *(c.ratio(r, m) for m in ("params", "macs", "flops"))]
            for r in c.alternatives]
    return _csv(header, rows)


def _md_cell(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", " ")


def markdown(t: Table) -> str:
    """A GitHub-flavoured Markdown table with its title and notes."""
    lines = [f"### {_md_cell(t.title)}", ""]
    lines.append("| " + " | ".join(_md_cell(c) for c in t.columns) + " |")
    lines.append("|" + "|".join("---:" if i in t.numeric else "---" for i in range(len(t.columns))) + "|")
    for row in t.rows:
        lines.append("| " + " | ".join(_md_cell(c) for c in row) + " |")
    if t.footer:
        lines.append("| " + " | ".join(f"**{_md_cell(c)}**" if c else "" for c in t.footer) + " |")
    if t.notes:
        lines.append("")
        lines.extend(f"- {_md_cell(n)}" for n in t.notes)
    return "\n".join(lines) + "\n"
