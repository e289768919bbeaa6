"""Output of ``convcalc check`` and ``convcalc diff`` for people and CI systems, as plain strings (never Rich):
JSON, CSV, Markdown (PR comment / job summary), GitHub workflow commands and JUnit XML; plus neutral
:class:`~convcalc.views.Table` objects for the terminal.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

from convcalc.analysis import Field
from convcalc.budget import CheckRun, ModelResult, Outcome, SpecResult
from convcalc.diff import GATED, LAYER_METRICS, TOTALS, Delta, DiffRun, Growth, LayerDiff
from convcalc.errors import ConvcalcError, Diagnostic, Location, format_path
from convcalc.render import SCHEMA_VERSION
from convcalc.units import human, human_bytes, pair, percent
from convcalc.views import Table, shape

Num = int | Fraction


# --- shared helpers ---------------------------------------------------------------------------------------------


def _num(v: Num) -> int | float:
    """An exact integer for JSON, or a float for a true fraction."""
    return v if isinstance(v, int) else int(v) if v.denominator == 1 else float(v)


def _pct(p: Fraction | None) -> float | None:
    return None if p is None else round(float(p), 4)


def value_text(kind: str, v: Num, exact: bool = False) -> str:
    """A metric value for display: counts in SI (or exact), bytes in binary units, RF sizes as they are."""
    if kind == "pair" or not isinstance(v, int):
        return str(v)
    return human_bytes(v, exact) if kind == "bytes" else human(v, exact)


def exact_text(kind: str, v: Num) -> str:
    """A value for messages: the exact integer, with the SI / binary form when that reads easier."""
    if kind == "pair" or not isinstance(v, int):
        return str(v)
    if kind == "bytes":
        return f"{v:,} B" + (f" ({human_bytes(v)})" if abs(v) >= 1024 else "")
    return f"{v:,}" + (f" ({human(v)})" if abs(v) >= 10_000 else "")


def violation_message(spec: str, model: str, o: Outcome) -> str:
    """``a.yaml (m): params is 2,736, over max_params = 2,000 by 36.8% (from the spec)``."""
    kind = o.metric.kind
    metric = o.metric.metric + (f"[{o.axis}]" if o.axis else "")
    side = "over" if o.metric.bound == "max" else "under"
    by = "" if o.overshoot is None else f" by {percent(o.overshoot, signed=False)}"
    origin = {"spec": "the spec", "budgets": "the budgets file", "cli": "the command line"}[o.source]
    return (f"{spec} ({model}): {metric} is {exact_text(kind, o.actual)}, {side} {o.key} = "
            f"{exact_text(kind, o.limit)}{by} (limit from {origin})")


def diagnostics_text(errors: Iterable[tuple[str, ConvcalcError]], warnings: Sequence[Diagnostic] = ()) -> str:
    """Located problems for people (stderr)."""
    lines = [exc.render() for _, exc in errors]
    lines += ["warning: " + w.render() for w in warnings]
    return "".join(line + "\n" for line in lines)


def _dumps(obj: Any) -> str:
    return json.dumps(obj, indent=2, ensure_ascii=False) + "\n"


def _csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def _loc_dict(loc: Location) -> dict[str, Any]:
    return {"file": loc.file, "line": loc.line, "col": loc.col}


def _diag_dict(d: Diagnostic) -> dict[str, Any]:
    return {**_loc_dict(d.location), "path": format_path(d.path), "message": d.message, "hint": d.hint}


def _md(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", " ")


# --- GitHub workflow commands -----------------------------------------------------------------------------------


def gh_data(s: str) -> str:
    """Escape a workflow-command message: ``%``, ``\\r``, ``\\n``."""
    return s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def gh_property(s: str) -> str:
    """Escape a workflow-command property value: as messages, plus ``:`` and ``,``."""
    return gh_data(s).replace(":", "%3A").replace(",", "%2C")


def workspace_path(file: str) -> str:
    """An absolute path inside the workspace (``$GITHUB_WORKSPACE``, else the current directory) made
    relative to it, as GitHub expects for annotations; anything else unchanged."""
    if not os.path.isabs(file):
        return file
    try:
        rel = os.path.relpath(file, os.environ.get("GITHUB_WORKSPACE") or os.getcwd())
    except ValueError:  # another drive on Windows
        return file
    return file if rel.startswith("..") else Path(rel).as_posix()


def gh_command(level: str, message: str, loc: Location | None = None, title: str = "") -> str:
    """``::error file=…,line=…,col=…,title=…::message``."""
    props = []
    if loc is not None:
        props += [f"file={gh_property(workspace_path(loc.file))}", f"line={loc.line}", f"col={loc.col}"]
    if title:
        props.append(f"title={gh_property(title)}")
    return f"::{level}{' ' + ','.join(props) if props else ''}::{gh_data(message) or '-'}\n"


def _gh_errors(errors: Iterable[tuple[str, ConvcalcError]], title: str) -> str:
    out = ""
    for _, exc in errors:
        for d in exc.diagnostics:
            message = f"{format_path(d.path)}: {d.message}" + (f" (hint: {d.hint})" if d.hint else "")
            out += gh_command("error", message, d.location, title)
        hidden = exc.total - len(exc.diagnostics)
        if hidden > 0 and exc.diagnostics:
            out += gh_command("error", f"... and {hidden} more error(s)", exc.diagnostics[0].location, title)
    return out


# --- JUnit XML --------------------------------------------------------------------------------------------------

_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _x(s: str) -> str:
    """Text that XML 1.0 can hold (control characters dropped)."""
    return _XML_INVALID.sub("", s)


def _junit(suites: Sequence[ET.Element], name: str) -> str:
    root = ET.Element("testsuites", name=name)
    for key in ("tests", "failures", "errors", "skipped"):
        root.set(key, str(sum(int(s.get(key, "0")) for s in suites)))
    root.extend(suites)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _suite(name: str) -> ET.Element:
    return ET.Element("testsuite", name=_x(name), tests="0", failures="0", errors="0", skipped="0")


def _case(suite: ET.Element, classname: str, name: str, loc: Location | None = None) -> ET.Element:
    case = ET.SubElement(suite, "testcase", classname=_x(classname), name=_x(name))
    if loc is not None:
        case.set("file", _x(loc.file))
        case.set("line", str(loc.line))
    suite.set("tests", str(int(suite.get("tests", "0")) + 1))
    return case


def _outcome_el(suite: ET.Element, case: ET.Element, tag: str, message: str, kind: str, text: str = "") -> None:
    el = ET.SubElement(case, tag, message=_x(message), type=kind)
    if text:
        el.text = _x(text)
    counter = {"failure": "failures", "error": "errors", "skipped": "skipped"}[tag]
    suite.set(counter, str(int(suite.get(counter, "0")) + 1))


# --- check ------------------------------------------------------------------------------------------------------


def _status_word(run: CheckRun, m: ModelResult) -> str:
    if m.status == "no_budget":
        return "FAIL (no budget)" if run.require_budget else "no budget"
    return "FAIL" if m.status == "fail" else "ok"


def summary_line(run: CheckRun) -> str:
    """``14 limits checked on 5 models in 3 specs: 1 exceeded, 13 within budget, 1 file could not be checked``."""
    c = run.counts()
    parts = [f"{c['failed']} exceeded", f"{c['passed']} within budget"]
    if c["unbudgeted"]:
        parts.append(f"{_count(c['unbudgeted'], 'model')} without a budget")
    if c["errors"]:
        parts.append(f"{_count(c['errors'], 'file')} could not be checked")
    return (f"{_count(c['checks'], 'limit')} checked on {_count(c['models'], 'model')} in "
            f"{_count(c['specs'], 'spec')}: " + ", ".join(parts))


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


#: Above this many rows, the terminal table keeps only what needs attention (csv and json keep everything).
TABLE_ROWS = 200


def check_table(run: CheckRun, exact: bool = False, limit: int | None = TABLE_ROWS) -> Table:
    """Every limit of every model: limit, actual, margin (negative = headroom), status. With more than
    ``limit`` rows, only exceeded limits, broken files and unbudgeted models are listed."""
    rows: list[tuple[str, ...]] = []
    for s in run.specs:
        if s.error is not None:
            rows.append((s.file, "", "", "", "", "", "ERROR"))
        for m in s.models:
            if not m.outcomes:
                rows.append((s.file, m.name, "-", "", "", "", _status_word(run, m)))
            for o in m.outcomes:
                k = o.metric.kind
                rows.append((s.file, m.name, o.label, value_text(k, o.limit, exact), value_text(k, o.actual, exact),
                             percent(o.overshoot), "ok" if o.passed else "FAIL"))
    notes = [summary_line(run), "margin: how far past the limit (negative: headroom left), in percent of it"]
    if limit is not None and len(rows) > limit:
        kept = [r for r in rows if r[-1] != "ok"]
        notes.insert(1, f"{len(rows) - len(kept)} limits within budget not listed (--format csv or json lists all)")
        rows = kept
    if any(s.error for s in run.specs) or any(b.errors for b in run.budget_files):
        notes.append("files that could not be checked are explained on stderr")
    return Table("check", ("spec", "model", "budget", "limit", "actual", "margin", "status"), rows, None, notes,
                 frozenset({3, 4, 5}))


def _outcome_dict(o: Outcome) -> dict[str, Any]:
    return {"key": o.key, "metric": o.metric.metric, "axis": o.axis, "bound": o.metric.bound,
            "limit": _num(o.limit), "actual": _num(o.actual), "passed": o.passed,
            "overshoot_percent": _pct(o.overshoot), "source": o.source, "location": _loc_dict(o.location)}


def _model_dict(run: CheckRun, m: ModelResult) -> dict[str, Any]:
    from convcalc.budget import BYTES_PER_ELEMENT, field_at

    r = m.report
    f = field_at(r, m.rf_at) or r.rf
    status = "fail" if run.unbudgeted_fails(m) else m.status
    return {"name": m.name, "status": status, "params": r.params, "macs": r.macs, "flops": r.flops,
            "activations": r.activations, "activation_bytes": r.activations * BYTES_PER_ELEMENT,
            "peak_activation": r.peak_activation, "peak_activation_bytes": r.peak_activation * BYTES_PER_ELEMENT,
            "output_shape": list(r.output_shape), "rf_at": m.rf_at, "rf": [_num(v) for v in f.size],
            "output_stride": [_num(v) for v in f.stride], "budgets": [_outcome_dict(o) for o in m.outcomes]}


def _spec_dict(run: CheckRun, s: SpecResult) -> dict[str, Any]:
    return {"file": s.file, "status": s.status,
            "errors": [_diag_dict(d) for d in s.error.diagnostics] if s.error else [],
            "models": [_model_dict(run, m) for m in s.models]}


def check_json(run: CheckRun) -> str:
    """``{"schema_version", "command": "check", "exit_code", "summary", "budget_files", "specs", "warnings"}``."""
    return _dumps({
        "schema_version": SCHEMA_VERSION, "command": "check", "exit_code": run.exit_code, "summary": run.counts(),
        "budget_files": [{"file": b.file, "errors": [_diag_dict(d) for d in b.errors.diagnostics] if b.errors else []}
                         for b in run.budget_files],
        "specs": [_spec_dict(run, s) for s in run.specs],
        "warnings": [_diag_dict(w) for w in run.warnings],
    })


def check_csv(run: CheckRun) -> str:
    """One row per checked limit (and per unbudgeted model or unreadable file), exact integers."""
    header = ["file", "model", "status", "budget", "metric", "axis", "bound", "limit", "actual", "overshoot_percent",
              "source", "line", "message"]
    rows: list[list[Any]] = []
    for file, exc in run.errors:
        rows.append([file, "", "error", "", "", "", "", "", "", "", "", exc.diagnostics[0].location.line
                     if exc.diagnostics else "", exc.render()])
    for s, m in run.models:
        if not m.outcomes:
            rows.append([s.file, m.name, "fail" if run.unbudgeted_fails(m) else "no_budget"] + [""] * 10)
        for o in m.outcomes:
            rows.append([s.file, m.name, "pass" if o.passed else "fail", o.key, o.metric.metric, o.axis or "",
                         o.metric.bound, _num(o.limit), _num(o.actual), _pct(o.overshoot), o.source, o.location.line,
                         "" if o.passed else violation_message(s.file, m.name, o)])
    return _csv(header, rows)


def check_markdown(run: CheckRun) -> str:
    """A PR comment / job summary: verdict, violations, unreadable files, then every result folded."""
    code = run.exit_code
    icon = {0: "✅", 1: "❌", 2: "⚠️"}[code]
    verdict = {0: "all budgets hold", 1: "budget exceeded", 2: "some files could not be checked"}[code]
    lines = ["## convcalc check", "", f"{icon} **{verdict}**: {_md(summary_line(run))}", ""]
    fails = [(s, m, o) for s, m in run.models for o in m.violations]
    if fails:
        lines += ["| spec | model | budget | limit | actual | over |", "|---|---|---|---:|---:|---:|"]
        for s, m, o in fails:
            k = o.metric.kind
            lines.append(f"| `{_md(s.file)}` | {_md(m.name)} | {o.label} | {_md(exact_text(k, o.limit))} | "
                         f"{_md(exact_text(k, o.actual))} | {percent(o.overshoot)} |")
        lines.append("")
    unbudgeted = [(s, m) for s, m in run.models if run.unbudgeted_fails(m)]
    if unbudgeted:
        lines += ["**Models without a budget** (`--require-budget`):", ""]
        lines += [f"- `{_md(s.file)}`: {_md(m.name)}" for s, m in unbudgeted]
        lines.append("")
    if run.errors:
        lines += ["**Could not be checked:**", "", "```text", diagnostics_text(run.errors).rstrip("\n"), "```", ""]
    if run.warnings:
        lines += ["**Warnings:**", ""] + [f"- {_md(w.render())}" for w in run.warnings] + [""]
    t = check_table(run, exact=True, limit=None)
    if t.rows:
        lines += [f"<details><summary>All results ({len(t.rows)} rows)</summary>", "",
                  "| " + " | ".join(t.columns) + " |",
                  "|" + "|".join("---:" if i in t.numeric else "---" for i in range(len(t.columns))) + "|"]
        lines += ["| " + " | ".join(_md(c) for c in row) + " |" for row in t.rows]
        lines += ["", "</details>", ""]
    return "\n".join(lines)


def check_github(run: CheckRun) -> str:
    """GitHub Actions workflow commands: one ``::error`` per exceeded limit at the line of the limit, one
    per problem in an unreadable file, ``::warning`` for warnings, and a closing ``::notice``."""
    out = ""
    for s, m in run.models:
        for o in m.violations:
            out += gh_command("error", violation_message(s.file, m.name, o), o.location,
                              f"convcalc check: {o.label} {'exceeded' if o.metric.bound == 'max' else 'not reached'}")
        if run.unbudgeted_fails(m):
            out += gh_command("error", f"{s.file} ({m.name}): no budget (--require-budget)",
                              Location(s.file, 1, 1), "convcalc check: no budget")
    out += _gh_errors(run.errors, "convcalc check: cannot check")
    for w in run.warnings:
        out += gh_command("warning", w.render(), w.location, "convcalc check")
    level = "notice" if run.exit_code == 0 else "error"
    return out + gh_command(level, summary_line(run), None, "convcalc check")


def check_junit(run: CheckRun) -> str:
    """JUnit XML: a test suite per file, a test case per model and limit (per axis); exceeded limits are
    failures, unreadable files errors, models without a budget skipped (failures with --require-budget)."""
    suites = []
    for b in run.budget_files:
        if b.errors is not None:
            suite = _suite(b.file)
            case = _case(suite, b.file, "budgets file", b.errors.diagnostics[0].location if b.errors.diagnostics
                         else None)
            _outcome_el(suite, case, "error", b.errors.diagnostics[0].render() if b.errors.diagnostics else "error",
                        "BudgetsFileError", b.errors.render())
            suites.append(suite)
    for s in run.specs:
        suite = _suite(s.file)
        if s.error is not None:
            d = s.error.diagnostics[0] if s.error.diagnostics else None
            case = _case(suite, s.file, "load", d.location if d else None)
            _outcome_el(suite, case, "error", d.render() if d else "error", type(s.error).__name__, s.error.render())
        for m in s.models:
            if not m.outcomes:
                case = _case(suite, s.file, f"{m.name}: budget")
                if run.require_budget:
                    _outcome_el(suite, case, "failure", "no budget (--require-budget)", "NoBudget")
                else:
                    _outcome_el(suite, case, "skipped", "no budget", "NoBudget")
            for o in m.outcomes:
                case = _case(suite, s.file, f"{m.name}: {o.label}", o.location)
                if not o.passed:
                    _outcome_el(suite, case, "failure", violation_message(s.file, m.name, o), "BudgetExceeded")
        suites.append(suite)
    return _junit(suites, "convcalc check")


def check_output(run: CheckRun, fmt: str, exact: bool = False) -> str | Table:
    """The ``convcalc check`` output in a format: a Table for ``table``, else text."""
    if fmt == "table":
        return check_table(run, exact)
    render = {"json": check_json, "csv": check_csv, "markdown": check_markdown, "github": check_github,
              "junit": check_junit}[fmt]
    return render(run)


# --- diff -------------------------------------------------------------------------------------------------------

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
    d = g.delta
    assert d.base is not None and d.head is not None
    grew = "from 0" if d.percent is None else f"by {percent(d.percent, signed=False)}"
    return (f"{g.model}: {_LABELS[g.metric]} grew {grew} ({d.base:,} → {d.head:,}), more than the "
            f"{_limit(g.limit)} allowed" + (f" ({run.base} → {run.head})" if files else ""))


def _limit(p: Fraction) -> str:
    return f"{p.numerator}%" if p.denominator == 1 else percent(p, signed=False)


def _verdict(run: DiffRun) -> str:
    if run.fail_above is None:
        return "no growth limit (--fail-above) given"
    limit = _limit(run.fail_above)
    if run.exceeded:
        return f"{len(run.exceeded)} total(s) grew by more than {limit}"
    return f"no params, MACs or FLOPs total grew by more than {limit}"


def diff_tables(run: DiffRun, exact: bool = False, all_layers: bool = False) -> list[Table]:
    """A table per model: changed layers (every layer with ``all_layers``), then the totals."""
    tables = []
    for m in run.models:
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
        tables.append(Table(f"diff: {m.name}", ("layer", "change", "type", "params", "Δ params", "MACs", "Δ MACs",
                                                "RF"), rows, footer, notes, frozenset({3, 4, 5, 6})))
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


def diff_json(run: DiffRun) -> str:
    """``{"schema_version", "command": "diff", "base", "head", "fail_above_percent", "exit_code", "models",
    "exceeded"}``; per model ``totals`` (base, head, delta, percent), receptive field and every layer."""
    models = []
    for m in run.models:
        models.append({
            "name": m.name, "status": m.status,
            "totals": {metric: _delta_dict(m.total(metric)) for metric in TOTALS},
            "base": _field_dict(m.base.rf if m.base else None), "head": _field_dict(m.head.rf if m.head else None),
            "output_shape": {"base": list(m.base.output_shape) if m.base else None,
                             "head": list(m.head.output_shape) if m.head else None},
            "layers": [_layer_diff_dict(x) for x in m.layers],
        })
    return _dumps({
        "schema_version": SCHEMA_VERSION, "command": "diff", "base": run.base, "head": run.head,
        "fail_above_percent": None if run.fail_above is None else _num(run.fail_above), "exit_code": run.exit_code,
        "models": models,
        "exceeded": [{"model": g.model, "metric": g.metric, **_delta_dict(g.delta)} for g in run.exceeded],
    })


def diff_csv(run: DiffRun) -> str:
    """One row per layer and one ``total`` row per model: base, head and delta of each metric, and the RF."""
    header = ["model", "row", "layer", "status", "type"]
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
    for m in run.models:
        for x in m.layers:
            rows.append([m.name, "layer", x.name, x.status, x.type,
                         *cells([x.delta(k) for k in LAYER_METRICS], *x.rf())])
        rows.append([m.name, "total", "", m.status, "", *cells([m.total(k) for k in LAYER_METRICS],
                                                               m.base.rf if m.base else None,
                                                               m.head.rf if m.head else None)])
    return _csv(header, rows)


def diff_markdown(run: DiffRun, all_layers: bool = False) -> str:
    """A PR comment / job summary: verdict, totals per model, layer changes folded."""
    icon = "❌" if run.exceeded else "✅" if run.fail_above is not None else "ℹ️"
    lines = [f"## convcalc diff: `{_md(run.base)}` → `{_md(run.head)}`", "", f"{icon} **{_md(_verdict(run))}**", ""]
    lines += [f"- {_md(growth_message(run, g, files=False))}" for g in run.exceeded]
    if run.exceeded:
        lines.append("")
    for m in run.models:
        lines += [f"### {_md(m.name)} ({m.status})", "",
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


def diff_github(run: DiffRun) -> str:
    """``::error`` at the head spec for each total grown past ``--fail-above``, a ``::notice`` per model."""
    out = ""
    for g in run.exceeded:
        m = next(x for x in run.models if x.name == g.model)
        out += gh_command("error", growth_message(run, g), m.location or Location(run.head, 1, 1),
                          f"convcalc diff: {_LABELS[g.metric]} grew")
    for m in run.models:
        parts = [f"{_LABELS[k]} {delta_text(m.total(k), True) or m.status}" for k in GATED]
        out += gh_command("notice", f"{m.name} ({m.status}): " + ", ".join(parts), None, "convcalc diff")
    return out + gh_command("error" if run.exceeded else "notice", _verdict(run), None, "convcalc diff")


def diff_junit(run: DiffRun) -> str:
    """JUnit XML: a test case per model and gated total; growth past ``--fail-above`` is a failure."""
    suite = _suite(f"{run.base} → {run.head}")
    exceeded = {(g.model, g.metric): g for g in run.exceeded}
    for m in run.models:
        for metric in GATED:
            case = _case(suite, "convcalc.diff", f"{m.name}: {_LABELS[metric]} growth", m.location)
            if m.base is None or m.head is None:
                _outcome_el(suite, case, "skipped", f"model {m.status}", "ModelAddedOrRemoved")
            elif (m.name, metric) in exceeded:
                _outcome_el(suite, case, "failure", growth_message(run, exceeded[(m.name, metric)]), "GrowthExceeded")
            else:
                ET.SubElement(case, "system-out").text = _x(f"{_LABELS[metric]}: {delta_text(m.total(metric), True)}")
    return _junit([suite], "convcalc diff")


def diff_output(run: DiffRun, fmt: str, exact: bool = False, all_layers: bool = False) -> str | list[Table]:
    """The ``convcalc diff`` output in a format: Tables for ``table``, else text."""
    if fmt == "table":
        return diff_tables(run, exact, all_layers)
    if fmt == "markdown":
        return diff_markdown(run, all_layers)
    render = {"json": diff_json, "csv": diff_csv, "github": diff_github, "junit": diff_junit}[fmt]
    return render(run)
