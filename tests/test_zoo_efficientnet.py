"""The EfficientNet family files (convcalc/zoo/efficientnet.yaml: B0–B7, efficientnet_v2.yaml: V2 S/M/L)
equal torchvision 0.29.1 exactly: params and MACs of every variant at its native size and at 160, B0 also
at 256 (tests/data/torchvision-modern.csv), and torchvision's stage table of every variant
(tests/data/efficientnet-stages.json)."""

from __future__ import annotations

import json

import pytest

from convcalc.lang.sources import zoo_names
from tests.conftest import ROOT, check_reference_row, invoke, is_native, reference_rows, zoo_report

V1 = tuple(f"efficientnet_b{k}" for k in range(8))
V2 = ("efficientnet_v2_s", "efficientnet_v2_m", "efficientnet_v2_l")
VARIANTS = V1 + V2
NATIVE = dict(zip(VARIANTS, (224, 240, 288, 300, 380, 456, 528, 600, 384, 480, 480), strict=True))
ROWS = reference_rows(VARIANTS)
STAGES = json.loads((ROOT / "tests" / "data" / "efficientnet-stages.json").read_text())["models"]


def test_every_variant_has_its_reference_rows_and_a_zoo_name() -> None:
    want = [(v, NATIVE[v]) for v in VARIANTS] + [(v, 160) for v in VARIANTS] + [("efficientnet_b0", 256)]
    assert sorted((r["model"], int(r["input_h"])) for r in ROWS) == sorted(want)
    assert all(int(r["input_h"]) == NATIVE[r["model"]] for r in ROWS if is_native(r))
    assert set(VARIANTS) <= set(zoo_names())
    assert set(STAGES) == set(VARIANTS)


@pytest.mark.parametrize("row", ROWS, ids=lambda r: f"{r['model']}-{r['input_h']}")
def test_params_and_macs_equal_torchvision(row: dict[str, str]) -> None:
    check_reference_row(row)


@pytest.mark.parametrize("model", VARIANTS)
def test_stage_table_equals_torchvision(model: str) -> None:
    """Stem and head widths, and per stage: block type, number of blocks, output width, stride."""
    want = STAGES[model]
    report = zoo_report(model)
    blocks = {b.name: b.output_shape for b in report.blocks}
    layers = [row.name for row in report.layers]
    stages = want["stages"]
    assert blocks["features/0"][0] == want["stem_channels"] == stages[0]["in_channels"]
    assert blocks[f"features/{len(stages) + 1}"][0] == want["head_channels"]
    assert f"features/{len(stages) + 2}" not in blocks
    size = NATIVE[model] // 2
    for k, stage in enumerate(stages, start=1):
        prefix = f"features/{k}/"
        count = len({name[len(prefix):].split("/")[0] for name in layers if name.startswith(prefix)})
        depthwise = any(name.startswith(prefix) and "/depthwise/" in name for name in layers)
        size = -(-size // stage["stride"])
        got = {"block": "MBConv" if depthwise else "FusedMBConv", "num_layers": count,
               "out_channels": blocks[f"features/{k}"][0], "size": blocks[f"features/{k}"][1:]}
        assert got == {"block": stage["block"], "num_layers": stage["num_layers"],
                       "out_channels": stage["out_channels"], "size": (size, size)}, f"stage {k}"


def test_efficientnet_b0_last_feature_map_is_1280x7x7() -> None:
    blocks = {b.name: b.output_shape for b in zoo_report("efficientnet_b0").blocks}
    assert blocks["features/8"] == (1280, 7, 7)
    assert blocks["features/7"] == (320, 7, 7)
    assert blocks["features"] == (1280, 7, 7)


def test_show_runs_on_the_largest_variants() -> None:
    for model, params in (("efficientnet_b7", "66,347,960"), ("efficientnet_v2_l", "118,515,272")):
        shown = invoke(["show", model, "--exact", "--depth", "1"])
        assert shown.exit_code == 0, shown.output
        assert params in shown.output
