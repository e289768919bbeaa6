"""JSON, CSV and Markdown as plain strings (never through Rich). Exact integers in JSON and CSV."""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from convcalc.kinds.core import Cost
from convcalc.metrics.analysis import BlockRow, Comparison, Field, LayerRow, OutputRow, Report
from convcalc.metrics.totals import Totals

if TYPE_CHECKING:  # annotations only: `show --format json` need not import them
    from convcalc.metrics.blocks import DepthRow
    from convcalc.metrics.footprint import Footprint
    from convcalc.outputs.views import Table

try:  # the C function behind json.encoder.encode_basestring, without importing the json package
    from _json import encode_basestring
except ImportError:  # pragma: no cover - other Python implementations
    from json.encoder import encode_basestring

#: The version of every JSON output (show, rf, compare, zoo, check, diff); 2: show and rf always
#: ``{"schema_version", "models": [...]}``, compare's ``label``, blocks with their costs, zoo's model list.
SCHEMA_VERSION = 2
BUCKETS = ("params", "buffers", "macs", "adds", "muls", "divs", "cmps", "special")


def _num(v: int | Fraction) -> int | float:
    return v if isinstance(v, int) else float(v)


def _pair(p: tuple[int | Fraction, int | Fraction]) -> list[int | float]:
    return [_num(p[0]), _num(p[1])]


def _field(f: Field) -> dict[str, Any]:
    """``rf`` (the largest unit window), ``rf_min`` (the smallest), ``rf_period`` (units after which the windows
    repeat; null: never), ``stride`` (the jump), ``padding`` and ``centre`` (of unit 0), each ``[h, w]``."""
    return {"rf": _pair(f.size), "rf_min": _pair(f.smallest), "rf_period": list(f.period), "stride": _pair(f.stride),
            "padding": _pair(f.padding), "centre": _pair(f.centre)}


def output_dict(o: OutputRow) -> dict[str, Any]:
    """An output: shape, receptive field, and its centre unit: ``unit`` [h, w], ``window`` [[first, last] of h,
    [first, last] of w] in input pixels (null: it reads none), ``inside`` (pixels of the window inside the
    input, per axis), ``erf50`` and ``erf95`` (``rf`` computes them; null in ``show`` and ``compare``)."""
    c = o.unit
    return {"name": o.name, "shape": list(o.shape), **_field(o.rf), "rf_full": _pair(o.rf_full.size),
            "unit": list(c.position), "window": None if c.window is None else [list(c.window[0]), list(c.window[1])],
            "inside": list(c.inside), "erf50": None if c.erf50 is None else list(c.erf50),
            "erf95": None if c.erf95 is None else list(c.erf95)}


def _cost(c: Cost) -> dict[str, int]:
    out = {k: getattr(c, k) for k in BUCKETS}
    out["flops"] = c.flops
    return out


def layer_dict(row: LayerRow) -> dict[str, Any]:
    return {
        "name": row.name, "type": row.type, "inputs": list(row.inputs), "output_shape": list(row.output_shape),
        **_cost(row.cost), "activations": row.activations, **_field(row.rf),
        "rf_full": _pair(row.rf_full.size), "notes": list(row.notes), "training_only": row.training_only,
        "data_dependent": row.data_dependent, "feeds_output": not row.dead,
    }


def block_dict(b: BlockRow) -> dict[str, Any]:
    """A named block: its output node, the sum of its layers' costs and activations, its receptive field."""
    return {"name": b.name, "type": b.type, "output": b.output, "output_shape": list(b.output_shape),
            **_cost(b.cost), "activations": b.activations, **_field(b.rf), "rf_full": _pair(b.rf_full.size)}


def depth_dict(row: DepthRow) -> dict[str, Any]:
    """A row of ``show --depth``: a block (or top-level layer), how many layers it sums, their costs."""
    return {"name": row.name, "type": row.type, "layers": row.layers, **_cost(row.cost),
            "activations": row.activations}


def report_dict(r: Report) -> dict[str, Any]:
    """The JSON object of one model (stable key order); with the memory pass, its keys after
    ``peak_activation`` and each layer's ``output_bytes``, ``live_bytes`` and ``saved_bytes`` (null for a
    layer that feeds no output)."""
    from convcalc.outputs.memory_view import layer_keys, model_keys

    memory = model_keys(r.memory) if r.memory is not None else {}
    per_layer = layer_keys(r.memory)
    blank = {"output_bytes": None, "live_bytes": None, "saved_bytes": None} if r.memory is not None else {}
    return {
        "name": r.name, "description": r.description, "file": r.file,
        "input_shape": list(r.input_shape), "batch": r.batch,
        **_cost(r.total), "training_only_macs": r.training_only.macs,
        "output_shape": list(r.output_shape), **_field(r.rf), "rf_full": _pair(r.rf_full.size),
        "weight_layers": r.weight_layers, "nonlinearities": r.nonlinearities,
        "activations": r.activations, "peak_activation": r.peak_activation, **memory,
        "notes": list(r.notes),
        "outputs": [output_dict(o) for o in r.outputs],
        "warnings": list(r.warnings),
        "layers": [{**layer_dict(x), **per_layer.get(x.name, blank)} for x in r.layers],
        "blocks": [block_dict(b) for b in r.blocks],
    }


