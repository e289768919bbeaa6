"""Every layer kind has every rule, in one place; every block kind and layer kind is in the schema."""

from __future__ import annotations

import inspect
from pathlib import Path

from convcalc.kinds import KINDS
from convcalc.kinds.core import Kind
from convcalc.outputs.schema import spec_schema

RULES = ("shape", "cost", "rf", "channels", "torch", "memory")


def test_every_kind_has_every_rule() -> None:
    declared = set(Kind._fields)
    assert set(RULES) <= declared
    for name, kind in KINDS.items():
        for rule in RULES:
            assert callable(getattr(kind, rule)), (name, rule)
        assert kind.name == name


def test_every_rule_of_a_kind_is_in_its_family_module() -> None:
    """Readable in one place: a kind's shape, cost and receptive-field rules live in the module that
    registers it (its PyTorch rule too, which may use helpers from ``torch_modules``)."""
    for name, kind in KINDS.items():
        home = inspect.getmodule(kind.cost)
        assert home is not None and home.__name__.startswith("convcalc.kinds."), name
        for rule in ("torch", "memory"):
            assert inspect.getmodule(getattr(kind, rule)).__name__.startswith("convcalc.kinds."), (name, rule)


def test_every_cost_rule_has_a_formula_docstring() -> None:
    for name, kind in KINDS.items():
        assert kind.cost.__doc__ and kind.cost.__doc__.strip(), name
        assert kind.shape.__doc__ and kind.shape.__doc__.strip(), name
        assert kind.rf.__doc__ and kind.rf.__doc__.strip(), name
        assert kind.channels.__doc__ and kind.channels.__doc__.strip(), name
        assert kind.memory is not None and kind.memory.__doc__ and kind.memory.__doc__.strip(), name


def test_every_kind_reads_what_its_shape_says() -> None:
    """The receptive-field rule agrees with the shape rule: on a 12×10 input (or 1×1 for linear), every output
    unit of one period reads input units, and a map's reads shift by ``shift`` input units per ``period``
    output units, i.e. the jump is input size / output size for resizes and pools that cover the map."""
    from fractions import Fraction

    from convcalc.kinds.core import Layer, Shape
    from convcalc.kinds.reads import Reads

    samples = {"adaptive_avgpool": {"size": (4, 3)}, "upsample": {"size": (18, 15), "mode": "bilinear"}}
    for name, args in samples.items():
        kind = KINDS[name]
        layer = Layer(name, name, kind.args(**args))
        inp = Shape(2, 12, 10)
        out = kind.shape(layer, inp)
        for ax, (i, o) in enumerate(((inp.h, out.h), (inp.w, out.w))):
            reads = kind.rf(layer, inp)[ax]
            assert isinstance(reads, Reads)
            assert Fraction(reads.shift, reads.period) == Fraction(i, o), (name, ax)
            assert all(phase for phase in reads.phases), (name, ax)


def test_schema_lists_every_kind() -> None:
    text = str(spec_schema())
    for kind in KINDS:
        assert f"'{kind}'" in text, kind


def test_design_kinds_are_all_supported() -> None:
    required = {
        "conv", "dwconv", "pwconv", "separable", "deconv", "maxpool", "avgpool", "global_avgpool",
        "adaptive_avgpool", "bn", "relu", "relu6", "leaky_relu", "sigmoid", "tanh", "gelu", "silu", "hardswish",
        "hardsigmoid", "linear", "flatten", "dropout", "channel_shuffle", "se", "deform",
        # spec format 2
        "layernorm", "groupnorm", "layer_scale", "scale", "pixel_shuffle", "pixel_unshuffle", "adaptive_maxpool",
        "drop_path", "prelu", "mish", "elu", "softmax",
    }
    assert required <= set(KINDS)


def test_no_package_file_is_over_the_size_limit() -> None:
    root = Path(__file__).resolve().parent.parent / "convcalc"
    long = {str(p.relative_to(root)): n for p in root.rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > 430}
    assert not long
