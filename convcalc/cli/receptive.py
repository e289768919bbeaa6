"""``convcalc rf``: the receptive field of every layer and output, and ``--map``, a layer's footprint (registered on
the app); ``--plot`` draws either."""

from __future__ import annotations

import sys
from functools import partial
from typing import TYPE_CHECKING

import typer

from convcalc.cli import (
    AlternativeOpt,
    BatchOpt,
    ExactOpt,
    Format,
    FormatOpt,
    PlotOpt,
    SetOpt,
    SizeOpt,
    _alternatives,
    _emit_models,
    _guard,
    _out,
    _reports,
    _settings,
    app,
    check_picture,
    write_pictures,
)

if TYPE_CHECKING:
    from convcalc.lang.spec import Settings


@app.command()
def rf(
    spec: str = typer.Argument(..., help="A spec file or a zoo model name."),
    fmt: Format = FormatOpt,
    exact: bool = ExactOpt,
    map_layer: str | None = typer.Option(
        None, "--map", metavar="LAYER",
        help="Show which input pixels the centre unit of LAYER (a layer or named block of the rf table) depends on, "
             "through how many paths, and its effective receptive field (50% and 95% of the paths)."),
    plot: str | None = PlotOpt,
    alternative: str | None = AlternativeOpt,
    set_: list[str] | None = SetOpt,
    size: str | None = SizeOpt,
    batch: str | None = BatchOpt,
) -> None:
    """Receptive field of every layer and named block (size, period where units differ, effective stride,
    padding, centre; h×w), and of every output with its centre unit's window and effective receptive field."""
    from convcalc.outputs import render, views

    if plot is not None:
        check_picture(plot)
    settings = _settings(set_, size, batch)
    if map_layer is not None:
        _footprints(spec, map_layer, fmt, alternative, settings, plot)
        return
    reports = _alternatives(_reports(spec, settings, erf=True), alternative)
    _emit_models(reports, fmt, exact, render.rf_csv, lambda r, e: [views.rf_table(r, e), views.rf_outputs_table(r)])
    if plot is not None:
        from convcalc.outputs import plot as pictures

        write_pictures(plot, [(r.name, partial(pictures.rf_figure, r)) for r in reports])


def _footprints(spec: str, layer: str, fmt: Format, alternative: str | None, settings: Settings,
                plot: str | None = None) -> None:
    from convcalc.lang.sources import open_source
    from convcalc.metrics.analysis import graphs_of, pick
    from convcalc.metrics.footprint import footprints, lacking, resolve
    from convcalc.outputs import render, views

    graphs = _guard(lambda: pick(graphs_of(open_source(spec), settings), alternative))
    items = _guard(lambda: footprints(graphs, layer))
    if fmt is Format.json:
        _out(render.footprint_json(items), "json")
    elif fmt is Format.csv:
        _out(render.footprint_csv(items))
    else:
        text = "\n".join(line for model, fp in items for line in views.footprint_text(model, fp)) + "\n"
        _out(f"```\n{text}```\n" if fmt is Format.markdown else text)
    missing = lacking(graphs, layer)
    if missing:
        sys.stdout.flush()
        sys.stderr.write(f"rf --map: {len(missing)} of {len(graphs)} alternatives have no layer or named block "
                         f"{layer!r}, left out: {', '.join(repr(m) for m in missing)}\n")
    if plot is not None:
        from convcalc.outputs import plot as pictures

        having = [g for g in graphs if resolve(g, layer) is not None]  # the graphs of ``items``, in order
        write_pictures(plot, [(model, partial(pictures.footprint_figure, model, fp, (g.input.h, g.input.w)))
                              for (model, fp), g in zip(items, having, strict=True)])
