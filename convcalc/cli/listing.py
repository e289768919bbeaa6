"""The listing commands: ``schema`` (the JSON Schemas), ``zoo`` (the bundled models) and ``devices`` (the
bundled device profiles). Register on the app."""

from __future__ import annotations

import sys

import typer

from convcalc.cli import ExactOpt, Format, FormatOpt, _emit_table, _guard, _out, app


@app.command()
def schema(
    budgets: bool = typer.Option(False, "--budgets", help="The schema of budgets files instead of spec files."),
) -> None:
    """Print the JSON Schema of spec files, or of budgets files (for editor validation)."""
    import json

    from convcalc.ci.budget import budgets_file_schema
    from convcalc.outputs.schema import spec_schema

    sys.stdout.write(json.dumps(budgets_file_schema() if budgets else spec_schema(), indent=2) + "\n")


@app.command()
def zoo(fmt: Format = FormatOpt, exact: bool = ExactOpt) -> None:
    """List the bundled zoo models: input, params, MACs (and FLOPs in json and csv), description."""
    from convcalc.lang.sources import zoo_document, zoo_names
    from convcalc.metrics.analysis import totals_of_document
    from convcalc.outputs import render, views

    reports = _guard(lambda: [r for n in zoo_names() for r in totals_of_document(zoo_document(n))])
    if not reports:
        sys.stderr.write("no zoo models are bundled\n")
        return
    if fmt is Format.json:
        _out(render.zoo_json(reports), "json")
    elif fmt is Format.csv:
        _out(render.zoo_csv(reports))
    elif fmt is Format.markdown:
        _out(render.markdown(views.zoo_table(reports, exact)))
    else:
        _emit_table(views.zoo_table(reports, exact))


@app.command()
def devices(fmt: Format = FormatOpt, exact: bool = ExactOpt) -> None:
    """List the bundled device profiles: peak FLOP/s per dtype, memory bandwidth, datasheet sources."""
    import json

    from convcalc.lang.device import bundled_devices, load_device
    from convcalc.outputs import render
    from convcalc.outputs.views import Table
    from convcalc.units import human

    devs = [load_device(n) for n in bundled_devices()]
    if fmt is Format.json:
        _out(json.dumps({"schema_version": render.SCHEMA_VERSION, "devices": [
            {"profile": n, "name": d.name, "description": d.description, "peak_flops": dict(d.peak_flops),
             "bandwidth": d.bandwidth, "sources": list(d.sources)} for n, d in zip(bundled_devices(), devs,
                                                                                      strict=True)]},
                        indent=2, ensure_ascii=False) + "\n", "json")
        return
    dtypes = ("fp32", "fp16", "bf16", "int8")
    names = bundled_devices()
    rows = [(n, *(human(d.peak_flops[t], exact) if t in d.peak_flops else "-" for t in dtypes),
             human(d.bandwidth, exact) + (" B/s" if exact else "B/s")) for n, d in zip(names, devs, strict=True)]
    table = Table("devices: dense peaks, FLOP/s (int8: OP/s)", ("--device", *dtypes, "bandwidth"), rows, None,
                  ["the vendors' datasheet figures, cited in each profile (convcalc devices --format json); "
                   "decimal units (1 TB/s = 10^12 B/s)"], frozenset({1, 2, 3, 4, 5}), optional=(3,))
    if fmt is Format.csv:
        from convcalc.outputs.render import _csv

        _out(_csv(["profile", "name", *dtypes, "bandwidth"],
                  [[n, d.name, *(d.peak_flops.get(t, "") for t in dtypes), d.bandwidth]
                   for n, d in zip(names, devs, strict=True)]))
    elif fmt is Format.markdown:
        _out(render.markdown(table))
    else:
        _emit_table(table)
