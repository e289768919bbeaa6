"""The command line: parse, call the library, render, exit. The only module that imports Typer.

Exit codes: 0 ok, 1 a budget is exceeded, 2 could not run (bad spec, bad usage).
"""

from __future__ import annotations

import enum
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import typer
from typer.core import TyperCommand, TyperGroup

from convcalc import __version__
from convcalc.errors import ConvcalcError

if TYPE_CHECKING:
    from convcalc.analysis import Report
    from convcalc.views import Table


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
    """Print a table: piped, as wide as it needs; on a terminal, fitted to its width (convcalc.fit), so no
    number is ever cut; in what the stream's encoding can carry (convcalc.textout)."""
    from rich.console import Console
    from rich.measure import Measurement

    from convcalc import fit, textout
    from convcalc.richview import rich_stacked, rich_table

    console = Console()
    encoding = console.encoding
    if not textout.is_unicode(encoding):  # before measuring: the stand-ins can be wider (… -> ...)
        table = fit.map_text(table, lambda s: textout.for_encoding(s, encoding))
    if not console.is_terminal:  # never cut names; use the width the table needs
        renderable = rich_table(table, fit=True)
        width = Measurement.get(console, console.options.update_width(100_000), renderable).maximum
        Console(width=max(80, width)).print(renderable)
        return
    from rich.cells import cell_len

    f = fit.fit_table(table, console.width, cell_len, textout.for_encoding("…", encoding))
    console.print(rich_stacked(f.table, fit.stacked_lines(f.table)) if f.stacked
                  else rich_table(f.table, widths=f.widths))


def _out(text: str, kind: str = "text") -> None:
    """Write data to stdout in what its encoding can carry (JSON: \\u escapes; XML: character references;
    other text: ASCII stand-ins)."""
    from convcalc import textout

    sys.stdout.write(textout.for_encoding(text, getattr(sys.stdout, "encoding", None), kind))


def _reports(source: str) -> list[Report]:
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
    depth: str | None = typer.Option(
        None, "--depth", metavar="N",
        help="Per block at nesting depth N instead of per layer: params, MACs, activations, share of MACs "
             "(1: top-level blocks and layers, e.g. layer1..layer4 and fc of a ResNet; 2: the blocks in them)."),
    alternative: str | None = AlternativeOpt,
) -> None:
    """Per-layer (or, with --depth, per-block) cost table with totals, for every model in SPEC."""
    from convcalc import render, views

    n = _depth(depth)
    reports = _alternatives(_reports(spec), alternative)
    if n is None:
        _emit_models(reports, fmt, exact, render.show_csv, views.show_table)
    else:
        _emit_models(reports, fmt, exact, lambda r: render.depth_csv(r, n),
                     lambda r, e: views.depth_table(r, n, e), n)


def _depth(text: str | None) -> int | None:
    if text is None:
        return None
    if not (text.isascii() and text.isdigit() and int(text) >= 1):
        raise typer.BadParameter(f"expected a whole number >= 1 (1 = top-level blocks), found {text!r}",
                                 param_hint="--depth")
    return int(text)


def _alternatives(reports: list[Report], name: str | None) -> list[Report]:
    from convcalc.analysis import pick

    return _guard(lambda: pick(reports, name))


def _emit_models(reports: list[Report], fmt: Format, exact: bool, to_csv: Callable[[Report], str],
                 to_table: Callable[[Report, bool], Table], depth: int | None = None) -> None:
    """Per-model output of show and rf: one JSON document, one CSV, or a table per model."""
    from convcalc import render

    if fmt is Format.json:
        _out(render.models_json(reports, depth), "json")
    elif fmt is Format.csv:
        _out(render.join_csv([to_csv(r) for r in reports]))
    elif fmt is Format.markdown:
        _out("\n".join(render.markdown(to_table(r, exact)) for r in reports))
    else:
        for r in reports:
            _emit_table(to_table(r, exact))


