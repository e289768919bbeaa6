"""The ResNet, VGG and SqueezeNet family files (convcalc/zoo/resnet.yaml, vgg.yaml, squeezenet.yaml) equal
torchvision 0.29.1 exactly: params and MACs of every variant at 160 and at its weights' crop size
(tests/data/torchvision-modern.csv; the seven variants of tests/data/torchvision-zoo.csv have their crop-size
row there, and tests/test_zoo.py checks it)."""

from __future__ import annotations

import csv

import pytest
import yaml

from convcalc.lang.sources import zoo_names
from convcalc.lang.spec import Settings
from convcalc.metrics.analysis import LayerRow, Report
from convcalc.zoo import FAMILIES
from tests.conftest import ROOT, zoo_report

DATA = ROOT / "tests" / "data"
ZOO = ROOT / "convcalc" / "zoo"

#: torchvision.models' builders of each family, in torchvision's order
EXPECTED = {
    "resnet": ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnext50_32x4d", "resnext101_32x8d",
               "resnext101_64x4d", "wide_resnet50_2", "wide_resnet101_2"),
    "vgg": ("vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn"),
    "squeezenet": ("squeezenet1_0", "squeezenet1_1"),
}
ALL = [v for names in EXPECTED.values() for v in names]
IN_ZOO_CSV = {r["model"] for r in csv.DictReader((DATA / "torchvision-zoo.csv").open())}
ROWS = [{"model": r["model"], "size": int(r["input_h"]), "params": int(r["params"]), "macs": int(r["macs"])}
        for r in csv.DictReader((DATA / "torchvision-modern.csv").open())
        if r["model"] in ALL and r["input_h"] == r["input_w"]]


def layer(report: Report, name: str) -> LayerRow:
    (row,) = [x for x in report.layers if x.name == name]
    return row


def test_the_variant_lists_are_complete() -> None:
    for stem, names in EXPECTED.items():
        assert FAMILIES[stem] == names, stem
        assert list(yaml.safe_load((ZOO / f"{stem}.yaml").read_text())["variants"]) == list(names), stem
    assert set(ALL) <= set(zoo_names())
    assert not {"resnet", "vgg", "squeezenet"} & set(zoo_names())  # a family file is not a model
    gone = ("resnet18", "resnet50", "resnext50_32x4d", "wide_resnet50_2", "vgg16", "vgg16_bn", "squeezenet1_0")
    assert not any((ZOO / f"{name}.yaml").exists() for name in gone)


def test_the_reference_rows_are_all_there() -> None:
    """Every variant at 160; at 224 (every weights' crop size here) unless torchvision-zoo.csv has it."""
    want = [(v, 160) for v in ALL] + [(v, 224) for v in ALL if v not in IN_ZOO_CSV]
    assert sorted((r["model"], r["size"]) for r in ROWS) == sorted(want)
    assert len(IN_ZOO_CSV & set(ALL)) == 7


@pytest.mark.parametrize("row", ROWS, ids=lambda r: f"{r['model']}-{r['size']}")
def test_every_variant_equals_torchvision(row: dict[str, object]) -> None:
    size = row["size"]
    assert isinstance(size, int)
    report = zoo_report(str(row["model"]), Settings(size=(size, size)))
    assert report.name == row["model"]
    assert report.input_shape == (3, size, size)
    assert report.params == row["params"]
    assert report.macs == row["macs"]
    assert report.output_shape == (1000, 1, 1)


def _blocks(report: Report, kind: str) -> list[str]:
    return [b.name for b in report.blocks if b.type == kind]


@pytest.mark.parametrize(("model", "kind", "per_stage"), [
    ("resnet18", "basic", (2, 2, 2, 2)),
    ("resnet34", "basic", (3, 4, 6, 3)),            # 16 BasicBlocks
    ("resnet50", "bottleneck", (3, 4, 6, 3)),
    ("resnet101", "bottleneck", (3, 4, 23, 3)),
    ("resnet152", "bottleneck", (3, 8, 36, 3)),     # 50 Bottlenecks
    ("wide_resnet101_2", "bottleneck", (3, 4, 23, 3)),
])
def test_blocks_per_stage(model: str, kind: str, per_stage: tuple[int, ...]) -> None:
    r = zoo_report(model)
    names = _blocks(r, kind)
    assert len(names) == sum(per_stage)
    assert tuple(sum(n.startswith(f"layer{k + 1}/") for n in names) for k in range(4)) == per_stage
    assert not _blocks(r, "bottleneck" if kind == "basic" else "basic")


