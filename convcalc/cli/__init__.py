"""The command line: parse, call the library, render, exit. The only package that imports Typer (this module,
:mod:`convcalc.cli.ci` for check and diff, :mod:`convcalc.cli.fastpath` for start-up).

Exit codes: 0 ok, 1 a budget is exceeded, 2 could not run (bad spec, bad usage).
"""

from __future__ import annotations

import enum
import sys
from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

import typer
from typer.core import TyperCommand, TyperGroup

from convcalc import __version__
from convcalc.errors import ConvcalcError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from convcalc.lang.spec import Settings
    from convcalc.metrics.analysis import Report
    from convcalc.outputs.views import Table


def _flags_as_flags(params: Any) -> Any:
    """A flag takes no value: no type in the help (Typer's Rich help prints ``--exact <bool>`` otherwise)."""
    for p in params:
        if getattr(p, "is_flag", False) and getattr(p, "metavar", "") is None:
            p.metavar = ""
    return params


class _Command(TyperCommand):
    def get_params(self, ctx: Any) -> Any:
        return _flags_as_flags(super().get_params(ctx))


class _Group(TyperGroup):
    def get_params(self, ctx: Any) -> Any:
        return _flags_as_flags(super().get_params(ctx))


CommandT = TypeVar("CommandT", bound=Callable[..., Any])


class _App(typer.Typer):
    def command(self, *args: Any, **kwargs: Any) -> Callable[[CommandT], CommandT]:
        """Every command with :class:`_Command` (flags shown as flags in ``--help``)."""
        kwargs.setdefault("cls", _Command)
        return super().command(*args, **kwargs)


app = _App(
    cls=_Group,
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
AlternativeOpt = typer.Option(None, "--alternative", metavar="NAME",
                              help="Only the alternative (model) called NAME, of a spec with alternatives.")

T = TypeVar("T")


SetOpt = typer.Option(None, "--set", metavar="NAME=VALUE",
                      help="Set a parameter of the spec's params: (repeatable), e.g. --set width=0.75.")
SizeOpt = typer.Option(None, "--size", metavar="H|HxW", help="Override the input height and width (224 or 240x320).")
BatchOpt = typer.Option(None, "--batch", metavar="N", help="Override the input batch.")


def _settings(values: list[str] | None, size: str | None, batch: str | None) -> Settings:
    """The command line's --set, --size and --batch (a usage error exits 2)."""
    from convcalc.errors import Diagnostic, Location, UsageError
    from convcalc.lang.spec import Settings, parse_setting

    def bad(option: str, found: str, expected: str) -> UsageError:
        return UsageError([Diagnostic(Location(option, 0, 0), (), f"expected {expected}, found {found!r}", "")])

    def build() -> Settings:
        parsed: dict[str, object] = {}
        for text in values or []:
            try:
                name, value = parse_setting(text)
            except ValueError:
                raise bad("--set", text, "NAME=VALUE (e.g. --set width=0.75)") from None
            parsed[name] = value
        hw: tuple[int, int] | None = None
        if size is not None:
            parts = size.lower().replace("×", "x").split("x")
            if len(parts) not in (1, 2) or not all(p.strip().isdigit() and int(p) > 0 for p in parts):
                raise bad("--size", size, "H or HxW with positive integers (e.g. 224 or 240x320)")
            hw = (int(parts[0]), int(parts[-1]))
        n: int | None = None
        if batch is not None:
            if not batch.strip().isdigit() or int(batch) < 1:
                raise bad("--batch", batch, "a positive integer")
            n = int(batch)
        return Settings(parsed, hw, n)

    return _guard(build)


def _guard(fn: Callable[[], T]) -> T:
    """Run library work; a user's mistake becomes a located message on stderr and exit code 2."""
    try:
        return fn()
    except ConvcalcError as exc:
        sys.stderr.write(exc.render() + "\n")
        raise typer.Exit(2) from None
    except (RecursionError, MemoryError) as exc:  # a safety net: the limits should stop hostile specs first
        sys.stderr.write(f"convcalc: the spec is too large or too deeply nested to analyse ({type(exc).__name__})\n")
        raise typer.Exit(2) from None


def _emit_table(table: Table) -> None:
    """Print a table: piped, as wide as it needs; on a terminal, fitted to its width (convcalc.outputs.fit), so no
    number is ever cut; in what the stream's encoding can carry (convcalc.outputs.textout)."""
    from rich.console import Console
    from rich.measure import Measurement

    from convcalc.outputs import textout
    from convcalc.outputs.richview import rich_stacked, rich_table

    console = Console()
    encoding = console.encoding
    if not textout.is_unicode(encoding):  # before measuring: the stand-ins can be wider (… -> ...)
        from convcalc.outputs.fit import map_text

        table = map_text(table, lambda s: textout.for_encoding(s, encoding))
    if not console.is_terminal:  # never cut names; use the width the table needs
        renderable = rich_table(table, fit=True)
        width = Measurement.get(console, console.options.update_width(100_000), renderable).maximum
        Console(width=max(80, width)).print(renderable)
        return
    from rich.cells import cell_len

    from convcalc.outputs import fit

    f = fit.fit_table(table, console.width, cell_len, textout.for_encoding("…", encoding))
    console.print(rich_stacked(f.table, fit.stacked_lines(f.table)) if f.stacked
                  else rich_table(f.table, widths=f.widths))


def _out(text: str, kind: str = "text") -> None:
    """Write data to stdout in what its encoding can carry (JSON: \\u escapes; XML: character references;
    other text: ASCII stand-ins)."""
    from convcalc.outputs import textout

    sys.stdout.write(textout.for_encoding(text, getattr(sys.stdout, "encoding", None), kind))


def _reports(source: str, settings: Settings | None = None, erf: bool = False, memory: bool = False) -> list[Report]:
    """The reports of a spec (``memory``: with the memory pass, fp32 inference at the spec's batch)."""
    from convcalc.lang.sources import open_source
    from convcalc.metrics.analysis import analyze_document
    from convcalc.metrics.memory import MemoryOptions

    reports = _guard(lambda: analyze_document(open_source(source), settings, erf, MemoryOptions() if memory else None))
    for r in reports:
        for w in r.warnings:
            sys.stderr.write(f"warning: {r.name}: {w}\n")
    return reports


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"convcalc {__version__}\n")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version."),
) -> None:
    """Exact params, MACs and receptive fields of convolutional networks."""