@app.command()
def compare(
    specs: list[str] = typer.Argument(..., help="A spec with alternatives, or several specs / zoo names."),
    fmt: Format = FormatOpt,
    exact: bool = ExactOpt,
) -> None:
    """Alternatives side by side: params, MACs, FLOPs, output, RF, depth, and ratios to the first."""
    from convcalc import render, views
    from convcalc.analysis import compare as compare_reports

    # every spec is loaded and every error of every bad one goes to stderr; the good ones are still
    # compared (one complete document on stdout), the bad ones listed, and the exit code is 2
    reports: list[Report] = []
    bad: list[str] = []
    for s in specs:
        try:
            reports.extend(_reports(s))
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
    if fmt is Format.json:
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


@app.command()
def rf(
    spec: str = typer.Argument(..., help="A spec file or a zoo model name."),
    fmt: Format = FormatOpt,
    exact: bool = ExactOpt,
    map_layer: str | None = typer.Option(
        None, "--map", metavar="LAYER",
        help="Show which input pixels one unit of LAYER (a layer or named block of the rf table) depends on, "
             "through how many paths, and its effective receptive field (50% and 95% of the paths)."),
    alternative: str | None = AlternativeOpt,
) -> None:
    """Receptive field of every layer and named block: size, effective stride, padding, centre (h×w)."""
    from convcalc import render, views

    if map_layer is not None:
        _footprints(spec, map_layer, fmt, alternative)
        return
    _emit_models(_alternatives(_reports(spec), alternative), fmt, exact, render.rf_csv, views.rf_table)


def _footprints(spec: str, layer: str, fmt: Format, alternative: str | None) -> None:
    from convcalc import render, views
    from convcalc.analysis import graphs_of, pick
    from convcalc.footprint import footprints, lacking
    from convcalc.sources import open_source

    graphs = _guard(lambda: pick(graphs_of(open_source(spec)), alternative))
    items = _guard(lambda: footprints(graphs, layer))
    if fmt is Format.json:
        _out(render.footprint_json(items), "json")
    elif fmt is Format.csv:
        _out(render.footprint_csv(items))
    else:
        text = "\n".join(line for model, fp in items for line in views.footprint_lines(model, fp)) + "\n"
        _out(f"```\n{text}```\n" if fmt is Format.markdown else text)
    missing = lacking(graphs, layer)
    if missing:
        sys.stdout.flush()
        sys.stderr.write(f"rf --map: {len(missing)} of {len(graphs)} alternatives have no layer or named block "
                         f"{layer!r}, left out: {', '.join(repr(m) for m in missing)}\n")


@app.command()
def schema(
    budgets: bool = typer.Option(False, "--budgets", help="The schema of budgets files instead of spec files."),
) -> None:
    """Print the JSON Schema of spec files, or of budgets files (for editor validation)."""
    import json

    from convcalc.budget import budgets_file_schema
    from convcalc.schema import spec_schema

    sys.stdout.write(json.dumps(budgets_file_schema() if budgets else spec_schema(), indent=2) + "\n")


@app.command()
def zoo(fmt: Format = FormatOpt, exact: bool = ExactOpt) -> None:
    """List the bundled zoo models: input, params, MACs (and FLOPs in json and csv), description."""
    from convcalc import render, views
    from convcalc.analysis import analyze_document
    from convcalc.sources import zoo_document, zoo_names

    reports = _guard(lambda: [r for n in zoo_names() for r in analyze_document(zoo_document(n))])
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


def run(argv: list[str] | None = None) -> None:
    """Console entry point."""
    import gc

    from convcalc import textout

    textout.install(sys.stdout, sys.stderr)  # a stream that cannot encode × gets x, not a UnicodeEncodeError
    gc.disable()  # one short-lived command: cycle collection would only traverse the imports and the reports again
    try:
        args = sys.argv[1:] if argv is None else list(argv)
        calls = _direct(args)
        if calls is not None:
            _call_direct(calls, args)
            return
        app(args=argv, prog_name="convcalc")
    finally:
        gc.enable()


