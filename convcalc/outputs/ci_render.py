"""Output of ``convcalc check`` for people and CI systems, as plain strings (never Rich): JSON, CSV, Markdown
(PR comment / job summary), GitHub workflow commands and JUnit XML, plus a neutral
:class:`~convcalc.outputs.views.Table`; and the helpers these formats share with ``convcalc diff``
(:mod:`convcalc.outputs.ci_diff`).
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

from convcalc.ci.gate import CheckRun, ModelResult, SpecResult
from convcalc.ci.limits import Outcome, origin
from convcalc.errors import ConvcalcError, Diagnostic, Location, format_path
from convcalc.outputs.render import SCHEMA_VERSION
from convcalc.outputs.views import Table
from convcalc.units import human, human_bytes, human_seconds, percent

Num = int | Fraction


# --- shared helpers ---------------------------------------------------------------------------------------------


def _num(v: Num) -> int | float:
    """An exact integer for JSON, or a float for a true fraction."""
    return v if isinstance(v, int) else int(v) if v.denominator == 1 else float(v)


def _pct(p: Fraction | None) -> float | None:
    return None if p is None else round(float(p), 4)


def value_text(kind: str, v: Num, exact: bool = False) -> str:
    """A metric value for display: counts in SI (or exact), bytes in binary units, durations in s/ms/µs/ns, RF
    sizes as they are."""
    if kind == "duration":
        return human_seconds(v, exact)
    if kind == "pair" or not isinstance(v, int):
        return str(v)
    return human_bytes(v, exact) if kind == "bytes" else human(v, exact)


def exact_text(kind: str, v: Num) -> str:
    """A value for messages: the exact integer, with the SI / binary form when that reads easier."""
    if kind == "duration":
        return human_seconds(v, True)
    if kind == "pair" or not isinstance(v, int):
        return str(v)
    if kind == "bytes":
        return f"{v:,} B" + (f" ({human_bytes(v)})" if abs(v) >= 1024 else "")
    return f"{v:,}" + (f" ({human(v)})" if abs(v) >= 10_000 else "")


def violation_message(spec: str, model: str, o: Outcome) -> str:
    """``a.yaml (m): params is 2,736, over max_params = 2,000 by 36.8% (from the spec)``; an output's limit:
    ``a.yaml (m): output p3: rf[h] is 99, under min_rf = 100 …``."""
    kind = o.metric.kind
    metric = ("" if o.output is None else f"output {o.output}: ") + o.metric.metric + (f"[{o.axis}]" if o.axis else "")
    side = "over" if o.metric.bound == "max" else "under"
    by = "" if o.overshoot is None else f" by {percent(o.overshoot, signed=False)}"
    looser = "; looser limits set aside: " + ", ".join(
        f"{exact_text(kind, o.value_of(a))} from {origin(a)}" for a in o.set_aside) if o.set_aside else ""
    return (f"{spec} ({model}): {metric} is {exact_text(kind, o.actual)}, {side} {o.key} = "
            f"{exact_text(kind, o.limit)}{by} (limit from {_origin(o)}{looser})")


def _origin(o: Outcome) -> str:
    """Where the limit that applies comes from (``--max-params``, ``the spec (line 7)``, ``b.yaml:12``)."""
    return origin(o.setting) if o.setting is not None else o.source


def skipped_text(skipped: Sequence[tuple[str, str]]) -> str:
    """YAML files of checked directories that are not specs, for people (stderr)."""
    if not skipped:
        return ""
    lines = [f"skipped {file}: not a convcalc spec ({why})" for file, why in skipped]
    lines.append("  a spec has a top-level `input:`, `layers:`, `alternatives:` or `blocks:`; "
                 "--exclude GLOB leaves files out")
    return "".join(line + "\n" for line in lines)


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
            rows.append((s.file, "", "", "", "", "", "ERROR", ""))
        for m in s.models:
            if not m.outcomes:
                rows.append((s.file, m.name, "-", "", "", "", _status_word(run, m), ""))
            for o in m.outcomes:
                k = o.metric.kind
                rows.append((s.file, m.name, o.label, value_text(k, o.limit, exact), value_text(k, o.actual, exact),
                             percent(o.overshoot), "ok" if o.passed else "FAIL", _from_cell(o)))
    notes = [summary_line(run), "margin: how far past the limit (negative: headroom left), in percent of it; "
             "from: where the limit is set (the strictest of every source applies; + n: n looser ones set aside)"]
    if limit is not None and len(rows) > limit:
        kept = [r for r in rows if r[6] != "ok"]
        notes.insert(1, f"{len(rows) - len(kept)} limits within budget not listed (--format csv or json lists all)")
        rows = kept
    if any(s.error for s in run.specs) or any(b.errors for b in run.budget_files):
        notes.append("files that could not be checked are explained on stderr")
    if run.skipped:
        notes.append(f"{_count(len(run.skipped), 'YAML file')} skipped, not specs (listed on stderr)")
    return Table("check", ("spec", "model", "budget", "limit", "actual", "margin", "status", "from"), rows, None, notes,
                 frozenset({3, 4, 5}), optional=(7, 5, 0), shorten=frozenset({0, 1}))


def _from_cell(o: Outcome) -> str:
    """The table's ``from`` cell: ``spec:7``, ``specs/budgets.yaml:12`` or ``--max-params``, + looser ones."""
    s = o.setting
    where = o.source if s is None else origin(s) if s.source != "spec" else f"spec:{o.location.line}"
    return where + (f" (+{len(o.set_aside)})" if o.set_aside else "")


