"""``convcalc report``: one self-contained HTML page of one or several specs (registered on the app)."""

from __future__ import annotations

import sys

import typer

from convcalc.cli import BatchOpt, SetOpt, SizeOpt, _settings, app


@app.command()
def report(
    specs: list[str] = typer.Argument(..., help="Spec files or zoo names (as compare takes them)."),
    output: str | None = typer.Option(None, "--output", "-o", metavar="FILE",
                                      help="Write the page to FILE (without it, or -: stdout)."),
    set_: list[str] | None = SetOpt,
    size: str | None = SizeOpt,
    batch: str | None = BatchOpt,
) -> None:
    """One self-contained HTML page (no external files or URLs): the comparison, per model its layers (a table to
    sort and filter), pictures (with matplotlib, the plot extra), the footprint of each output's centre unit, the
    budgets' verdicts, and the conventions. A spec that cannot be read is listed on stderr and in the page; exit 2
    then (a budget exceeded is no error here: convcalc check is the gate)."""
    from convcalc.outputs.html_data import collect
    from convcalc.outputs.html_report import report_page
    from convcalc.outputs.plot_check import MISSING, have_matplotlib

    settings = _settings(set_, size, batch)
    page = collect(specs, settings)
    for source, message in page.errors:
        sys.stderr.write(f"{message}\n" if message.startswith(source) else f"{source}: {message}\n")
    for w in page.warnings:
        sys.stderr.write(f"warning: {w}\n")
    if not page.models:
        raise typer.Exit(2)
    if not have_matplotlib():
        sys.stderr.write(f"warning: the page has no charts: {MISSING}\n")
    text = report_page(page)
    if output is None or output == "-":
        sys.stdout.write(text)
    else:
        try:
            with open(output, "w", encoding="utf-8") as fh:
                fh.write(text)
        except OSError as exc:
            sys.stderr.write(f"--output: cannot write {output!r}: {exc.strerror or exc}\n")
            raise typer.Exit(2) from None
        sys.stderr.write(f"wrote {output}\n")
    if page.errors:
        raise typer.Exit(2)