# --- start-up fast path ---------------------------------------------------------------------------------------------
#
# On every run Typer validates each parameter of the invoked command through a pydantic TypeAdapter it builds on
# the spot: importing pydantic and building the adapters costs more than everything convcalc itself does to show a
# ResNet-50 (0.1 s or more). A plain command line needs none of it: a command name, then its positional arguments
# and its own options as `--name value`, `--name=value`, `-n value` or `--flag`, whose values are strings, enum
# values or flags. Such a line is parsed here from the very OptionInfo/ArgumentInfo declarations Typer reads, and
# the command function is called directly. Anything else (no command, --help, --version, an unknown option, a bad
# choice, a missing or extra argument, `--`, a parameter type or feature not handled here) returns None and Typer
# parses, reports and exits exactly as always. tests/test_fast_paths.py checks both paths give the same output.

_FLAG, _TEXT, _CHOICE, _LIST = "flag", "text", "choice", "list"


def _param_kind(hint: object) -> str | None:
    """flag (bool), text (str or str | None), choice (an Enum), list (list[str] or list[str] | None)."""
    import types
    import typing

    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        rest = [a for a in typing.get_args(hint) if a is not type(None)]
        return _param_kind(rest[0]) if len(rest) == 1 and rest[0] is not bool else None
    if hint is bool:
        return _FLAG
    if hint is str:
        return _TEXT
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return _CHOICE
    if typing.get_origin(hint) is list and typing.get_args(hint) == (str,):
        return _LIST
    return None


def _direct(args: list[str]) -> list[tuple[Callable[..., object], dict[str, object]]] | None:
    """The functions to call (group callback, command) with their keyword arguments for a plain command line,
    or None: let Typer do it."""
    import inspect
    import os
    import typing

    from typer.models import ArgumentInfo, OptionInfo

    if not args or args[0].startswith("-") or "_CONVCALC_COMPLETE" in os.environ or os.name == "nt":
        return None
    calls: list[tuple[Callable[..., object], dict[str, object]]] = []
    group = app.registered_callback
    if group is not None and group.callback is not None:  # its options (--version) act only when given
        for p in inspect.signature(group.callback).parameters.values():
            if not (isinstance(p.default, OptionInfo) and p.default.is_eager and p.default.default is False):
                return None
        calls.append((group.callback, {p: False for p in inspect.signature(group.callback).parameters}))
    command = next((c for c in app.registered_commands if c.callback is not None
                    and (c.name or c.callback.__name__.lower().replace("_", "-")) == args[0]), None)
    if command is None or command.callback is None or command.context_settings or command.deprecated \
            or (command.no_args_is_help and len(args) == 1):
        return None
    fn = command.callback
    try:
        hints = typing.get_type_hints(fn)
    except Exception:  # an annotation this module cannot resolve: Typer knows better
        return None
    options: dict[str, tuple[str, str, object]] = {}  # "--flag" -> (parameter, kind, enum class)
    positional: list[tuple[str, str, ArgumentInfo]] = []
    values: dict[str, object] = {}
    for name, p in inspect.signature(fn).parameters.items():
        info, kind = p.default, _param_kind(hints.get(name))
        if kind is None or not isinstance(info, (OptionInfo, ArgumentInfo)) or info.callback is not None \
                or info.envvar is not None or info.parser is not None or info.default_factory is not None \
                or not info.expose_value or getattr(info, "click_type", None) is not None \
                or getattr(info, "prompt", False) or getattr(info, "count", False) \
                or (kind == _CHOICE and not info.case_sensitive):
            return None
        if isinstance(info, ArgumentInfo):
            positional.append((name, kind, info))
            continue
        decls = info.param_decls or ()
        if not decls or any(not d.startswith("-") or "/" in d or " " in d for d in decls) \
                or (kind == _FLAG and info.default is not False):
            return None
        for d in decls:
            options[d] = (name, kind, hints.get(name))
        values[name] = info.default
    given: list[str] = []
    seen_lists: set[str] = set()
    rest, i = args[1:], 0
    while i < len(rest):
        token, i = rest[i], i + 1
        if not token.startswith("-") or token == "-":
            given.append(token)
            continue
        flag, eq, value = token.partition("=") if token.startswith("--") else (token, "", "")
        if flag not in options:
            return None  # --help, --, an unknown option, -fjson ...
        name, kind, cls = options[flag]
        if kind == _FLAG:
            if eq:
                return None
            values[name] = True
            continue
        if not eq:
            if i >= len(rest) or rest[i].startswith("-"):
                return None
            value, i = rest[i], i + 1
        if kind == _LIST:
            if name not in seen_lists:
                seen_lists.add(name)
                values[name] = []
            typing.cast(list[str], values[name]).append(value)
        elif kind == _CHOICE:
            choices = {str(m.value): m for m in typing.cast(type[enum.Enum], cls)}
            if value not in choices:
                return None
            values[name] = choices[value]
        else:
            values[name] = value
    for n, (name, kind, info) in enumerate(positional):
        if kind == _LIST:
            if n != len(positional) - 1:
                return None
            values[name], given = (given, []) if given else (info.default, given)
            if values[name] is ...:
                return None
        elif given:
            values[name] = given.pop(0)
        elif info.default is ...:
            return None
        else:
            values[name] = info.default
    if given:
        return None
    return [*calls, (fn, values)]


