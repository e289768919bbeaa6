"""Output of ``convcalc diff`` for people and CI systems, as plain strings (never Rich): JSON, CSV,
Markdown, GitHub workflow commands and JUnit XML; plus neutral :class:`~convcalc.outputs.views.Table` objects for
the terminal. One spec file or many (a :class:`~convcalc.ci.diff.DiffSet`), in one shape.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from fractions import Fraction
from typing import Any

from convcalc.ci.diff import GATED, LAYER_METRICS, TOTALS, Delta, DiffRun, DiffSet, Growth, LayerDiff
from convcalc.errors import Location
from convcalc.metrics.analysis import Field
from convcalc.outputs.ci_render import (
    _case,
    _csv,
    _diag_dict,
    _dumps,
    _gh_errors,
    _junit,
    _md,
    _num,
    _outcome_el,
    _pct,
    _suite,
    _x,
    gh_command,
    value_text,
)
from convcalc.outputs.render import SCHEMA_VERSION
from convcalc.outputs.views import Table, shape
from convcalc.units import human, pair, percent, percent_apart

Num = int | Fraction


_LABELS = {"params": "params", "macs": "MACs", "flops": "FLOPs", "activations": "activations",
           "peak_activation": "peak activation"}


def _signed(v: Num | None, exact: bool = False) -> str:
    if v is None:
        return ""
    if not isinstance(v, int):
        return ("+" if v > 0 else "") + str(v)
    return ("+" if v > 0 else "") + human(v, exact)


def delta_text(d: Delta, exact: bool = False) -> str:
    """``+66 (+5.3%)``; ``0``; ``+1.2K (new)`` when the base is 0."""
    change = d.change
    if change is None:
        return ""
    if change == 0:
        return "0"
    pct = d.percent
    return _signed(change, exact) + (f" ({percent(pct)})" if pct is not None else " (from 0)")


def _side(v: Num | None, exact: bool = False) -> str:
    return "" if v is None else value_text("count", v, exact)


def _now(d: Delta, exact: bool = False) -> str:
    """The head value, or the base value of something removed."""
    return _side(d.head if d.head is not None else d.base, exact)


def _rf_change(base: Field | None, head: Field | None, attr: str = "size") -> str:
    b = pair(getattr(base, attr)) if base else None
    h = pair(getattr(head, attr)) if head else None
    if b is None or h is None or b == h:
        return h or b or ""
    return f"{b} → {h}"


def growth_message(run: DiffRun, g: Growth, files: bool = True) -> str:
    """``net: params grew by 5.2% (100 → 105.2), more than the 5% allowed``: the growth is shown with as many
    decimals as it takes not to read as the limit itself."""
    d = g.delta
    assert d.base is not None and d.head is not None
    grew = "from 0" if d.percent is None else f"by {percent_apart(d.percent, g.limit)}"
    return (f"{g.model}: {_LABELS[g.metric]} grew {grew} ({d.base:,} → {d.head:,}), more than the "
            f"{_limit(g.limit)} allowed" + (f" ({run.base} → {run.head})" if files else ""))


def _limit(p: Fraction) -> str:
    """The ``--fail-above`` limit as given: exact (``5%``, ``0.25%``, ``1/3`` as ``0.333…%`` digits)."""
    if p.denominator == 1:
        return f"{p.numerator}%"
    for digits in range(1, 13):
        if round(p * 10**digits) == p * 10**digits:
            return f"{float(p):.{digits}f}%"
    return percent_apart(p, p + 1)


def _verdict(ds: DiffSet) -> str:
    errors = f"; {len(ds.errors)} file(s) could not be read" if ds.errors else ""
    if ds.fail_above is None:
        return "no growth limit (--fail-above) given" + errors
    limit = _limit(ds.fail_above)
    if ds.exceeded:
        return f"{len(ds.exceeded)} total(s) grew by more than {limit}" + errors
    return f"no params, MACs or FLOPs total grew by more than {limit}" + errors


def _file_title(f: DiffRun) -> str:
    """A file of a many-file diff: its path, and whether it is new or deleted."""
    if not f.base_present:
        return f"{f.head} (new)"
    if not f.head_present:
        return f"{f.base} (deleted)"
    return f.head


def diff_tables(ds: DiffSet, exact: bool = False, all_layers: bool = False) -> list[Table]:
    """A table per model (of each file): changed layers (every layer with ``all_layers``), then the totals."""
    tables = []
    many = len(ds.files) > 1
    for run, m in ds.models:
        rows = []
        for x in m.layers:
            if x.status == "same" and not all_layers:
                continue
            p, mac = x.delta("params"), x.delta("macs")
            rows.append((x.name, x.status, x.type, _now(p, exact), delta_text(p, exact), _now(mac, exact),
                         delta_text(mac, exact), _rf_change(*x.rf())))
        tp, tm = m.total("params"), m.total("macs")
        footer = ("total", m.status, "", _now(tp, exact), delta_text(tp, exact), _now(tm, exact), delta_text(tm, exact),
                  _rf_change(m.base.rf if m.base else None, m.head.rf if m.head else None))
        notes = [f"{run.base} → {run.head}"]
        for metric in ("flops", "activations", "peak_activation"):
            d = m.total(metric)
            if d.base is not None and d.head is not None:
                notes.append(f"{_LABELS[metric]}: {_side(d.base, exact)} → {_side(d.head, exact)} "
                             f"({delta_text(d, exact) or 'n/a'})")
        if m.base and m.head:
            notes.append(f"output {shape(m.base.output_shape)} → {shape(m.head.output_shape)}; output stride "
                         f"{_rf_change(m.base.rf, m.head.rf, 'stride')}")
        hidden = sum(x.status == "same" for x in m.layers)
        if hidden and not all_layers:
            notes.append(f"{hidden} unchanged layer(s) not shown (--all shows them)")
        notes += [growth_message(run, g, files=False) for g in run.exceeded if g.model == m.name]
        title = f"diff: {_file_title(run) + ': ' if many else ''}{m.name}"
        tables.append(Table(title, ("layer", "change", "type", "params", "Δ params", "MACs", "Δ MACs", "RF"),
                            rows, footer, notes, frozenset({3, 4, 5, 6}), optional=(2, 3, 5),
                            wrap=frozenset({4, 6, 7})))
    return tables


def _delta_dict(d: Delta) -> dict[str, Any]:
    return {"base": None if d.base is None else _num(d.base), "head": None if d.head is None else _num(d.head),
            "delta": None if d.change is None else _num(d.change), "percent": _pct(d.percent)}


def _field_dict(f: Field | None) -> dict[str, Any] | None:
    return None if f is None else {"rf": [_num(v) for v in f.size], "stride": [_num(v) for v in f.stride]}


def _layer_diff_dict(x: LayerDiff) -> dict[str, Any]:
    b, h = x.rf()
    return {"name": x.name, "status": x.status, "type": x.type,
            **{metric: _delta_dict(x.delta(metric)) for metric in LAYER_METRICS},
            "base": _field_dict(b), "head": _field_dict(h),
            "output_shape": {"base": list(x.base.output_shape) if x.base else None,
                             "head": list(x.head.output_shape) if x.head else None}}


def _model_dict(run: DiffRun, m: Any) -> dict[str, Any]:
    return {
        "name": m.name, "status": m.status, "file": {"base": run.base, "head": run.head},
        "totals": {metric: _delta_dict(m.total(metric)) for metric in TOTALS},
        "base": _field_dict(m.base.rf if m.base else None), "head": _field_dict(m.head.rf if m.head else None),
        "output_shape": {"base": list(m.base.output_shape) if m.base else None,
                         "head": list(m.head.output_shape) if m.head else None},
        "layers": [_layer_diff_dict(x) for x in m.layers],
    }


def diff_json(ds: DiffSet) -> str:
    """``{"schema_version", "command": "diff", "base", "head", "fail_above_percent", "exit_code", "files",
    "models", "exceeded"}``: ``files`` has one entry per spec file (``base``, ``head``, ``status``:
    changed, same, added, removed or error, with ``errors``); ``models`` every model of every file, each with
    its ``file``, ``totals`` (base, head, delta, percent), receptive field and every layer."""
    return _dumps({
        "schema_version": SCHEMA_VERSION, "command": "diff", "base": ds.base, "head": ds.head,
        "fail_above_percent": None if ds.fail_above is None else _num(ds.fail_above), "exit_code": ds.exit_code,
        "files": [{"base": f.base, "head": f.head, "status": f.status,
                   "errors": [_diag_dict(d) for d in f.error.diagnostics] if f.error else []} for f in ds.files],
        "models": [_model_dict(f, m) for f, m in ds.models],
        "exceeded": [{"file": f.head, "model": g.model, "metric": g.metric, **_delta_dict(g.delta)}
                     for f, g in ds.exceeded],
    })


def diff_csv(ds: DiffSet) -> str:
    """One row per layer and one ``total`` row per model (of each file, named in ``file``: the head's path,
    the base's for a deleted one): base, head and delta of each metric, and the RF."""
    header = ["file", "model", "row", "layer", "status", "type"]
    for metric in LAYER_METRICS:
        header += [f"base_{metric}", f"head_{metric}", f"delta_{metric}"]
    header += ["base_rf_h", "base_rf_w", "head_rf_h", "head_rf_w"]

    def cells(deltas: list[Delta], b: Field | None, h: Field | None) -> list[Any]:
        out: list[Any] = []
        for d in deltas:
            out += ["" if v is None else _num(v) for v in (d.base, d.head, d.change)]
        out += [_num(v) for v in b.size] if b else ["", ""]
        return out + ([_num(v) for v in h.size] if h else ["", ""])

    rows: list[list[Any]] = []
    for run, m in ds.models:
        file = run.head if run.head_present else run.base
        for x in m.layers:
            rows.append([file, m.name, "layer", x.name, x.status, x.type,
                         *cells([x.delta(k) for k in LAYER_METRICS], *x.rf())])
        rows.append([file, m.name, "total", "", m.status, "", *cells([m.total(k) for k in LAYER_METRICS],
                                                               m.base.rf if m.base else None,
                                                               m.head.rf if m.head else None)])
    return _csv(header, rows)


def diff_markdown(ds: DiffSet, all_layers: bool = False) -> str:
    """A PR comment / job summary: verdict, totals per model (of each file), layer changes folded."""
    icon = "❌" if ds.exceeded or ds.errors else "✅" if ds.fail_above is not None else "ℹ️"
    lines = [f"## convcalc diff: `{_md(ds.base)}` → `{_md(ds.head)}`", "", f"{icon} **{_md(_verdict(ds))}**", ""]
    many = len(ds.files) > 1
    lines += [f"- {_md(growth_message(f, g, files=many))}" for f, g in ds.exceeded]
    lines += [f"- `{_md(file)}`: could not be read: {_md(exc.diagnostics[0].render() if exc.diagnostics else '')}"
              for file, exc in ds.errors]
    if ds.exceeded or ds.errors:
        lines.append("")
    if many:
        lines += ["| file | change |", "|---|---|"] + [f"| `{_md(_file_title(f))}` | {f.status} |" for f in ds.files]
        lines.append("")
    for run, m in ds.models:
        lines += [f"### {_md(_file_title(run)) + ': ' if many else ''}{_md(m.name)} ({m.status})", "",
                  "| total | base | head | Δ | Δ% |", "|---|---:|---:|---:|---:|"]
        for metric in TOTALS:
            d = m.total(metric)
            lines.append(f"| {_LABELS[metric]} | {'' if d.base is None else f'{d.base:,}'} | "
                         f"{'' if d.head is None else f'{d.head:,}'} | "
                         f"{'' if d.change is None else f'{d.change:+,}' if d.change else '0'} | "
                         f"{percent(d.percent) if d.change else ''} |")
        b, h = (m.base.rf if m.base else None), (m.head.rf if m.head else None)
        lines.append(f"| RF | {pair(b.size) if b else ''} | {pair(h.size) if h else ''} | | |")
        lines.append(f"| output stride | {pair(b.stride) if b else ''} | {pair(h.stride) if h else ''} | | |")
        lines.append("")
        shown = m.layers if all_layers else tuple(m.changed_layers)
        if shown:
            lines += [f"<details><summary>{len(m.changed_layers)} layer change(s)</summary>", "",
                      "| layer | change | type | params | Δ params | MACs | Δ MACs | RF |",
                      "|---|---|---|---:|---:|---:|---:|---|"]
            for x in shown:
                p, mac = x.delta("params"), x.delta("macs")
                lines.append(f"| `{_md(x.name)}` | {x.status} | {_md(x.type)} | {_now(p, True)} | "
                             f"{delta_text(p, True)} | {_now(mac, True)} | {delta_text(mac, True)} | "
                             f"{_rf_change(*x.rf())} |")
            lines += ["", "</details>", ""]
    return "\n".join(lines)


def diff_github(ds: DiffSet) -> str:
    """``::error`` at the head spec for each total grown past ``--fail-above``, one per problem of an unreadable
    file, a ``::notice`` per model."""
    out = ""
    many = len(ds.files) > 1
    for f, g in ds.exceeded:
        m = next(x for x in f.models if x.name == g.model)
        out += gh_command("error", growth_message(f, g), m.location or Location(f.head, 1, 1),
                          f"convcalc diff: {_LABELS[g.metric]} grew")
    out += _gh_errors(ds.errors, "convcalc diff: cannot read")
    for f, m in ds.models:
        parts = [f"{_LABELS[k]} {delta_text(m.total(k), True) or m.status}" for k in GATED]
        where = f"{_file_title(f)}: " if many else ""
        out += gh_command("notice", f"{where}{m.name} ({m.status}): " + ", ".join(parts), None, "convcalc diff")
    return out + gh_command("error" if ds.exceeded or ds.errors else "notice", _verdict(ds), None, "convcalc diff")


def diff_junit(ds: DiffSet) -> str:
    """JUnit XML: a test suite per file, a test case per model and gated total; growth past ``--fail-above``
    is a failure, an unreadable file an error."""
    suites = []
    for f in ds.files:
        suite = _suite(f"{f.base} → {f.head}")
        if f.error is not None:
            d = f.error.diagnostics[0] if f.error.diagnostics else None
            case = _case(suite, "convcalc.ci.diff", "load", d.location if d else None)
            _outcome_el(suite, case, "error", d.render() if d else "error", type(f.error).__name__, f.error.render())
        exceeded = {(g.model, g.metric): g for g in f.exceeded}
        for m in f.models:
            for metric in GATED:
                case = _case(suite, "convcalc.ci.diff", f"{m.name}: {_LABELS[metric]} growth", m.location)
                if m.base is None or m.head is None:
                    _outcome_el(suite, case, "skipped", f"model {m.status}", "ModelAddedOrRemoved")
                elif (m.name, metric) in exceeded:
                    _outcome_el(suite, case, "failure", growth_message(f, exceeded[(m.name, metric)]),
                                "GrowthExceeded")
                else:
                    ET.SubElement(case, "system-out").text = _x(f"{_LABELS[metric]}: "
                                                                f"{delta_text(m.total(metric), True)}")
        suites.append(suite)
    return _junit(suites, "convcalc diff")


def diff_output(ds: DiffSet, fmt: str, exact: bool = False, all_layers: bool = False) -> str | list[Table]:
    """The ``convcalc diff`` output in a format: Tables for ``table``, else text."""
    if fmt == "table":
        return diff_tables(ds, exact, all_layers)
    if fmt == "markdown":
        return diff_markdown(ds, all_layers)
    render = {"json": diff_json, "csv": diff_csv, "github": diff_github, "junit": diff_junit}[fmt]
    return render(ds)