def dumps(obj: Any) -> str:
    """``json.dumps(obj, indent=2, ensure_ascii=False)`` plus a newline, byte for byte, 4-5× faster: the standard
    library encodes with ``indent`` in pure Python through generators (most of ``show resnet50 -f json``'s
    own time); this writer knows only dict, list, tuple, str, int, float, bool and None (exact types) and
    hands anything else back to :func:`json.dumps`."""
    out: list[str] = []
    try:
        _encode(obj, "", out)
    except TypeError:
        import json

        return json.dumps(obj, indent=2, ensure_ascii=False) + "\n"
    out.append("\n")
    return "".join(out)


def _encode(o: Any, indent: str, out: list[str]) -> None:
    t = type(o)
    if t is str:
        out.append(encode_basestring(o))
    elif t is int:
        out.append(int.__repr__(o))
    elif t is dict or t is list or t is tuple:
        if not o:
            out.append("{}" if t is dict else "[]")
            return
        inner = indent + "  "
        sep, nxt = ("{\n" if t is dict else "[\n") + inner, ",\n" + inner
        for k in o:
            out.append(sep)
            if t is dict:
                out.append(encode_basestring(k))  # TypeError unless a str: json.dumps converts other keys
                out.append(": ")
                _encode(o[k], inner, out)
            else:
                _encode(k, inner, out)
            sep = nxt
        out.append("\n" + indent + ("}" if t is dict else "]"))
    elif o is None:
        out.append("null")
    elif o is True:
        out.append("true")
    elif o is False:
        out.append("false")
    elif t is float:
        out.append("NaN" if o != o else "Infinity" if o == float("inf") else "-Infinity" if o == -float("inf")
                   else float.__repr__(o))
    else:
        raise TypeError(f"not handled here: {t.__name__}")


def report_json(r: Report) -> str:
    """One model as ``show --format json`` writes it (see :func:`models_json`)."""
    return models_json([r])


def comparison_json(c: Comparison) -> str:
    """``{"schema_version", "baseline", "alternatives"}``: each a model object plus its ``label`` (the name,
    qualified by the file where two share it) and ``ratios``; ``baseline`` is the first one's label."""
    alts = []
    for r, label in zip(c.alternatives, c.labels, strict=True):
        d = report_dict(r)
        d["label"] = label
        d["ratios"] = {m: c.ratio(r, m) for m in ("params", "macs", "flops")}
        alts.append(d)
    return dumps({"schema_version": SCHEMA_VERSION, "baseline": c.labels[0], "alternatives": alts})


def models_json(reports: list[Report], depth: int | None = None) -> str:
    """``{"schema_version", "models": [...]}`` for one model or several alternatives alike (show, rf); with
    ``depth``, each model also has ``depth`` and ``depth_blocks`` (see :func:`convcalc.metrics.blocks.at_depth`)."""
    models = []
    for r in reports:
        d = report_dict(r)
        if depth is not None:
            from convcalc.metrics.blocks import at_depth

            d["depth"] = depth
            d["depth_blocks"] = [depth_dict(x) for x in at_depth(r, depth)]
        models.append(d)
    return dumps({"schema_version": SCHEMA_VERSION, "models": models})


def zoo_json(reports: Sequence[Totals]) -> str:
    """``{"schema_version", "models": [{"name", "input_shape", "params", "macs", "flops", "description"}]}``."""
    return dumps({"schema_version": SCHEMA_VERSION, "models": [
        {"name": r.name, "input_shape": list(r.input_shape), "params": r.params, "macs": r.macs, "flops": r.flops,
         "description": r.description} for r in reports]})


def join_csv(parts: list[str]) -> str:
    """Concatenate CSV documents with the same header, keeping the header once."""
    return "".join(p if i == 0 else p.split("\n", 1)[1] for i, p in enumerate(parts))


def _csv(header: list[str], rows: list[list[Any]]) -> str:
    import csv
    import io

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


_RF_UNITS = ["rf_h", "rf_w", "rf_min_h", "rf_min_w", "rf_period_h", "rf_period_w", *_RF[2:]]
_CENTRE_UNIT = ["unit_h", "unit_w", "window_h_first", "window_h_last", "window_w_first", "window_w_last",
                "inside_h", "inside_w", "erf50_h", "erf50_w", "erf95_h", "erf95_w"]