def _call_direct(calls: list[tuple[Callable[..., object], dict[str, object]]], args: list[str]) -> None:
    """Call a command as Typer's standalone mode would: exit codes, Exit, Abort, usage errors, a closed pipe."""
    import errno
    import os

    click_error: type[Exception] = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")
    try:
        try:
            for fn, kwargs in calls:
                fn(**kwargs)
        except EOFError as exc:
            sys.stderr.write("\n")
            raise typer.Abort() from exc
        except KeyboardInterrupt as exc:
            raise typer.Exit(130) from exc
        except click_error as exc:
            _show_usage_error(exc, args)
            sys.exit(getattr(exc, "exit_code", 2))
        except OSError as exc:
            if exc.errno != errno.EPIPE:
                raise
            sys.stdout = open(os.devnull, "w")  # as click does: no second error when Python flushes at exit
            sys.exit(1)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        try:
            from typer import rich_utils

            rich_utils.rich_abort_error()
        except ImportError:
            sys.stderr.write("Aborted!\n")
        sys.exit(1)


def _show_usage_error(exc: Exception, args: list[str]) -> None:
    """Show a usage error raised by a command body with its usage line, as Typer does (click's context)."""
    import typer.core
    import typer.main

    group = typer.main.get_command(app)
    if getattr(exc, "ctx", None) is None:
        ctx = group.make_context("convcalc", list(args), resilient_parsing=True)
        command = group.get_command(ctx, args[0]) if hasattr(group, "get_command") else None
        if command is not None:
            exc.ctx = command.make_context(args[0], list(args[1:]), parent=ctx, resilient_parsing=True)  # type: ignore[attr-defined]
    if getattr(typer.core, "HAS_RICH", True) and getattr(group, "rich_markup_mode", "rich") is not None:
        from typer import rich_utils

        rich_utils.rich_format_error(exc)  # type: ignore[arg-type]
    else:
        exc.show()  # type: ignore[attr-defined]


# --- CI: check and diff -------------------------------------------------------------------------------------------


class CIFormat(str, enum.Enum):
    table = "table"
    json = "json"
    csv = "csv"
    markdown = "markdown"
    github = "github"
    junit = "junit"


