"""The CI commands of the command line: ``convcalc check`` and ``convcalc diff`` (registered on the one app)."""

from __future__ import annotations

import enum
import sys
from collections.abc import Callable

import typer

from convcalc.cli import BatchOpt, ExactOpt, SetOpt, SizeOpt, _emit_table, _guard, _out, _settings, app

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


def _rf_limit(flag: str, what: str) -> list[str] | None:
    """A receptive-field limit: for the model (every output), or ``NAME=…`` for one output; repeatable."""
    opt: list[str] | None = typer.Option(
        None, flag, metavar="[NAME=]N|HxW", rich_help_panel="Limits (override budgets files and specs)",
        help=what + " NAME=…: that output only (repeatable).")
    return opt


def _ci_emit(out: object, fmt: CIFormat, people: str, summary: str | None, markdown: Callable[[], str]) -> None:
    """Write a CI report (text, a table or tables): data to stdout, located problems to stderr, Markdown
    appended to ``summary``."""
    for part in out if isinstance(out, list) else [out]:
        if isinstance(part, str):
            _out(part, {CIFormat.json: "json", CIFormat.junit: "xml"}.get(fmt, "text"))
        else:
            from convcalc.outputs.views import Table

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
    min_rf: list[str] | None = _rf_limit("--min-rf", "Smallest receptive field of every output unit: 200 (both "
                                                     "axes) or 200x100 (h×w)."),
    max_rf: list[str] | None = _rf_limit("--max-rf", "Largest receptive field: N or HxW."),
    min_output_stride: list[str] | None = _rf_limit("--min-output-stride", "Smallest effective output stride: N "
                                                                           "or HxW."),
    max_output_stride: list[str] | None = _rf_limit("--max-output-stride", "Largest effective output stride: N "
                                                                           "or HxW."),
    rf_at: str | None = _limit("--rf-at", "Measure RF and output stride at this layer or named block "
                                        "(default: the output)."),
    max_peak_memory: str | None = _limit("--max-peak-memory", "Most bytes of live tensors at inference (the peak, "
                                                              "in --dtype), e.g. 64MiB."),
    max_train_memory: str | None = _limit("--max-train-memory", "Most training memory: weights, gradients, "
                                                                "optimizer state, saved activations, e.g. 16GiB."),
    max_latency_bound: str | None = _limit("--max-latency-bound", "Largest roofline lower bound on latency on "
                                                                  "--device, e.g. 5ms."),
    dtype: str | None = _limit("--dtype", "dtype of the memory and latency limits: fp32 (default), fp16, bf16, "
                                          "int8."),
    optimizer: str | None = _limit("--optimizer", "Optimizer of --max-train-memory: sgd, momentum, adam, adamw "
                                                  "(default)."),
    train_batch: str | None = _limit("--train-batch", "Batch of --max-train-memory (default: the spec's)."),
    mixed: bool = typer.Option(False, "--mixed", help="Mixed precision for --max-train-memory."),
    device: str | None = _limit("--device", "Device profile of --max-latency-bound: a bundled name (convcalc "
                                            "devices) or a YAML file."),
    require_budget: bool = typer.Option(False, "--require-budget", help="Fail (exit 1) when a model has no budget."),
    exclude: list[str] = typer.Option([], "--exclude", "-x", metavar="GLOB",
                                      help="Leave out files matching GLOB (repeatable): data/, '*.data.yaml', "
                                           "configs/*.yaml (matched against the path and its trailing parts)."),
    no_discover: bool = typer.Option(False, "--no-discover",
                                     help="Do not look for budgets.yaml next to and above each spec."),
    set_: list[str] | None = SetOpt,
    size: str | None = SizeOpt,
    batch: str | None = BatchOpt,
    fmt: CIFormat = CIFormatOpt,
    summary: str | None = SummaryOpt,
    exact: bool = ExactOpt,
) -> None:
    """Check specs against budgets. Exit 0 all within budget, 1 a budget is exceeded, 2 could not check.

    Budgets: the spec's `budget:`, every budgets.yaml from the spec's folder up to the repository root,
    --budgets files and the limit options. Every limit must hold: per limit, the strictest applies.
    YAML files in checked folders that are not specs are skipped and listed.
    """
    from convcalc.ci import budget as b
    from convcalc.ci.gate import check as check_specs
    from convcalc.outputs import ci_render

    limits = {k: v for k, v in locals().items() if k in b.BUDGET_KEYS and k != "mixed"}
    limits["mixed"] = "true" if mixed else None
    try:
        cli_budget = b.parse_cli(limits)
    except b.OptionError as exc:
        hint = f" ({exc.hint})" if exc.hint else ""
        raise typer.BadParameter(exc.message + hint, param_hint="--" + exc.key.replace("_", "-")) from None
    if not files and not budgets:
        raise typer.BadParameter("give spec files or directories, or --budgets FILE", param_hint="FILES")
    run = check_specs(files or [], budgets, cli_budget, require_budget, exclude, not no_discover,
                      _settings(set_, size, batch))
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
    set_: list[str] | None = SetOpt,
    size: str | None = SizeOpt,
    batch: str | None = BatchOpt,
    fmt: CIFormat = CIFormatOpt,
    summary: str | None = SummaryOpt,
    exact: bool = ExactOpt,
) -> None:
    """Cost change from BASE to HEAD: per-layer and total params, MACs, FLOPs and RF, layers matched by name.

    Exit 0 ok, 1 a total grew past --fail-above, 2 a spec could not be read.
    """
    from convcalc.ci import diff_many as d
    from convcalc.outputs import ci_diff
    from convcalc.units import UnitError, parse_percent

    paths = specs or []
    settings = _settings(set_, size, batch)
    try:
        limit = parse_percent(fail_above) if fail_above is not None else None
    except UnitError as exc:
        raise typer.BadParameter(exc.message, param_hint="--fail-above") from None
    if base_ref is None and len(paths) != 2:
        raise typer.BadParameter(f"give BASE and HEAD (found {len(paths)} specs), or --base-ref REF with paths",
                                 param_hint="BASE HEAD")
    if base_ref is not None:
        result = _guard(lambda: d.diff_against_ref(base_ref, paths, limit, settings))
    else:
        stdin = sys.stdin.read() if "-" in paths else None
        result = _guard(lambda: d.diff_sources(paths[0], paths[1], limit, stdin, settings))
    from convcalc.outputs.ci_render import diagnostics_text

    _ci_emit(ci_diff.diff_output(result, fmt.value, exact, all_layers), fmt, diagnostics_text(result.errors), summary,
             lambda: ci_diff.diff_markdown(result, all_layers))
    raise typer.Exit(result.exit_code)