def _rf_unit_cells(f: Field) -> list[Any]:
    """The receptive field with the smallest unit window and the period (empty: the windows never repeat)."""
    return [*f.size, *f.smallest, *("" if p is None else p for p in f.period), *f.stride, *f.padding, *f.centre]


def _unit_cells(o: OutputRow) -> list[Any]:
    c = o.unit
    window = [v for w in c.window for v in w] if c.window is not None else ["", "", "", ""]
    return [*c.position, *window, *c.inside, *(c.erf50 or ("", "")), *(c.erf95 or ("", ""))]


def rf_csv(r: Report) -> str:
    """One row per layer, named block (type ``block:KIND``) and output (type ``output``): receptive field per
    axis (largest and smallest unit window, period); the outputs' rows also have their centre unit's window,
    the pixels of it inside the input and its effective receptive field."""
    header = ["model", "name", "type", *_SHAPE, *_RF_UNITS, "rf_full_h", "rf_full_w", "notes", *_CENTRE_UNIT]
    blank = [""] * len(_CENTRE_UNIT)
    rows = [[r.name, x.name, x.type, *x.output_shape, *_rf_unit_cells(x.rf), *x.rf_full.size, "; ".join(x.notes),
             *blank] for x in r.layers]
    rows += [[r.name, b.name, "block:" + b.type, *b.output_shape, *_rf_unit_cells(b.rf), *b.rf_full.size, "", *blank]
             for b in r.blocks]
    rows += [[r.name, o.name, "output", *o.shape, *_rf_unit_cells(o.rf), *o.rf_full.size, "", *_unit_cells(o)]
             for o in r.outputs]
    return _csv(header, rows)


def compare_csv(c: Comparison) -> str:
    """One row per alternative (named by its label), with ratios against the first."""
    header = ["name", *BUCKETS, "flops", *_SHAPE, *_RF, "weight_layers", "nonlinearities",
              "params_ratio", "macs_ratio", "flops_ratio"]
    rows = [[label, *(getattr(r.total, k) for k in BUCKETS), r.flops, *r.output_shape, *_rf_cells(r.rf),
             r.weight_layers, r.nonlinearities, *(c.ratio(r, m) for m in ("params", "macs", "flops"))]
            for r, label in zip(c.alternatives, c.labels, strict=True)]
    return _csv(header, rows)


def depth_csv(r: Report, depth: int) -> str:
    """``show --depth N --format csv``: one row per block at that depth, with every cost bucket."""
    from convcalc.metrics.blocks import at_depth

    rows = [[r.name, x.name, x.type, x.layers, *(getattr(x.cost, k) for k in BUCKETS), x.cost.flops,
             x.activations] for x in at_depth(r, depth)]
    return _csv(["model", "name", "type", "layers", *BUCKETS, "flops", "activations"], rows)


def zoo_csv(reports: Sequence[Totals]) -> str:
    """``zoo --format csv``: one row per bundled model."""
    rows = [[r.name, *r.input_shape, r.params, r.macs, r.flops, r.description] for r in reports]
    return _csv(["name", "in_c", "in_h", "in_w", "params", "macs", "flops", "description"], rows)


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


def footprint_json(items: list[tuple[str, Footprint]]) -> str:
    """Footprints of the centre unit (``unit`` [h, w]) with exact per-axis counts, the 2-D map (or null) and the
    50%/95% effective RF."""
    half, most = Fraction(1, 2), Fraction(95, 100)
    out = []
    for model, fp in items:
        out.append({
            "model": model, "layer": fp.layer, "block": fp.block or None, "unit": list(fp.unit),
            "data_dependent": fp.data_dependent,
            "rf": [len(a.counts) for a in fp.axes], "start": [a.start for a in fp.axes],
            "paths": [a.paths for a in fp.axes], "holes": [a.holes for a in fp.axes],
            "erf50": list(fp.erf(half)), "erf95": list(fp.erf(most)),
            "counts": {"h": list(fp.axes[0].counts), "w": list(fp.axes[1].counts)},
            "map": None if fp.map is None else [list(row) for row in fp.map],
        })
    return dumps({"schema_version": SCHEMA_VERSION, "footprints": out})


def footprint_csv(items: list[tuple[str, Footprint]]) -> str:
    """One row per axis and input position: model, layer, axis, position, paths."""
    rows = [[model, fp.layer, axis, a.start + i, c]
            for model, fp in items for axis, a in zip("hw", fp.axes, strict=True) for i, c in enumerate(a.counts)]
    return _csv(["model", "layer", "axis", "position", "paths"], rows)