PlotOpt = typer.Option(None, "--plot", metavar="FILE.png|svg",
                       help="Also draw a picture to FILE (PNG or SVG, by its suffix; needs matplotlib, the plot "
                            "extra); several models: FILE-1.png, FILE-2.png, …")


@app.command()
def show(
    spec: str = typer.Argument(..., help="A spec file or a zoo model name."),
    fmt: Format = FormatOpt,
    exact: bool = ExactOpt,
    depth: str | None = typer.Option(
        None, "--depth", metavar="N",
        help="Per block at nesting depth N instead of per layer: params, MACs, activations, share of MACs "
             "(1: top-level blocks and layers, e.g. layer1..layer4 and fc of a ResNet; 2: the blocks in them)."),
    bars: bool = typer.Option(False, "--bars", help="Also each row's share of the MACs as a bar (table and "
                                                     "markdown; 10 cells = 100%)."),
    plot: str | None = PlotOpt,
    alternative: str | None = AlternativeOpt,
    set_: list[str] | None = SetOpt,
    size: str | None = SizeOpt,
    batch: str | None = BatchOpt,
) -> None:
    """Per-layer (or, with --depth, per-block) cost table with totals, for every model in SPEC."""
    from convcalc.outputs import render, views

    n = _depth(depth)
    if plot is not None:
        check_picture(plot)
    reports = _alternatives(_reports(spec, _settings(set_, size, batch), memory=fmt is not Format.csv), alternative)
    if n is None:
        _emit_models(reports, fmt, exact, render.show_csv, lambda r, e: views.show_table(r, e, bars))
    else:
        _emit_models(reports, fmt, exact, lambda r: render.depth_csv(r, n),
                     lambda r, e: views.depth_table(r, n, e, bars), n)
    if plot is not None:
        from convcalc.outputs import plot as pictures

        write_pictures(plot, [(r.name, partial(pictures.layers_figure, r)) for r in reports])


def check_picture(path: str) -> None:
    """Before any work: a --plot file name must end in .png or .svg, and matplotlib must be installed (exit 2)."""
    from convcalc.outputs.plot_check import MISSING, have_matplotlib, picture_format

    _guard(lambda: picture_format(path))
    if not have_matplotlib():
        sys.stderr.write(f"--plot: {MISSING}\n")
        raise typer.Exit(2)


def _save(make: Callable[[], Figure], path: str) -> None:
    from convcalc.outputs.plot import save

    save(make(), path)


def write_pictures(path: str, figures: Sequence[tuple[str, Callable[[], Figure]]]) -> None:
    """Draw and save each figure (``path``, or ``path-1``, ``path-2``, … for several), saying so on stderr."""
    from convcalc.outputs.plot_check import numbered

    for k, (what, make) in enumerate(figures, 1):
        out = numbered(path, k, len(figures))
        _guard(partial(_save, make, out))
        sys.stdout.flush()
        sys.stderr.write(f"wrote {out}" + (f" ({what})" if len(figures) > 1 else "") + "\n")


