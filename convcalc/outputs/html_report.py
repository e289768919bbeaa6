"""The report page (``convcalc report``): one self-contained HTML file, nothing fetched from anywhere (no URL at all:
style, script, pictures and heatmaps are inline), readable offline and safe to open from a pull request.

Every string that comes from a spec (model and layer names, descriptions, notes, warnings, file names) is written
through :func:`esc` (``html.escape`` with quotes), in text and attributes alike, never into the script; the
script reads only numbers from ``data-v`` attributes. A Content-Security-Policy lets only the page's own script
run (by its hash) and no request leave the page.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from fractions import Fraction
from html import escape

from convcalc import __version__
from convcalc.metrics.analysis import Report
from convcalc.outputs.ci_render import value_text
from convcalc.outputs.html_assets import CONVENTIONS, CSS, JS, script_hash
from convcalc.outputs.html_data import ModelPage, Page
from convcalc.outputs.html_heatmap import heatmap_html
from convcalc.outputs.plot_check import MISSING
from convcalc.outputs.views import Table, compare_table, mac_share, rf_cell, shape, show_table
from convcalc.units import human, human_bytes, pair

Num = int | Fraction | float


_NUM = ' class="num"'


def esc(text: object) -> str:
    """Text for HTML, in element content and in quoted attributes alike."""
    return escape(str(text), quote=True)


def _v(value: Num | None) -> str:
    """A ``data-v`` attribute: the exact number the script sorts by (an integer, or a fraction's float)."""
    if value is None:
        return ""
    return f' data-v="{value if isinstance(value, int) else float(value)!r}"'


def _cell(text: str, value: Num | None = None, cls: str = "") -> str:
    """A table cell; a number carries its exact value (``data-v``, and as a tooltip when it is an integer)."""
    classes = " ".join(c for c in ("num" if value is not None else "", cls) if c)
    attrs = (f' class="{classes}"' if classes else "") + _v(value)
    if isinstance(value, int):
        attrs += f' title="{value:,}"'
    return f"<td{attrs}>{esc(text)}</td>"


def _count(n: int) -> str:
    return f"{n:,}"


def table_html(t: Table, values: Sequence[Sequence[Num | None]] | None = None, table_id: str = "",
               sortable: bool = True, name_columns: frozenset[int] = frozenset({0})) -> str:
    """A neutral table as HTML: numeric columns right-aligned and, with ``values`` (per row, per column, None
    where a column is text), sortable by the exact numbers; its notes under it."""
    head = "".join(f'<th scope="col"{_NUM if i in t.numeric else ""}>{esc(c)}</th>'
                   for i, c in enumerate(t.columns))
    body = []
    for k, row in enumerate(t.rows):
        vals = values[k] if values is not None else [None] * len(row)
        cells = [_cell(text, vals[i] if i in t.numeric else None, "name" if i in name_columns else "")
                 for i, text in enumerate(row)]
        body.append(f'<tr data-i="{k}">{"".join(cells)}</tr>')
    foot = ""
    if t.footer:
        foot = "<tfoot><tr>" + "".join(f'<td{_NUM if i in t.numeric else ""}>{esc(c)}</td>'
                                       for i, c in enumerate(t.footer)) + "</tr></tfoot>"
    attrs = (f' id="{esc(table_id)}"' if table_id else "") + (' class="sortable"' if sortable else "")
    notes = "".join(f"<li>{esc(n)}</li>" for n in t.notes)
    return (f'<div class="scroll"><table{attrs}><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody>{foot}'
            f"</table></div>" + (f'<ul class="note">{notes}</ul>' if notes else ""))


def _area(v: tuple[Num, Num]) -> Num:
    return Fraction(v[0]) * Fraction(v[1])


def layers_table(r: Report, table_id: str) -> str:
    """Every layer: index, name, type, output, params, MACs, share, activations, RF, stride; sortable (numbers by
    their exact value; RF and stride by their area) and filtered by the text box above it."""
    head = ("#", "layer", "type", "output", "params", "MACs", "MACs %", "activations", "RF", "stride")
    numeric = frozenset({0, 4, 5, 6, 7, 8, 9})
    rows, values = [], []
    for i, row in enumerate(r.layers):
        rf, stride = row.rf.size, row.rf.stride
        rows.append((str(i), row.name + (" (training only)" if row.training_only else ""), row.type,
                     shape(row.output_shape), human(row.cost.params), human(row.cost.macs),
                     mac_share(row.cost.macs, r.macs), human(row.activations), rf_cell(row.rf), pair(stride)))
        values.append((i, None, None, None, row.cost.params, row.cost.macs, row.cost.macs, row.activations,
                       _area(rf), _area(stride)))
    t = Table(r.name, head, rows, ("total", "", "", shape(r.output_shape), human(r.params), human(r.macs), "100%",
                                   human(r.activations), "", ""), [], numeric)
    n = len(rows)
    bar = (f'<div class="filterbar"><label>filter: <input type="search" class="filter" data-for="{table_id}" '
           f'placeholder="a layer name or type" aria-label="filter the layers"></label>'
           f'<span class="count" id="{table_id}-count">{n} of {n} rows</span></div>')
    return bar + '<div class="tall">' + table_html(t, values, table_id, name_columns=frozenset({1})) + "</div>"


def _summary(m: ModelPage) -> str:
    r = m.report
    items = [("file", r.file or m.source), ("input", f"{shape(r.input_shape)}, batch {r.batch}"),
             ("params", f"{_count(r.params)} ({human(r.params)}); buffers {_count(r.total.buffers)}"),
             ("MACs", f"{_count(r.macs)} ({human(r.macs)})"), ("FLOPs", f"{_count(r.flops)} ({human(r.flops)})"),
             ("activations", f"{_count(r.activations)} elements"),
             ("output", f"{shape(r.output_shape)}, RF {rf_cell(r.rf)}, stride {pair(r.rf.stride)}"),
             ("depth", f"{r.weight_layers} weight layers, {r.nonlinearities} non-linearities, {len(r.layers)} layers")]
    if r.memory is not None:
        items.append(("peak memory", f"{_count(r.memory.inference_peak_bytes)} B "
                      f"({human_bytes(r.memory.inference_peak_bytes)}) at {r.memory.peak_layer}; weights "
                      f"{human_bytes(r.memory.weights_bytes)} (fp32 inference)"))
    return '<dl class="summary">' + "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in items) + "</dl>"


def _inline_svg(svg: str, prefix: str, label: str) -> str:
    """matplotlib's SVG for inlining: no comments, metadata, style sheet or namespaces; its ids made unique in the
    page (``prefix``); labelled for screen readers."""
    svg = re.sub(r"<!--.*?-->", "", svg, flags=re.S)
    svg = re.sub(r"<metadata>.*?</metadata>", "", svg, flags=re.S)
    svg = re.sub(r"<style[^>]*>.*?</style>", "", svg, flags=re.S)
    svg = re.sub(r'\s+xmlns(?::\w+)?="[^"]*"', "", svg)
    svg = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{prefix}-{m[1]}"', svg)
    svg = re.sub(r'href="#([^"]+)"', lambda m: f'href="#{prefix}-{m[1]}"', svg)
    svg = svg.replace("url(#", f"url(#{prefix}-")
    return svg.replace("<svg", f'<svg class="chart" role="img" aria-label="{esc(label)}"', 1)


def charts_html(r: Report, k: int, label: str) -> str | None:
    """The model's pictures (costs and receptive field along the layers) as inline SVG; None without matplotlib."""
    try:
        from convcalc.outputs import plot
    except ImportError:
        return None
    parts = []
    for name, make, what in (("costs", plot.layers_figure, "MACs and params per layer"),
                             ("rf", plot.rf_figure, "receptive field and stride per layer")):
        parts.append(_inline_svg(plot.svg_text(make(r)), f"m{k}-{name}", f"{label}: {what}"))
    return "".join(parts)


def _footprints(m: ModelPage, label: str) -> str:
    out = []
    for name, fp in m.footprints:
        h, w = fp.axes
        e50, e95 = fp.erf(Fraction(1, 2)), fp.erf(Fraction(95, 100))
        holes = (f"{sum(1 for row in fp.map for c in row if c == 0):,} holes" if fp.map is not None
                 else f"holes per axis {h.holes}×{w.holes}")
        text = (f"centre unit ({fp.unit[0]}, {fp.unit[1]}), RF {len(h.counts)}×{len(w.counts)} from "
                f"({h.start}, {w.start}), ERF50 {pair(e50)}, ERF95 {pair(e95)}, {holes}")
        out.append(f"<div><h4>output {esc(name)}</h4><p class=\"meta\">{esc(text)}</p>"
                   f"{heatmap_html(fp, f'{label}: footprint of output {name}')}</div>")
    return '<div class="footprints">' + "".join(out) + "</div>"


def budgets_html(models: Sequence[ModelPage], labels: Sequence[str]) -> str:
    """Every limit of every model: the model, the budget, its limit, the measured value and the verdict."""
    rows = []
    for m, label in zip(models, labels, strict=True):
        if not m.outcomes:
            rows.append(f'<tr><td class="name">{esc(label)}</td><td colspan="4" class="meta">no budget</td></tr>')
        for o in m.outcomes:
            kind = o.metric.kind
            verdict = '<td class="pass">pass</td>' if o.passed else '<td class="fail">FAIL</td>'
            rows.append(f'<tr><td class="name">{esc(label)}</td><td>{esc(o.label)}</td>'
                        f'<td class="num">{esc(value_text(kind, o.limit))}</td>'
                        f'<td class="num">{esc(value_text(kind, o.actual))}</td>{verdict}</tr>')
    failed = sum(not o.passed for m in models for o in m.outcomes)
    checked = sum(len(m.outcomes) for m in models)
    return ('<section id="budgets"><h2>Budgets</h2>'
            f'<p class="{"fail" if failed else "meta"}">{checked} limit{"" if checked == 1 else "s"} checked: '
            f"{failed} exceeded</p>"
            '<div class="scroll"><table><thead><tr><th>model</th><th>budget</th><th class="num">limit</th>'
            '<th class="num">actual</th><th>verdict</th></tr></thead><tbody>' + "".join(rows) +
            '</tbody></table></div><p class="note">the limits of each spec\'s own <code>budget:</code> '
            "(convcalc check also reads budgets files)</p></section>")


def _compare_values(page: Page) -> list[list[Num | None]]:
    """The exact numbers of the comparison's numeric columns (params, ratio, MACs, ratio, FLOPs, ratio, activations),
    to sort by."""
    c = page.comparison
    assert c is not None
    return [[None, r.params, c.ratio(r, "params"), r.macs, c.ratio(r, "macs"), r.flops, c.ratio(r, "flops"),
             r.activations, None, None, None] for r in c.alternatives]


def _model_section(page: Page, k: int, m: ModelPage, charts: bool) -> str:
    r = m.report
    label = page.label(k)
    parts = [f'<section id="model-{k + 1}" class="model"><h2>{esc(label)}</h2>']
    if r.description:
        parts.append(f'<p class="description">{esc(r.description)}</p>')
    parts.append(_summary(m))
    notes = show_table(r).notes
    parts.append('<ul class="note">' + "".join(f"<li>{esc(n)}</li>" for n in notes) + "</ul>")
    if r.warnings:
        parts.append('<ul class="error">' + "".join(f"<li>{esc(w)}</li>" for w in r.warnings) + "</ul>")
    if charts:
        svg = charts_html(r, k + 1, label)
        parts.append('<h3>Costs and receptive field along the layers</h3>')
        parts.append(svg if svg is not None else
                     f'<p class="note missing">The charts are left out: {esc(MISSING)}.</p>')
    parts.append("<h3>Footprint of each output's centre unit</h3>" + _footprints(m, label))
    status = "no budget" if not m.outcomes else "every limit holds" if all(o.passed for o in m.outcomes) else \
        f"{sum(not o.passed for o in m.outcomes)} of {len(m.outcomes)} limits exceeded"
    parts.append(f'<p class="meta">budgets: <a href="#budgets">{esc(status)}</a></p>')
    parts.append(f"<h3>Layers</h3>{layers_table(r, f'layers-{k + 1}')}</section>")
    return "".join(parts)


def _settings_text(page: Page) -> str:
    s = page.settings
    if s is None:
        return ""
    parts = [f"--set {k}={v}" for k, v in s.values.items()]
    if s.size is not None:
        parts.append(f"--size {s.size[0]}x{s.size[1]}")
    if s.batch is not None:
        parts.append(f"--batch {s.batch}")
    return " ".join(parts)


def report_page(page: Page, charts: bool = True) -> str:
    """The whole page: header, comparison, budgets, one section per model, conventions, the script. ``charts``:
    draw the pictures (with matplotlib; without it, the page says so where they would be)."""
    c = page.comparison
    if c is None:
        raise ValueError("a report page needs at least one model")
    labels = [page.label(k) for k in range(len(page.models))]
    title = "convcalc report: " + ", ".join(dict.fromkeys(labels))
    csp = (f"default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src {script_hash()}; "
           "base-uri 'none'; form-action 'none'")
    settings = _settings_text(page)
    head = (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{esc(csp)}">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<link rel="icon" href="data:,"><title>{esc(title)}</title><style>{CSS}</style></head><body>')
    parts = [head, f"<header><h1>{esc(title)}</h1><p class=\"meta\">specs: {esc(', '.join(page.sources))}"
             + (f"; {esc(settings)}" if settings else "") + f"; convcalc {esc(__version__)}</p></header>"]
    nav = [("compare", "Comparison"), ("budgets", "Budgets"),
           *((f"model-{k + 1}", label) for k, label in enumerate(labels)), ("conventions", "Conventions")]
    parts.append("<nav><ul>" + "".join(f'<li><a href="#{a}">{esc(t)}</a></li>' for a, t in nav) + "</ul></nav>")
    if page.errors:
        parts.append('<section id="errors" class="error"><h2>Specs that could not be read</h2>' + "".join(
            f"<h3>{esc(source)}</h3><pre>{esc(message)}</pre>" for source, message in page.errors) + "</section>")
    if page.warnings:
        parts.append('<section id="warnings"><h2>Warnings</h2><ul>' +
                     "".join(f"<li>{esc(w)}</li>" for w in page.warnings) + "</ul></section>")
    if charts and not _have_plot():
        parts.append(f'<p class="note missing">This page has no charts: {esc(MISSING)}.</p>')
    table = compare_table(c, False, "compare")
    parts.append('<section id="compare"><h2>Comparison</h2>' + table_html(table, _compare_values(page), "compare-table")
                 + "</section>")
    parts.append(budgets_html(page.models, labels))
    parts.extend(_model_section(page, k, m, charts) for k, m in enumerate(page.models))
    parts.append(CONVENTIONS)
    parts.append(f"<script>{JS}</script></body></html>\n")
    return "".join(parts)


def _have_plot() -> bool:
    from convcalc.outputs.plot_check import have_matplotlib

    return have_matplotlib()