CIFormatOpt = typer.Option(
    CIFormat.table, "--format", "-f",
    help="Output format: table, json, csv, markdown (PR comment / job summary), github (workflow-command "
         "annotations) or junit (XML).")
SummaryOpt = typer.Option(
    None, "--summary", metavar="FILE",
    help="Also append the Markdown report to FILE (e.g. \"$GITHUB_STEP_SUMMARY\").")


def _limit(flag: str, what: str) -> str | None:
    opt: str | None = typer.Option(None, flag, help=what, rich_help_panel="Limits (override budgets files and specs)")
    return opt


def _ci_emit(out: object, fmt: CIFormat, people: str, summary: str | None, markdown: Callable[[], str]) -> None:
    """Write a CI report (text, a table or tables): data to stdout, located problems to stderr, Markdown
    appended to ``summary``."""
    for part in out if isinstance(out, list) else [out]:
        if isinstance(part, str):
            _out(part, {CIFormat.json: "json", CIFormat.junit: "xml"}.get(fmt, "text"))
        else:
            from convcalc.views import Table

            assert isinstance(part, Table)
            _emit_table(part)
    if people and fmt is not CIFormat.github:
        sys.stderr.write(people)
    if summary:
        try:
            with open(summary, "a", encoding="utf-8") as fh:
                fh.write(markdown())
        except OSError as exc:
            sys.stderr.write(f"{summary}: cannot append the summary: {exc.strerror}\n")


@app.command()
def check(
    files: list[str] | None = typer.Argument(None, help="Spec files, directories (every *.yaml/*.yml below), "
                                                       "globs, zoo names or budgets files (default: the specs the "
                                                       "--budgets files name)."),
    budgets: list[str] = typer.Option([], "--budgets", "-b", metavar="FILE",
                                      help="A budgets file: spec paths or globs → budgets (repeatable)."),
    max_params: str | None = _limit("--max-params", "Most parameters, e.g. 5M (SI: 5M = 5,000,000)."),
    max_macs: str | None = _limit("--max-macs", "Most multiply-accumulates, e.g. 600M."),
    max_flops: str | None = _limit("--max-flops", "Most FLOPs (2·MACs + adds + muls + divs), e.g. 1.2G."),
    max_activations: str | None = _limit("--max-activations", "Most activation elements (all layer outputs summed)."),
    max_activation_bytes: str | None = _limit("--max-activation-bytes", "Most activation memory at 4 B/element, "
                                                                 "e.g. 512MiB (KiB = 1024, KB = 1000)."),
    max_peak_activation: str | None = _limit("--max-peak-activation", "Most elements in the largest layer output."),
    max_peak_activation_bytes: str | None = _limit("--max-peak-activation-bytes",
                                                     "Largest layer output at 4 B/element, e.g. 8MiB."),
    min_rf: str | None = _limit("--min-rf", "Smallest receptive field: 200 (both axes) or 200x100 (h×w)."),
    max_rf: str | None = _limit("--max-rf", "Largest receptive field: N or HxW."),
    min_output_stride: str | None = _limit("--min-output-stride", "Smallest effective output stride: N or HxW."),
    max_output_stride: str | None = _limit("--max-output-stride", "Largest effective output stride: N or HxW."),
    rf_at: str | None = _limit("--rf-at", "Measure RF and output stride at this layer or named block "
                                        "(default: the output)."),
    require_budget: bool = typer.Option(False, "--require-budget", help="Fail (exit 1) when a model has no budget."),
    exclude: list[str] = typer.Option([], "--exclude", "-x", metavar="GLOB",
                                      help="Leave out files matching GLOB (repeatable): data/, '*.data.yaml', "
                                           "configs/*.yaml (matched against the path and its trailing parts)."),
    no_discover: bool = typer.Option(False, "--no-discover",
                                     help="Do not look for budgets.yaml next to and above each spec."),
    fmt: CIFormat = CIFormatOpt,
    summary: str | None = SummaryOpt,
    exact: bool = ExactOpt,
) -> None:
    """Check specs against budgets. Exit 0 all within budget, 1 a budget is exceeded, 2 could not check.

    Budgets: the spec's `budget:`, every budgets.yaml from the spec's folder up to the repository root,
    --budgets files and the limit options. Every limit must hold: per limit, the strictest applies.
    YAML files in checked folders that are not specs are skipped and listed.
    """
    from convcalc import budget as b
    from convcalc import ci_render
    from convcalc.gate import check as check_specs

    limits = {k: v for k, v in locals().items() if k in b.BUDGET_KEYS}
    try:
        cli_budget = b.parse_cli(limits)
    except b.OptionError as exc:
        hint = f" ({exc.hint})" if exc.hint else ""
        raise typer.BadParameter(exc.message + hint, param_hint="--" + exc.key.replace("_", "-")) from None
    if not files and not budgets:
        raise typer.BadParameter("give spec files or directories, or --budgets FILE", param_hint="FILES")
    run = check_specs(files or [], budgets, cli_budget, require_budget, exclude, not no_discover)
    _ci_emit(ci_render.check_output(run, fmt.value, exact), fmt,
             ci_render.diagnostics_text(run.errors, run.warnings) + ci_render.skipped_text(run.skipped), summary,
             lambda: ci_render.check_markdown(run))
    raise typer.Exit(run.exit_code)


