"""The DenseNet, ShuffleNetV2 and RegNet family files (convcalc/zoo/densenet.yaml, shufflenet_v2.yaml,
regnet.yaml) equal torchvision 0.29.1 exactly, for every variant at its weights' input size and at 160
(tests/data/torchvision-modern.csv; the three models that were in the zoo before, densenet121,
shufflenet_v2_x1_0 and regnet_x_400mf, have their 224 rows in tests/data/torchvision-zoo.csv, checked by
tests/test_zoo.py, and their 160 rows here)."""

from __future__ import annotations

import math

import pytest
import yaml

from convcalc.lang.sources import zoo_names
from convcalc.metrics.analysis import LayerRow, Report
from convcalc.zoo import FAMILIES
from tests.conftest import ROOT, check_reference_row, reference_rows, zoo_report

ZOO = ROOT / "convcalc" / "zoo"
DENSENETS = ("densenet121", "densenet161", "densenet169", "densenet201")
SHUFFLENETS = ("shufflenet_v2_x0_5", "shufflenet_v2_x1_0", "shufflenet_v2_x1_5", "shufflenet_v2_x2_0")
REGNETS = (*(f"regnet_x_{s}" for s in ("400mf", "800mf", "1_6gf", "3_2gf", "8gf", "16gf", "32gf")),
           *(f"regnet_y_{s}" for s in ("400mf", "800mf", "1_6gf", "3_2gf", "8gf", "16gf", "32gf", "128gf")))
VARIANTS = DENSENETS + SHUFFLENETS + REGNETS
BEFORE = ("densenet121", "shufflenet_v2_x1_0", "regnet_x_400mf")   # their 224 rows: torchvision-zoo.csv
ROWS = reference_rows(VARIANTS)

# torchvision's BlockParams.from_init_params arguments (depth, w_0, w_a, w_m, group_width) of each RegNet
REGNET_ARGS = {
    "regnet_x_400mf": (22, 24, 24.48, 2.54, 16), "regnet_x_800mf": (16, 56, 35.73, 2.28, 16),
    "regnet_x_1_6gf": (18, 80, 34.01, 2.25, 24), "regnet_x_3_2gf": (25, 88, 26.31, 2.25, 48),
    "regnet_x_8gf": (23, 80, 49.56, 2.88, 120), "regnet_x_16gf": (22, 216, 55.59, 2.1, 128),
    "regnet_x_32gf": (23, 320, 69.86, 2.0, 168), "regnet_y_400mf": (16, 48, 27.89, 2.09, 8),
    "regnet_y_800mf": (14, 56, 38.84, 2.4, 16), "regnet_y_1_6gf": (27, 48, 20.71, 2.65, 24),
    "regnet_y_3_2gf": (21, 80, 42.63, 2.66, 24), "regnet_y_8gf": (17, 192, 76.82, 2.19, 56),
    "regnet_y_16gf": (18, 200, 106.23, 2.48, 112), "regnet_y_32gf": (20, 232, 115.89, 2.53, 232),
    "regnet_y_128gf": (27, 456, 160.83, 2.52, 264),
}


def _layers(report: Report) -> dict[str, LayerRow]:
    return {x.name: x for x in report.layers}


def _out(report: Report, name: str) -> int:
    return int(_layers(report)[name].output_shape[0])


def test_every_variant_has_its_reference_rows_and_is_in_the_zoo() -> None:
    native = {"regnet_y_128gf": "384"}
    want = [(v, native.get(v, "224")) for v in VARIANTS if v not in BEFORE] + [(v, "160") for v in VARIANTS]
    assert sorted((r["model"], r["input_h"]) for r in ROWS) == sorted(want)
    assert all(r["input_h"] == r["input_w"] for r in ROWS)
    assert FAMILIES["densenet"] == DENSENETS
    assert FAMILIES["shufflenet_v2"] == SHUFFLENETS
    assert FAMILIES["regnet"] == REGNETS
    assert set(VARIANTS) <= set(zoo_names())
    for stem in ("densenet121", "shufflenet_v2_x1_0", "regnet_x_400mf"):  # moved into the family files
        assert not (ZOO / f"{stem}.yaml").exists()


@pytest.mark.parametrize("row", ROWS, ids=lambda r: f"{r['model']}-{r['input_h']}")
def test_params_and_macs_equal_torchvision(row: dict[str, str]) -> None:
    check_reference_row(row)


@pytest.mark.parametrize(("name", "growth", "blocks", "init", "final"), [
    ("densenet121", 32, (6, 12, 24, 16), 64, 1024),
    ("densenet161", 48, (6, 12, 36, 24), 96, 2208),
    ("densenet169", 32, (6, 12, 32, 32), 64, 1664),
    ("densenet201", 32, (6, 12, 48, 32), 64, 1920),
])
def test_densenet_blocks_and_transitions(name: str, growth: int, blocks: tuple[int, ...], init: int,
                                         final: int) -> None:
    """Each dense block adds n * growth channels, each transition halves them (torchvision's num_features)."""
    r = zoo_report(name)
    assert _out(r, "features/conv0") == init
    channels = init
    for k, n in enumerate(blocks, start=1):
        conv2 = [x for x in r.layers if x.name.startswith(f"features/denseblock{k}/") and x.name.endswith("/conv2")]
        assert len(conv2) == n
        assert all(x.output_shape[0] == growth for x in conv2)
        assert _out(r, f"features/denseblock{k}/{n - 1}/conv1") == 4 * growth   # bn_size 4
        channels += n * growth
        if k < 4:
            channels //= 2
            assert _out(r, f"features/transition{k}/conv") == channels
    assert channels == final
    assert _layers(r)["classifier"].cost.params == final * 1000 + 1000


