"""Every layer kind has every handler, every block kind is in the schema."""

from __future__ import annotations

from convcalc.costs import COSTS
from convcalc.layers import KINDS
from convcalc.receptive import RECEPTIVE
from convcalc.schema import spec_schema
from convcalc.shapes import SHAPES


def test_every_kind_has_every_handler() -> None:
    kinds = set(KINDS)
    assert set(SHAPES) == kinds
    assert set(COSTS) == kinds
    assert set(RECEPTIVE) == kinds


def test_every_cost_handler_has_a_formula_docstring() -> None:
    for kind, fn in COSTS.items():
        assert fn.__doc__ and fn.__doc__.strip(), kind


def test_schema_lists_every_kind() -> None:
    text = str(spec_schema())
    for kind in KINDS:
        assert f"'{kind}'" in text, kind


def test_design_kinds_are_all_supported() -> None:
    required = {
        "conv", "dwconv", "pwconv", "separable", "deconv", "maxpool", "avgpool", "global_avgpool",
        "adaptive_avgpool", "bn", "relu", "relu6", "leaky_relu", "sigmoid", "tanh", "gelu", "silu", "hardswish",
        "hardsigmoid", "linear", "flatten", "dropout", "channel_shuffle", "se", "deform",
    }
    assert required <= set(KINDS)