@app.command()
def diff(
    specs: list[str] | None = typer.Argument(
        None, metavar="BASE HEAD | PATH...",
        help="BASE and HEAD: the old and the new spec (a file, a zoo name, - for standard input, /dev/null or an "
             "empty file for none: a new or a deleted spec), or two directories (specs paired by path). With "
             "--base-ref: the files and directories to compare (default: the current directory)."),
    base_ref: str | None = typer.Option(None, "--base-ref", metavar="REF",
                                        help="Compare every spec under PATH... with its version at git REF (e.g. "
                                             "origin/main): a whole pull request; new files are added, deleted "
                                             "ones removed."),
    fail_above: str | None = typer.Option(None, "--fail-above", metavar="PERCENT",
                                          help="Exit 1 when the params, MACs or FLOPs total grows by more than "
                                               "this, e.g. 5%."),
    all_layers: bool = typer.Option(False, "--all", help="Also list unchanged layers (table and markdown)."),
    fmt: CIFormat = CIFormatOpt,
    summary: str | None = SummaryOpt,
    exact: bool = ExactOpt,
) -> None:
    """Cost change from BASE to HEAD: per-layer and total params, MACs, FLOPs and RF, layers matched by name.

    Exit 0 ok, 1 a total grew past --fail-above, 2 a spec could not be read.
    """
    from convcalc import ci_diff
    from convcalc import diff_many as d
    from convcalc.units import UnitError, parse_percent

    paths = specs or []
    try:
        limit = parse_percent(fail_above) if fail_above is not None else None
    except UnitError as exc:
        raise typer.BadParameter(exc.message, param_hint="--fail-above") from None
    if base_ref is None and len(paths) != 2:
        raise typer.BadParameter(f"give BASE and HEAD (found {len(paths)} specs), or --base-ref REF with paths",
                                 param_hint="BASE HEAD")
    if base_ref is not None:
        result = _guard(lambda: d.diff_against_ref(base_ref, paths, limit))
    else:
        stdin = sys.stdin.read() if "-" in paths else None
        result = _guard(lambda: d.diff_sources(paths[0], paths[1], limit, stdin))
    from convcalc.ci_render import diagnostics_text

    _ci_emit(ci_diff.diff_output(result, fmt.value, exact, all_layers), fmt, diagnostics_text(result.errors), summary,
             lambda: ci_diff.diff_markdown(result, all_layers))
    raise typer.Exit(result.exit_code)