@pytest.mark.parametrize(("name", "widths"), [
    ("shufflenet_v2_x0_5", (24, 48, 96, 192, 1024)),
    ("shufflenet_v2_x1_0", (24, 116, 232, 464, 1024)),
    ("shufflenet_v2_x1_5", (24, 176, 352, 704, 1024)),
    ("shufflenet_v2_x2_0", (24, 244, 488, 976, 2048)),
])
def test_shufflenet_v2_stage_widths(name: str, widths: tuple[int, ...]) -> None:
    r = zoo_report(name)
    blocks = {b.name: b.output_shape for b in r.blocks}
    assert blocks["conv1"][0] == widths[0]
    assert [blocks[f"stage{k}"] for k in (2, 3, 4)] == [(widths[1], 28, 28), (widths[2], 14, 14), (widths[3], 7, 7)]
    assert blocks["conv5"] == (widths[4], 7, 7)
    # branch1 (the stride-2 path on the full input) only in each stage's first unit: [4, 8, 4] units
    branch1 = sorted({x.name.split("/branch1/")[0] for x in r.layers if "/branch1/" in x.name})
    assert branch1 == ["stage2/0", "stage3/0", "stage4/0"]
    assert len({x.name.split("/")[1] for x in r.layers if x.name.startswith("stage3/")}) == 8


def test_the_regnet_tables_follow_from_torchvision_s_arguments() -> None:
    """The variants' stage tables are BlockParams.from_init_params of each model's arguments (re-derived
    here in Python floats): block widths quantised in log space to multiples of 8, runs of equal widths
    as stages, then group widths min(group_width, width) and widths made divisible by them."""
    variants = yaml.safe_load((ZOO / "regnet.yaml").read_text())["variants"]
    assert list(variants) == list(REGNET_ARGS) == list(REGNETS)

    def make_divisible(v: int, d: int) -> int:
        n = max(d, (v + d // 2) // d * d)
        return n + d if n < 0.9 * v else n

    for name, (depth, w_0, w_a, w_m, group_width) in REGNET_ARGS.items():
        block = [round(w_0 * w_m ** round(math.log((j * w_a + w_0) / w_0) / math.log(w_m)) / 8) * 8
                 for j in range(depth)]
        widths = list(dict.fromkeys(block))
        groups = [min(group_width, w) for w in widths]
        table = variants[name]
        assert table["widths"] == [make_divisible(w, g) for w, g in zip(widths, groups, strict=True)], name
        assert table["depths"] == [block.count(w) for w in widths], name
        assert table["group_widths"] == groups, name
        assert table["se_ratio"] == (0.25 if name.startswith("regnet_y_") else 0), name


def test_regnet_x_8gf_group_width_is_capped_by_the_stage_width() -> None:
    """group_width 120 is more than block1's width 80: torchvision uses 80 there (one group)."""
    r = zoo_report("regnet_x_8gf")
    rows = _layers(r)
    assert rows["trunk_output/block1/0/b/conv1"].cost.params == 80 * 80 * 9
    assert rows["trunk_output/block2/0/b/conv1"].cost.params == 240 * 120 * 9
    blocks = {b.name: b.output_shape for b in r.blocks}
    assert [blocks[f"trunk_output/block{k}"] for k in (1, 2, 3, 4)] == [
        (80, 56, 56), (240, 28, 28), (720, 14, 14), (1920, 7, 7)]
    assert [len({x.name.split("/")[2] for x in r.layers if x.name.startswith(f"trunk_output/block{k}/")})
            for k in (1, 2, 3, 4)] == [2, 5, 15, 1]


def test_regnet_y_squeeze_excitation_is_a_quarter_of_the_block_input() -> None:
    """torchvision's SqueezeExcitation(w_b, round(0.25 * width_in)) on the 3x3's output, with biases."""
    r = zoo_report("regnet_y_400mf")
    se = {x.name: x for x in r.layers if x.name.endswith("/se")}
    assert len(se) == sum((1, 3, 6, 6))
    # block1/0: input 32 (the stem), w_b 48, squeeze 8; block2/1: input 104, squeeze 26
    assert se["trunk_output/block1/0/se"].cost.params == 48 * 8 + 8 + 8 * 48 + 48
    assert se["trunk_output/block2/0/se"].cost.params == 104 * 12 + 12 + 12 * 104 + 104
    assert se["trunk_output/block2/1/se"].cost.params == 104 * 26 + 26 + 26 * 104 + 104
    assert not any(x.name.endswith("/se") for x in zoo_report("regnet_x_400mf").layers)


@pytest.mark.parametrize(("stem", "name"), [
    ("densenet", "densenet121"), ("shufflenet_v2", "shufflenet_v2_x1_0"), ("regnet", "regnet_x_400mf")])
def test_the_family_file_alone_is_the_model_that_was_in_the_zoo(stem: str, name: str) -> None:
    """Opened as a file, each family file takes its defaults: the numbers of the zoo model it replaced."""
    alone, variant = zoo_report(str(ZOO / f"{stem}.yaml")), zoo_report(name)
    assert alone.name == stem
    assert [(x.name, x.output_shape, x.cost) for x in alone.layers] == [
        (x.name, x.output_shape, x.cost) for x in variant.layers]