@pytest.mark.parametrize(("model", "width", "groups", "out"), [
    ("resnet50", 64, 1, 256),
    ("resnext50_32x4d", 128, 32, 256),      # 32 groups x 4 channels
    ("resnext101_32x8d", 256, 32, 256),     # 32 groups x 8
    ("resnext101_64x4d", 256, 64, 256),     # 64 groups x 4
    ("wide_resnet50_2", 128, 1, 256),       # twice resnet50's inner width
    ("resnet34", 64, 1, 64),                # BasicBlock: expansion 1
])
def test_the_inner_width_and_groups_of_layer1(model: str, width: int, groups: int, out: int) -> None:
    r = zoo_report(model)
    conv2 = layer(r, "layer1/0/conv2")
    assert conv2.output_shape == (width, 56, 56)
    assert conv2.cost.params == width * (width // groups) * 9   # its input is conv1's width; no bias
    assert layer(r, "layer1/0/relu3" if out == 256 else "layer1/0/relu2").output_shape == (out, 56, 56)


def test_downsample_only_where_the_shape_changes() -> None:
    """BasicBlock nets: only the first block of layers 2-4; Bottleneck nets: layer1's first block too (64 → 256).
    The stride sits in the 3x3 conv2 (v1.5) and in the downsample's 1x1."""
    basic = {x.name.split("/downsample")[0] for x in zoo_report("resnet34").layers if "/downsample/" in x.name}
    assert basic == {"layer2/0", "layer3/0", "layer4/0"}
    r = zoo_report("resnet101")
    bottleneck = {x.name.split("/downsample")[0] for x in r.layers if "/downsample/" in x.name}
    assert bottleneck == {"layer1/0", "layer2/0", "layer3/0", "layer4/0"}
    assert layer(r, "layer2/0/conv1").output_shape == (128, 56, 56)
    assert layer(r, "layer2/0/conv2").output_shape == (128, 28, 28)
    assert layer(r, "layer2/0/downsample/0").output_shape == (512, 28, 28)


@pytest.mark.parametrize(("model", "convs", "bns"), [
    ("vgg11", 8, 0), ("vgg11_bn", 8, 8), ("vgg13", 10, 0), ("vgg13_bn", 10, 10),
    ("vgg16", 13, 0), ("vgg16_bn", 13, 13), ("vgg19", 16, 0), ("vgg19_bn", 16, 16),
])
def test_vgg_conv_and_bn_counts(model: str, convs: int, bns: int) -> None:
    r = zoo_report(model)
    assert sum(x.type == "conv" for x in r.layers) == convs
    assert sum(x.type == "bn" for x in r.layers) == bns
    assert sum(x.type == "maxpool" for x in r.layers) == 5
    assert sum(x.type == "linear" for x in r.layers) == 3


def test_vgg19_stages() -> None:
    """Configuration E: 2, 2, 4, 4, 4 convs; every conv keeps its bias under BN."""
    r = zoo_report("vgg19_bn")
    per_block = [sum(x.type == "conv" and x.name.startswith(f"features/block{k}/") for x in r.layers)
                 for k in range(1, 6)]
    assert per_block == [2, 2, 4, 4, 4]
    assert layer(r, "features/block5/repeat1/3/conv1").cost.params == 512 * 512 * 9 + 512
    assert layer(r, "features/block5/maxpool1").output_shape == (512, 7, 7)


def test_squeezenet_layouts() -> None:
    """torchvision's features.0-12: 1.0 pools at 2, 6, 11 after a 96 7x7 stem; 1.1 at 2, 5, 8 after 64 3x3."""
    for model, stem, pools in (("squeezenet1_0", (96, 109, 109), {2, 6, 11}),
                               ("squeezenet1_1", (64, 111, 111), {2, 5, 8})):
        r = zoo_report(model)
        assert layer(r, "features/0").output_shape == stem
        tops = list(dict.fromkeys("/".join(x.name.split("/")[:2]) for x in r.layers if x.name.startswith("features/")))
        assert tops == [f"features/{i}" for i in range(13)]
        assert {i for i in range(13) if f"features/{i}" in {x.name for x in r.layers if x.type == "maxpool"}} == pools
        fires = [b.name for b in r.blocks if b.type == "fire"]
        assert len(fires) == 8
        assert layer(r, "features/12/concat1").output_shape[0] == 512


def test_the_family_files_alone_take_their_defaults() -> None:
    """Opened as files, the family files are resnet50, vgg16 and squeezenet1_0; --set picks another member."""
    resnet = zoo_report(str(ZOO / "resnet.yaml"))
    assert (resnet.params, resnet.macs) == (25557032, 4089184256)
    assert zoo_report(str(ZOO / "vgg.yaml")).params == 138357544
    assert zoo_report(str(ZOO / "squeezenet.yaml")).params == 1248424
    r34 = zoo_report(str(ZOO / "resnet.yaml"), Settings(values={"block": "basic"}))
    assert (r34.params, r34.macs) == (21797672, 3663761408)
    e = zoo_report(str(ZOO / "vgg.yaml"), Settings(values={"cfg": "E", "batch_norm": True}))
    assert e.params == 143678248
