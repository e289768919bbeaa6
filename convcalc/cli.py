"""The command line: parse, call the library, render, exit. The only module that imports Typer.

Exit codes: 0 ok, 1 a budget is exceeded, 2 could not run (bad spec, bad usage).
"""

from __future__ import annotations

import enum
import json
import sys
from collections.abc import Callable
from typing import TypeVar

import typer

from convcalc import __version__
from convcalc.errors import ConvcalcError

app = typer.Typer(
    name="convcalc",
    help="Exact params, MACs and receptive fields of convolutional networks, from a YAML spec.\n\n"
         "Exit codes: 0 ok, 1 budget exceeded, 2 could not run (bad spec or usage).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


class Format(str, enum.Enum):
    table = "table"
    json = "json"
    csv = "csv"
    markdown = "markdown"


FormatOpt = typer.Option(Format.table, "--format", "-f", help="Output format: table, json, csv or markdown.")
ExactOpt = typer.Option(False, "--exact", help="Print exact integers instead of SI units (11.7M).")

T = TypeVar("T")


def _guard(fn: Callable[[], T]) -> T:
    """Run library work; a user's mistake becomes a located message on stderr and exit code 2."""
    try:
        return fn()
    except ConvcalcError as exc:
        sys.stderr.write(exc.render() + "\n")
        raise typer.Exit(2) from None


def _emit_table(table: object) -> None:
    from rich.console import Console
    from rich.measure import Measurement

    from convcalc.richview import rich_table
    from convcalc.views import Table

    assert isinstance(table, Table)
    console = Console()
    renderable = rich_table(table)
    if not console.is_terminal:  # piped: never cut names; use the width the table needs
        width = Measurement.get(console, console.options.update_width(100_000), rich_table(table)).maximum
        console = Console(width=max(80, width))
    console.print(renderable)


def _reports(source: str) -> list:  # type: ignore[type-arg]
    from convcalc.analysis import analyze_document
    from convcalc.sources import open_source

    return _guard(lambda: analyze_document(open_source(source)))


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"convcalc {__version__}\n")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version."),
) -> None:
    """Exact params, MACs and receptive fields of convolutional networks."""


@app.command()
def show(
    spec: str = typer.Argument(..., help="A spec file or a zoo model name."),
    fmt: Format = FormatOpt,
    exact: bool = ExactOpt,
) -> None:
    """Per-layer cost table (params, MACs, share) with totals, for every model in SPEC."""
    from convcalc import render, views

    reports = _reports(spec)
    if fmt is Format.json:
        out = render.report_json(reports[0]) if len(reports) == 1 else render.comparison_json(
            __import__("convcalc.analysis", fromlist=["compare"]).compare(reports))
        sys.stdout.write(out)
    elif fmt is Format.csv:
        sys.stdout.write("".join(render.show_csv(r) if i == 0 else render.show_csv(r).split("\n", 1)[1]
                                 for i, r in enumerate(reports)))
    elif fmt is Format.markdown:
        sys.stdout.write("\n".join(render.markdown(views.show_table(r, exact)) for r in reports))
    else:
        for r in reports:
            _emit_table(views.show_table(r, exact))


@app.command()
def compare(
    specs: list[str] = typer.Argument(..., help="A spec with alternatives, or several specs / zoo names."),
    fmt: Format = FormatOpt,
    exact: bool = ExactOpt,
) -> None:
    """Alternatives side by side: params, MACs, FLOPs, output, RF, depth, and ratios to the first."""
    from convcalc import render, views
    from convcalc.analysis import compare as compare_reports

    reports = [r for s in specs for r in _reports(s)]
    c = compare_reports(reports)
    if fmt is Format.json:
        sys.stdout.write(render.comparison_json(c))
    elif fmt is Format.csv:
        sys.stdout.write(render.compare_csv(c))
    elif fmt is Format.markdown:
        sys.stdout.write(render.markdown(views.compare_table(c, exact)))
    else:
        _emit_table(views.compare_table(c, exact))


@app.command()
def rf(
    spec: str = typer.Argument(..., help="A spec file or a zoo model name."),
    fmt: Format = FormatOpt,
    exact: bool = ExactOpt,
) -> None:
    """Receptive field of every layer and named block: size, effective stride, padding, centre (h×w)."""
    from convcalc import render, views

    reports = _reports(spec)
    if fmt is Format.json:
        if len(reports) == 1:
            sys.stdout.write(render.report_json(reports[0]))
        else:
            from convcalc.analysis import compare as compare_reports

            sys.stdout.write(render.comparison_json(compare_reports(reports)))
    elif fmt is Format.csv:
        sys.stdout.write("".join(render.rf_csv(r) if i == 0 else render.rf_csv(r).split("\n", 1)[1]
                                 for i, r in enumerate(reports)))
    elif fmt is Format.markdown:
        sys.stdout.write("\n".join(render.markdown(views.rf_table(r, exact)) for r in reports))
    else:
        for r in reports:
            _emit_table(views.rf_table(r, exact))


@app.command()
def schema() -> None:
    """Print the JSON Schema of spec files (for editor validation)."""
    from convcalc.schema import spec_schema

    sys.stdout.write(json.dumps(spec_schema(), indent=2) + "\n")


@app.command()
def zoo(fmt: Format = FormatOpt, exact: bool = ExactOpt) -> None:
    """List the bundled zoo models with their params and MACs."""
    from convcalc import render, views
    from convcalc.analysis import analyze_document
    from convcalc.analysis import compare as compare_reports
    from convcalc.sources import zoo_document, zoo_names

    reports = _guard(lambda: [r for n in zoo_names() for r in analyze_document(zoo_document(n))])
    if not reports:
        sys.stderr.write("no zoo models are bundled\n")
        return
    c = compare_reports(reports)
    if fmt is Format.json:
        sys.stdout.write(render.comparison_json(c))
    elif fmt is Format.csv:
        sys.stdout.write(render.compare_csv(c))
    elif fmt is Format.markdown:
        sys.stdout.write(render.markdown(views.compare_table(c, exact)))
    else:
        _emit_table(views.compare_table(c, exact))


def run(argv: list[str] | None = None) -> None:
    """Console entry point."""
    app(args=argv, prog_name="convcalc")