def _outcome_dict(o: Outcome) -> dict[str, Any]:
    return {"key": o.key, "output": o.output, "metric": o.metric.metric, "axis": o.axis, "bound": o.metric.bound,
            "limit": _num(o.limit), "actual": _num(o.actual), "passed": o.passed,
            "overshoot_percent": _pct(o.overshoot), "source": o.source, "location": _loc_dict(o.location),
            "origin": _origin(o),
            "set_aside": [{"limit": _num(o.value_of(a)), "source": a.source, "origin": origin(a),
                           "location": _loc_dict(a.location) if a.location else None} for a in o.set_aside]}


def _model_dict(run: CheckRun, m: ModelResult) -> dict[str, Any]:
    from convcalc.ci.budget import BYTES_PER_ELEMENT
    from convcalc.ci.limits import field_at

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
    """``{"schema_version", "command": "check", "exit_code", "summary", "budget_files", "specs", "skipped",
    "warnings"}``."""
    return _dumps({
        "schema_version": SCHEMA_VERSION, "command": "check", "exit_code": run.exit_code, "summary": run.counts(),
        "budget_files": [{"file": b.file, "errors": [_diag_dict(d) for d in b.errors.diagnostics] if b.errors else []}
                         for b in run.budget_files],
        "specs": [_spec_dict(run, s) for s in run.specs],
        "skipped": [{"file": f, "reason": why} for f, why in run.skipped],
        "warnings": [_diag_dict(w) for w in run.warnings],
    })


def check_csv(run: CheckRun) -> str:
    """One row per checked limit (and per unbudgeted model or unreadable file), exact integers; ``output``: the
    named output an output's limit is for (empty: the model)."""
    header = ["file", "model", "status", "budget", "metric", "axis", "bound", "limit", "actual", "overshoot_percent",
              "source", "line", "origin", "message", "output"]
    rows: list[list[Any]] = []
    for file, exc in run.errors:
        rows.append([file, "", "error", "", "", "", "", "", "", "", "", exc.diagnostics[0].location.line
                     if exc.diagnostics else "", "", exc.render(), ""])
    for s, m in run.models:
        if not m.outcomes:
            rows.append([s.file, m.name, "fail" if run.unbudgeted_fails(m) else "no_budget"] + [""] * 12)
        for o in m.outcomes:
            rows.append([s.file, m.name, "pass" if o.passed else "fail", o.key, o.metric.metric, o.axis or "",
                         o.metric.bound, _num(o.limit), _num(o.actual), _pct(o.overshoot), o.source, o.location.line,
                         _origin(o), "" if o.passed else violation_message(s.file, m.name, o), o.output or ""])
    for file, why in run.skipped:
        rows.append([file, "", "skipped"] + [""] * 10 + [f"not a convcalc spec ({why})", ""])
    return _csv(header, rows)


def check_markdown(run: CheckRun) -> str:
    """A PR comment / job summary: verdict, violations, unreadable files, then every result folded."""
    code = run.exit_code
    icon = {0: "✅", 1: "❌", 2: "⚠️"}[code]
    verdict = {0: "all budgets hold", 1: "budget exceeded", 2: "some files could not be checked"}[code]
    lines = ["## convcalc check", "", f"{icon} **{verdict}**: {_md(summary_line(run))}", ""]
    fails = [(s, m, o) for s, m in run.models for o in m.violations]
    if fails:
        lines += ["| spec | model | budget | limit | actual | over | from |", "|---|---|---|---:|---:|---:|---|"]
        for s, m, o in fails:
            k = o.metric.kind
            lines.append(f"| `{_md(s.file)}` | {_md(m.name)} | {o.label} | {_md(exact_text(k, o.limit))} | "
                         f"{_md(exact_text(k, o.actual))} | {percent(o.overshoot)} | {_md(_origin(o))} |")
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
    if run.skipped:
        lines += ["**Skipped** (YAML files that are not convcalc specs):", ""]
        lines += [f"- `{_md(f)}`: {_md(why)}" for f, why in run.skipped] + [""]
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
