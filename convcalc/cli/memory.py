"""The ``memory`` command (weights, gradients, optimizer state, the inference peak and the training
activations: :mod:`convcalc.metrics.memory`) and ``roofline`` (a lower bound on latency on a device:
:mod:`convcalc.metrics.roofline`; ``compare --device`` too). Register on the app."""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING

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
    _reports,
    _settings,
    app,
)

if TYPE_CHECKING:
    from convcalc.metrics.memory import MemoryOptions


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
                   fold_bn: bool) -> MemoryOptions:
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
    from convcalc.outputs import render
    from convcalc.outputs.memory_view import layers_table, memory_csv, summary_table

    opts = memory_options(dtype, train, optimizer, mixed, no_inplace, fold_bn)
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


DeviceOpt = typer.Option(..., "--device", "-d", metavar="NAME|FILE",
                         help="A bundled device profile (convcalc devices) or a device YAML file.")


@app.command()
def roofline(
    spec: str = typer.Argument(..., help="A spec file or a zoo model name."),
    device: str = DeviceOpt,
    fmt: Format = FormatOpt,
    exact: bool = ExactOpt,
    dtype: DType = DTypeOpt,
    alternative: str | None = AlternativeOpt,
    set_: list[str] | None = SetOpt,
    size: str | None = SizeOpt,
    batch: str | None = BatchOpt,
) -> None:
    """A lower bound on latency on a device, per layer: FLOPs, the least bytes moved, arithmetic intensity,
    max(FLOPs / peak, bytes / bandwidth) and which limit binds. A bound, never a prediction."""
    from convcalc.lang.device import load_device
    from convcalc.metrics.roofline import roofline as bound
    from convcalc.outputs import render
    from convcalc.outputs.roofline_view import roofline_csv, roofline_json, roofline_table

    dev = _guard(lambda: load_device(device))
    reports = _alternatives(_reports(spec, _settings(set_, size, batch)), alternative)
    bounds = _guard(lambda: [bound(r, dev, dtype.value) for r in reports])
    if fmt is Format.json:
        _out(roofline_json(reports, bounds), "json")
    elif fmt is Format.csv:
        _out(roofline_csv(reports, bounds))
    elif fmt is Format.markdown:
        _out("\n".join(render.markdown(roofline_table(r, b, exact)) for r, b in zip(reports, bounds, strict=True)))
    else:
        for r, b in zip(reports, bounds, strict=True):
            _emit_table(roofline_table(r, b, exact))


def emit_compare_bounds(c: object, device: str, dtype: str, fmt: Format, exact: bool, title: str) -> None:
    """``compare --device``: the alternatives' MACs next to their latency bounds, and both ratios."""
    from convcalc.lang.device import load_device
    from convcalc.metrics.analysis import Comparison
    from convcalc.metrics.roofline import roofline as bound
    from convcalc.outputs import render
    from convcalc.outputs.roofline_view import compare_bounds_table, roofline_dict

    assert isinstance(c, Comparison)
    dev = _guard(lambda: load_device(device))
    bounds = _guard(lambda: [bound(r, dev, dtype) for r in c.alternatives])
    if fmt is Format.json:
        import json

        doc = json.loads(render.comparison_json(c))
        base = bounds[0].bound_s
        for alt, b in zip(doc["alternatives"], bounds, strict=True):
            alt["roofline"] = roofline_dict(b)
            alt["ratios"]["latency_bound"] = float(b.bound_s / base) if base else None
        _out(render.dumps(doc), "json")
    elif fmt is Format.csv:
        from convcalc.outputs.render import _csv

        base = bounds[0].bound_s
        _out(_csv(["name", "macs", "macs_ratio", "device", "dtype", "bytes", "latency_bound_s", "bound_ratio",
                   "memory_bound_s"],
                  [[lab, r.macs, c.ratio(r, "macs"), b.device.name, b.dtype, b.bytes, float(b.bound_s),
                    float(b.bound_s / base) if base else None, float(b.memory_bound_s)]
                   for r, lab, b in zip(c.alternatives, c.labels, bounds, strict=True)]))
    elif fmt is Format.markdown:
        _out(render.markdown(compare_bounds_table(c, bounds, exact, title)))
    else:
        _emit_table(compare_bounds_table(c, bounds, exact, title))
