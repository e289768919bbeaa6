"""The EfficientNet family files (convcalc/zoo/efficientnet.yaml: B0–B7, efficientnet_v2.yaml: V2 S/M/L)
equal torchvision 0.29.1 exactly: params and MACs of every variant at its native size and at 160, B0 also
at 256 (tests/data/torchvision-modern.csv), and torchvision's stage table of every variant
(tests/data/efficientnet-stages.json)."""

from __future__ import annotations

import csv
import json

import pytest

from convcalc.lang.sources import open_source, zoo_names
from convcalc.lang.spec import Settings
from convcalc.metrics.analysis import Report, analyze_document
from tests.conftest import ROOT, invoke

V1 = tuple(f"efficientnet_b{k}" for k in range(8))
V2 = ("efficientnet_v2_s", "efficientnet_v2_m", "efficientnet_v2_l")
VARIANTS = V1 + V2
NATIVE = dict(zip(VARIANTS, (224, 240, 288, 300, 380, 456, 528, 600, 384, 480, 480), strict=True))
ROWS = [r for r in csv.DictReader((ROOT / "tests" / "data" / "torchvision-modern.csv").open())
        if r["model"] in VARIANTS]
STAGES = json.loads((ROOT / "tests" / "data" / "efficientnet-stages.json").read_text())["models"]


def analyze(name: str, settings: Settings | None = None) -> Report:
    (report,) = analyze_document(open_source(name), settings)
    return report


def _native(row: dict[str, str]) -> bool:
    return "off-native size" not in row["notes"]


def test_every_variant_has_its_reference_rows_and_a_zoo_name() -> None:
    want = [(v, NATIVE[v]) for v in VARIANTS] + [(v, 160) for v in VARIANTS] + [("efficientnet_b0", 256)]
    assert sorted((r["model"], int(r["input_h"])) for r in ROWS) == sorted(want)
    assert all(int(r["input_h"]) == NATIVE[r["model"]] for r in ROWS if _native(r))
    assert set(VARIANTS) <= set(zoo_names())
    assert set(STAGES) == set(VARIANTS)


@pytest.mark.parametrize("row", ROWS, ids=lambda r: f"{r['model']}-{r['input_h']}")
def test_params_and_macs_equal_torchvision(row: dict[str, str]) -> None:
    h, w = int(row["input_h"]), int(row["input_w"])
    # the native row is checked at the variant's own default input (no --size), the others with --size
    report = analyze(row["model"]) if _native(row) else analyze(row["model"], Settings(size=(h, w)))
    assert report.name == row["model"]
    assert report.input_shape == (3, h, w)
    assert report.params == int(row["params"]) == int(row["num_params_meta"])
    assert report.macs == int(row["macs"])
    assert report.output_shape == (1000, 1, 1)


@pytest.mark.parametrize("model", VARIANTS)
def test_stage_table_equals_torchvision(model: str) -> None:
    """Stem and head widths, and per stage: block type, number of blocks, output width, stride."""
    want = STAGES[model]
    report = analyze(model)
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
    blocks = {b.name: b.output_shape for b in analyze("efficientnet_b0").blocks}
    assert blocks["features/8"] == (1280, 7, 7)
    assert blocks["features/7"] == (320, 7, 7)
    assert blocks["features"] == (1280, 7, 7)


def test_show_runs_on_the_largest_variants() -> None:
    for model, params in (("efficientnet_b7", "66,347,960"), ("efficientnet_v2_l", "118,515,272")):
        shown = invoke(["show", model, "--exact", "--depth", "1"])
        assert shown.exit_code == 0, shown.output
        assert params in shown.output
