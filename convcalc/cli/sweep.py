"""``convcalc sweep``: specs over the product of parameter values, sizes and batches. Registers on the app."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

import typer

from convcalc.cli import (
    AlternativeOpt,
    ExactOpt,
    Format,
    FormatOpt,
    _emit_table,
    _guard,
    _out,
    app,
    check_picture,
    write_pictures,
)

if TYPE_CHECKING:
    from convcalc.ci.budget import Budget
    from convcalc.sweep.axes import Axis
    from convcalc.sweep.run import SweepRow


def _usage(option: str, message: str, hint: str = "") -> typer.Exit:
    from convcalc.errors import Diagnostic, Location, UsageError

    sys.stderr.write(UsageError([Diagnostic(Location(option, 0, 0), (), message, hint)]).render() + "\n")
    return typer.Exit(2)


def _axes(sets: list[str] | None, size: str | None, batch: str | None) -> list[Axis]:
    from convcalc.sweep.axes import AxisError, parse_axes

    try:
        return parse_axes(sets or [], size, batch)
    except AxisError as exc:
        raise _usage(exc.option, f"expected {exc.expected}, found {exc.found!r}") from None


def _limits(given: list[str], rf_at: str | None) -> Budget:
    """``--budget KEY=VALUE`` and ``--rf-at`` (which wins over a ``--budget rf_at=``) as check's command-line
    limits (a usage error exits 2)."""
    from convcalc.ci import budget as b
    from convcalc.lang.hints import did_you_mean

    values: dict[str, list[str]] = {}
    keys = [*b.METRICS, *b.OPTION_KEYS, b.RF_AT]
    for text in given:
        key, sep, value = text.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or key not in keys:
            hint = did_you_mean(key, keys) if sep else "e.g. --budget max_macs=300M"
            raise _usage("--budget", f"expected KEY=VALUE with a budget key, found {text!r}", hint)
        values.setdefault(key, []).append(value.strip())
    if rf_at is not None:
        values[b.RF_AT] = [rf_at]
    try:
        return b.parse_cli({k: v if k in b.OUTPUT_KEYS else v[-1] for k, v in values.items()})
    except b.OptionError as exc:
        raise _usage(f"--budget {exc.key}", exc.message, exc.hint) from None


def _progress(total: int) -> tuple[Callable[[int, int], None], Callable[[], None]]:
    """A progress bar on stderr, only on a terminal and only once the sweep has taken more than a moment."""
    if not sys.stderr.isatty() or total < 2:
        return (lambda done, total: None), (lambda: None)
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    start = time.perf_counter()
    bar: list[Progress] = []

    def update(done: int, total: int) -> None:
        if not bar and time.perf_counter() - start > 0.5 and done < total:
            p = Progress(TextColumn("sweep"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                         console=Console(stderr=True), transient=True)
            p.add_task("sweep", total=total)
            p.start()
            bar.append(p)
        if bar:
            bar[0].update(bar[0].task_ids[0], completed=done)

    def stop() -> None:
        if bar:
            bar[0].stop()

    return update, stop


@app.command()
def sweep(
    specs: list[str] = typer.Argument(..., help="Spec files or zoo names; each is swept over every configuration."),
    set_: list[str] | None = typer.Option(
        None, "--set", metavar="NAME=VALUES",
        help="A parameter of the spec's params: and its values: width=0.5,0.75,1.0 or a range width=0.5:1.0:0.25 "
             "(START:STOP:STEP, STOP included). Repeatable: several parameters give their product."),
    size: str | None = typer.Option(None, "--size", metavar="SIZES",
                                    help="Input sizes: 224, a list 160,224,240x320, or a range 160:320:32."),
    batch: str | None = typer.Option(None, "--batch", metavar="BATCHES", help="Batches: 8, 1,8,32 or 1:64:8."),
    fmt: Format = FormatOpt,
    exact: bool = ExactOpt,
    jobs: int = typer.Option(1, "--jobs", "-j", min=1, metavar="N", help="Run the configurations in N processes."),
    pareto: str | None = typer.Option(
        None, "--pareto", metavar="METRICS",
        help="Keep only the Pareto front of these metrics: params, macs, flops, activations, peak_memory (smaller "
             "is better), rf (larger is better), e.g. --pareto params,macs."),
    limits: list[str] | None = typer.Option(
        None, "--budget", metavar="KEY=VALUE",
        help="A limit of check's (repeatable), e.g. --budget max_macs=300M --budget max_peak_memory=8MiB "
             "(the budget keys of `convcalc schema`; dtype=, train_batch=, … set how memory is measured)."),
    budgets: list[str] | None = typer.Option(
        None, "--budgets", metavar="FILE",
        help="A budgets file whose limits apply too (repeatable), besides the spec's own and the budgets.yaml "
             "files found next to it, as in check."),
    rf_at: str | None = typer.Option(None, "--rf-at", metavar="LAYER",
                                     help="Measure RF and stride at this layer or named block (default: the "
                                          "output), as check --rf-at does; a budget's rf_at otherwise."),
    plot: str | None = typer.Option(None, "--plot", metavar="FILE.png|svg",
                                    help="Also draw each metric against the first swept parameter, one line per "
                                         "value of the others, budgets as dashed lines (PNG or SVG; needs "
                                         "matplotlib, the plot extra)."),
    alternative: str | None = AlternativeOpt,
) -> None:
    """One row per configuration (the product of --set, --size and --batch values) of each spec: params, MACs,
    FLOPs, activations, peak memory, RF and stride, and each budget's verdict. A configuration that cannot be
    analysed is a row with its reason. Exit 0 when some configuration was analysed, 2 when none could be."""
    from convcalc.sweep.axes import grid, swept
    from convcalc.sweep.pareto import pareto_front, parse_metrics
    from convcalc.sweep.run import load_target, run_sweep

    axes = _axes(set_, size, batch)
    if plot is not None:
        check_picture(plot)
    metrics: list[str] | None = None
    if pareto is not None:
        try:
            metrics = parse_metrics(pareto)
        except ValueError as exc:
            raise _usage("--pareto", str(exc)) from None
    cli_budget = _limits(limits or [], rf_at)
    configs = _guard(lambda: grid(axes))
    targets = [_guard(partial(load_target, s, tuple(budgets or ()))) for s in specs]
    update, stop = _progress(len(targets) * len(configs))
    try:
        rows = _guard(lambda: run_sweep(targets, configs, jobs, update, cli_budget))
    finally:
        stop()
    if alternative is not None:
        rows = _only(rows, alternative)
    failed = sum(not r.ok for r in rows)
    if failed == len(rows) and len({r.detail for r in rows}) == 1:  # not one configuration's problem: the spec's
        sys.stderr.write(f"{rows[0].detail}\n")
        raise typer.Exit(2)
    shown = rows if metrics is None else pareto_front(rows, metrics)
    names = swept(axes)
    _emit(shown, axes, names, fmt, exact, metrics)
    if failed:
        sys.stdout.flush()
        sys.stderr.write(f"sweep: {failed} of {len(rows)} rows could not be analysed"
                         + (" (left out of the Pareto front)" if metrics is not None else "; see the reasons under the "
                            "table" if fmt in (Format.table, Format.markdown) else "; see their error") + "\n")
    if plot is not None:
        _plot(plot, rows, axes)
    if failed == len(rows):
        raise typer.Exit(2)


def _only(rows: list[SweepRow], name: str) -> list[SweepRow]:
    """The rows of the alternative called ``name`` (a failed configuration's row is kept: it has no models)."""
    out = [r for r in rows if r.model == name or not r.ok]
    if not any(r.ok for r in out) and any(r.ok for r in rows):
        names = ", ".join(repr(n) for n in dict.fromkeys(r.model for r in rows if r.ok))
        raise _usage("--alternative", f"no alternative named {name!r}", f"The alternatives: {names}")
    return out


def _plot(path: str, rows: list[SweepRow], axes: list[Axis]) -> None:
    """Draw the sweep to ``path`` (PNG or SVG, checked before the sweep ran)."""
    from convcalc.outputs import plot as pictures

    write_pictures(path, [("sweep", partial(pictures.sweep_figure, rows, axes))])


def _emit(rows: list[SweepRow], axes: list[Axis], names: list[str], fmt: Format, exact: bool,
          metrics: list[str] | None) -> None:
    from convcalc.outputs import render
    from convcalc.outputs.sweep_view import sweep_csv, sweep_json, sweep_table

    if fmt is Format.json:
        _out(sweep_json(rows, axes, metrics), "json")
        return
    if fmt is Format.csv:
        _out(sweep_csv(rows, names))
        return
    title = "sweep: " + ", ".join(dict.fromkeys(r.source for r in rows)) if rows else "sweep"
    notes = [f"Pareto front of {', '.join(metrics)}: {len(rows)} rows"] if metrics is not None else []
    table = sweep_table(rows, names, exact, title, notes)
    if fmt is Format.markdown:
        _out(render.markdown(table))
    else:
        _emit_table(table)