def _depth(text: str | None) -> int | None:
    if text is None:
        return None
    if not (text.isascii() and text.isdigit() and int(text) >= 1):
        raise typer.BadParameter(f"expected a whole number >= 1 (1 = top-level blocks), found {text!r}",
                                 param_hint="--depth")
    return int(text)


def _alternatives(reports: list[Report], name: str | None) -> list[Report]:
    from convcalc.metrics.analysis import pick

    return _guard(lambda: pick(reports, name))


def _emit_models(reports: list[Report], fmt: Format, exact: bool, to_csv: Callable[[Report], str],
                 to_table: Callable[[Report, bool], Table | list[Table]], depth: int | None = None) -> None:
    """Per-model output of show and rf: one JSON document, one CSV, or the tables of each model."""
    from convcalc.outputs import render

    def tables(r: Report) -> list[Table]:
        t = to_table(r, exact)
        return t if isinstance(t, list) else [t]

    if fmt is Format.json:
        _out(render.models_json(reports, depth), "json")
    elif fmt is Format.csv:
        _out(render.join_csv([to_csv(r) for r in reports]))
    elif fmt is Format.markdown:
        _out("\n".join(render.markdown(t) for r in reports for t in tables(r)))
    else:
        for t in (t for r in reports for t in tables(r)):
            _emit_table(t)


@app.command()
def compare(
    specs: list[str] = typer.Argument(..., help="A spec with alternatives, or several specs / zoo names."),
    fmt: Format = FormatOpt,
    exact: bool = ExactOpt,
    set_: list[str] | None = SetOpt,
    size: str | None = SizeOpt,
    batch: str | None = BatchOpt,
    device: str | None = typer.Option(None, "--device", metavar="NAME|FILE", help="MACs beside the latency bound."),
    dtype: str = typer.Option("fp32", "--dtype", help="dtype of the bound with --device: fp32, fp16, bf16, int8."),
) -> None:
    """Alternatives side by side: params, MACs, FLOPs, output, RF, depth, and ratios to the first (with
    --device: MACs next to the roofline lower bound on latency)."""
    from convcalc.metrics.analysis import compare as compare_reports
    from convcalc.outputs import render, views

    # every spec is loaded and every error of every bad one goes to stderr; the good ones are still
    # compared (one complete document on stdout), the bad ones listed, and the exit code is 2
    reports: list[Report] = []
    bad: list[str] = []
    settings = _settings(set_, size, batch)
    for s in specs:
        try:
            reports.extend(_reports(s, settings, memory=fmt is Format.json))
        except typer.Exit:
            bad.append(s)
    if bad and len(specs) > 1:
        sys.stderr.write(f"compare: {len(bad)} of {len(specs)} specs could not be read and are left out: "
                         f"{', '.join(bad)}\n")
    if not reports:
        raise typer.Exit(2)
    good = [s for s in specs if s not in bad]
    c = compare_reports(reports)
    title = "compare: " + ", ".join(dict.fromkeys(_spec_name(s) for s in good))
    if device is not None:
        from convcalc.cli.memory import emit_compare_bounds

        emit_compare_bounds(c, device, dtype, fmt, exact, title)
    elif fmt is Format.json:
        _out(render.comparison_json(c), "json")
    elif fmt is Format.csv:
        _out(render.compare_csv(c))
    elif fmt is Format.markdown:
        _out(render.markdown(views.compare_table(c, exact, title)))
    else:
        _emit_table(views.compare_table(c, exact, title))
    if bad:
        raise typer.Exit(2)


def _spec_name(source: str) -> str:
    return source.rsplit("/", 1)[-1].removesuffix(".yaml").removesuffix(".yml")


def run(argv: list[str] | None = None) -> None:
    """Console entry point."""
    import gc

    from convcalc.outputs import textout

    textout.install(sys.stdout, sys.stderr)  # a stream that cannot encode × gets x, not a UnicodeEncodeError
    gc.disable()  # one short-lived command: cycle collection would only traverse the imports and the reports again
    try:
        args = sys.argv[1:] if argv is None else list(argv)
        from convcalc.cli.fastpath import call_direct, direct

        calls = direct(args)
        if calls is not None:
            call_direct(calls, args)
            return
        app(args=argv, prog_name="convcalc")
    finally:
        gc.enable()


# the other commands live in their own modules and register on ``app`` when they are imported; rf first, so that
# --help lists it after compare, as before it had its own module
from convcalc.cli import receptive as _receptive  # noqa: E402,F401

# isort: split
from convcalc.cli import ci as _ci  # noqa: E402,F401
from convcalc.cli import importer as _importer  # noqa: E402,F401
from convcalc.cli import listing as _listing  # noqa: E402,F401
from convcalc.cli import memory as _memory  # noqa: E402,F401
from convcalc.cli import report as _report  # noqa: E402,F401
from convcalc.cli import sweep as _sweep  # noqa: E402,F401
