"""The ``memory`` command: weights, gradients, optimizer state, the inference peak and the training
activations of every model in a spec (:mod:`convcalc.metrics.memory`). Registers on the app."""

from __future__ import annotations

import enum

import typer

from convcalc.cli import (
    AlternativeOpt,
    BatchOpt,
    ExactOpt,
    Format,
    FormatOpt,
    SetOpt,
    SizeOpt,
    _alternatives,
    _emit_table,
    _guard,
    _out,
    _settings,
    app,
)


class DType(str, enum.Enum):
    fp32 = "fp32"
    fp16 = "fp16"
    bf16 = "bf16"
    int8 = "int8"


class Optimizer(str, enum.Enum):
    sgd = "sgd"
    momentum = "momentum"
    adam = "adam"
    adamw = "adamw"


DTypeOpt = typer.Option(DType.fp32, "--dtype", help="Bytes per element: fp32, fp16, bf16 or int8 (inference).")
TrainOpt = typer.Option(False, "--train", help="Training: gradients, optimizer state and the activations saved "
                                               "for backward (default: inference).")
OptimizerOpt = typer.Option(Optimizer.adamw, "--optimizer", help="The optimizer's state in training: sgd, "
                                                                 "momentum, adam or adamw.")
MixedOpt = typer.Option(False, "--mixed", help="Mixed precision: fp32 master weights, gradients and optimizer "
                                               "state; activations in --dtype (fp16 or bf16).")
NoInplaceOpt = typer.Option(False, "--no-inplace", help="Run the layers the spec marks in place out of place.")
FoldBNOpt = typer.Option(False, "--fold-bn", help="Inference with batch norm folded into the conv before it.")


def memory_options(dtype: DType, train: bool, optimizer: Optimizer, mixed: bool, no_inplace: bool,
                   fold_bn: bool) -> object:
    """The library's MemoryOptions of the command line's flags (checked: a usage error exits 2)."""
    from convcalc.metrics.memory import MemoryOptions

    opts = MemoryOptions(dtype.value, train, optimizer.value, mixed, not no_inplace, fold_bn)
    _guard(opts.check)
    return opts


@app.command()
def memory(
    spec: str = typer.Argument(..., help="A spec file or a zoo model name."),
    fmt: Format = FormatOpt,
    exact: bool = ExactOpt,
    dtype: DType = DTypeOpt,
    train: bool = TrainOpt,
    optimizer: Optimizer = OptimizerOpt,
    mixed: bool = MixedOpt,
    no_inplace: bool = NoInplaceOpt,
    fold_bn: bool = FoldBNOpt,
    alternative: str | None = AlternativeOpt,
    set_: list[str] | None = SetOpt,
    size: str | None = SizeOpt,
    batch: str | None = BatchOpt,
) -> None:
    """Memory of every model in SPEC: weights, buffers, (training) gradients, optimizer state and activations
    saved for backward, and the inference peak of live tensors with what is alive at it; per layer too."""
    from convcalc.lang.sources import open_source
    from convcalc.metrics.analysis import analyze_document
    from convcalc.metrics.memory import MemoryOptions
    from convcalc.outputs import render
    from convcalc.outputs.memory_view import layers_table, memory_csv, summary_table

    opts = memory_options(dtype, train, optimizer, mixed, no_inplace, fold_bn)
    assert isinstance(opts, MemoryOptions)
    settings = _settings(set_, size, batch)
    reports = _alternatives(_guard(lambda: analyze_document(open_source(spec), settings, memory=opts)),
                            alternative)
    import sys

    for r in reports:
        for w in r.warnings:
            sys.stderr.write(f"warning: {r.name}: {w}\n")
    if fmt is Format.json:
        _out(render.models_json(reports), "json")
        return
    if fmt is Format.csv:
        _out(memory_csv(reports))
        return
    tables = []
    for r in reports:
        assert r.memory is not None
        tables += [summary_table(r, r.memory, exact), layers_table(r, r.memory, exact)]
    if fmt is Format.markdown:
        _out("\n".join(render.markdown(t) for t in tables))
    else:
        for t in tables:
            _emit_table(t)
