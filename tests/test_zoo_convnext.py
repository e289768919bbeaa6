"""The ConvNeXt family file (convcalc/zoo/convnext.yaml) equals torchvision 0.29.1 exactly, for every
variant at its native size and at 160 (tests/data/torchvision-modern.csv)."""

from __future__ import annotations

import pytest

from convcalc.lang.sources import zoo_names
from tests.conftest import check_reference_row, invoke, reference_rows, zoo_report

VARIANTS = ("convnext_tiny", "convnext_small", "convnext_base", "convnext_large")
ROWS = reference_rows(VARIANTS)


def test_every_variant_has_a_native_and_a_160_reference_row() -> None:
    assert sorted((r["model"], r["input_h"]) for r in ROWS) == sorted(
        (v, s) for v in VARIANTS for s in ("224", "160"))
    assert set(VARIANTS) <= set(zoo_names())


@pytest.mark.parametrize("row", ROWS, ids=lambda r: f"{r['model']}-{r['input_h']}")
def test_params_and_macs_equal_torchvision(row: dict[str, str]) -> None:
    check_reference_row(row)


def test_convnext_tiny_stage_output_shapes_at_224() -> None:
    blocks = {b.name: b.output_shape for b in zoo_report("convnext_tiny").blocks}
    stages = [blocks[f"features/{k}"] for k in (1, 3, 5, 7)]
    assert stages == [(96, 56, 56), (192, 28, 28), (384, 14, 14), (768, 7, 7)]
    assert blocks["features/0"] == (96, 56, 56)      # the 4x4 stride-4 stem


def test_convnext_tiny_block_layers_read_like_torchvision() -> None:
    rows = {r.name: r for r in zoo_report("convnext_tiny").layers}
    # features.1.0.block.3 is Linear(96, 384) at each of 56x56 positions: 96*384 + 384 params
    assert rows["features/1/0/block/3"].cost.params == 96 * 384 + 384
    assert rows["features/1/0/block/3"].cost.macs == 56 * 56 * 96 * 384
    assert rows["features/1/0/block/0"].cost.params == 96 * 49 + 96    # 7x7 depthwise with bias
    assert rows["features/1/0/block/2"].cost.params == 2 * 96          # LayerNorm γ, β
    assert rows["features/1/0/layer_scale"].cost.params == 96
    assert rows["classifier/2"].cost.params == 768 * 1000 + 1000
    assert sum(1 for name in rows if name.endswith("/stochastic_depth")) == 3 + 3 + 9 + 3


def test_show_and_rf_run_on_convnext_tiny() -> None:
    shown = invoke(["show", "convnext_tiny", "--exact"])
    assert shown.exit_code == 0, shown.output
    assert "28,589,128" in shown.output and "4,455,531,264" in shown.output
    rf = invoke(["rf", "convnext_tiny"])
    assert rf.exit_code == 0, rf.output
    assert "features/7/2/block/5" in rf.output
