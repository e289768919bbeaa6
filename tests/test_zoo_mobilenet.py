"""MobileNetV2's width multiplier (convcalc/zoo/mobilenet_v2.yaml, ``--set width=…``) and the MobileNetV3
family file (convcalc/zoo/mobilenet_v3.yaml: mobilenet_v3_large, mobilenet_v3_small) equal torchvision
exactly: tests/data/torchvision-modern.csv (torchvision 0.29.1: mobilenet_v2(width_mult=w) for six
widths, mobilenet_v3_small, each at 224 and 160) and tests/data/torchvision-zoo.csv (mobilenet_v3_large
at 224)."""

from __future__ import annotations

import csv

import pytest

from convcalc.lang.sources import zoo_names
from convcalc.lang.spec import Settings
from convcalc.metrics.analysis import Report
from tests.conftest import MODERN, ROOT, invoke, zoo_report

DATA = ROOT / "tests" / "data"
V2_ROWS = [r for r in MODERN if r["model"].startswith("mobilenet_v2_w")]
V3_ROWS = [{"model": r["model"], "size": int(r["input_h"]), "params": int(r["params"]), "macs": int(r["macs"])}
           for r in MODERN if r["model"] == "mobilenet_v3_small"]
V3_ROWS += [{"model": r["model"], "size": int(r["input_size"]), "params": int(r["params"]), "macs": int(r["macs"])}
            for r in csv.DictReader((DATA / "torchvision-zoo.csv").open()) if r["model"] == "mobilenet_v3_large"]
WIDTHS = ("0.35", "0.5", "0.75", "1.0", "1.3", "1.4")


def width_of(row: dict[str, str]) -> float:
    return float(row["model"].removeprefix("mobilenet_v2_w"))


def test_the_reference_rows_are_all_there() -> None:
    assert sorted((r["model"], r["input_h"], r["input_w"]) for r in V2_ROWS) == sorted(
        (f"mobilenet_v2_w{w}", s, s) for w in WIDTHS for s in ("224", "160"))
    assert sorted((r["model"], r["size"]) for r in V3_ROWS) == [
        ("mobilenet_v3_large", 224), ("mobilenet_v3_small", 160), ("mobilenet_v3_small", 224)]
    assert {"mobilenet_v2", "mobilenet_v3_large", "mobilenet_v3_small"} <= set(zoo_names())


@pytest.mark.parametrize("row", V2_ROWS, ids=lambda r: f"{r['model']}-{r['input_h']}")
def test_mobilenet_v2_width_equals_torchvision(row: dict[str, str]) -> None:
    h, w = int(row["input_h"]), int(row["input_w"])
    report = zoo_report("mobilenet_v2", Settings(values={"width": width_of(row)}, size=(h, w)))
    assert report.input_shape == (3, h, w)
    assert report.params == int(row["params"])
    assert report.macs == int(row["macs"])
    assert report.output_shape == (1000, 1, 1)


@pytest.mark.parametrize("row", V3_ROWS, ids=lambda r: f"{r['model']}-{r['size']}")
def test_mobilenet_v3_equals_torchvision(row: dict[str, object]) -> None:
    size = row["size"]
    assert isinstance(size, int)
    report = zoo_report(str(row["model"]), Settings(size=(size, size)))
    assert report.name == row["model"]
    assert report.input_shape == (3, size, size)
    assert report.params == row["params"]
    assert report.macs == row["macs"]


def test_the_default_width_is_torchvision_1_0() -> None:
    """No --set is width 1.0 (an int 1 as well): the same layers, one for one."""
    plain = zoo_report("mobilenet_v2")
    for value in (1.0, 1):
        set_ = zoo_report("mobilenet_v2", Settings(values={"width": value}))
        assert [(x.name, x.output_shape, x.cost) for x in set_.layers] == [
            (x.name, x.output_shape, x.cost) for x in plain.layers]
    assert (plain.params, plain.macs) == (3504872, 300774272)


def _out(report: Report, name: str) -> int:
    (row,) = [x for x in report.layers if x.name == name]
    return int(row.output_shape[0])


@pytest.mark.parametrize(("width", "stem", "stage1", "stage7", "head"), [
    (0.35, 16, 8, 112, 1280),   # the stem is at least 8 and never more than 10% below 32 * width
    (0.5, 16, 8, 160, 1280),
    (1.0, 32, 16, 320, 1280),
    (1.4, 48, 24, 448, 1792),   # the head grows with widths above 1 only
])
def test_mobilenet_v2_rounds_every_width_as_torchvision(width: float, stem: int, stage1: int, stage7: int,
                                                        head: int) -> None:
    r = zoo_report("mobilenet_v2", Settings(values={"width": width}))
    assert _out(r, "features/stem/conv1") == stem
    assert _out(r, "features/stage1/0/project/conv1") == stage1
    assert _out(r, "features/stage7/0/project/conv1") == stage7
    assert _out(r, "features/head/conv1") == head


def test_mobilenet_v3_small_layout() -> None:
    """torchvision's features.0 … features.12: stem, 11 bnecks, the last conv (6 × 96); SE in block 1."""
    r = zoo_report("mobilenet_v3_small")
    tops = list(dict.fromkeys("/".join(x.name.split("/")[:2]) for x in r.layers if x.name.startswith("features/")))
    assert tops == [f"features/{i}" for i in range(13)]
    assert _out(r, "features/12/conv1") == 576
    assert _out(r, "classifier/linear1") == 1024
    assert any(x.name == "features/1/se1" for x in r.layers)
    assert not any(x.name.startswith("features/1/expand/") for x in r.layers)  # exp 16 == input 16


def test_mobilenet_v3_width_scales_the_classifier_too() -> None:
    """Unlike MobileNetV2's head, MobileNetV3's last_channel is adjust_channels(1280) at every width."""
    r = zoo_report("mobilenet_v3_large", Settings(values={"width": 0.5}))
    assert _out(r, "features/0/conv1") == 8           # make_divisible(16 * 0.5, 8)
    assert _out(r, "features/16/conv1") == 6 * 80     # 6 x make_divisible(160 * 0.5, 8)
    assert _out(r, "classifier/linear1") == 640


def test_the_family_file_alone_is_mobilenet_v3_large() -> None:
    """Opened as a file, mobilenet_v3.yaml takes its defaults (arch large) and gives the large figures."""
    r = zoo_report(str(ROOT / "convcalc" / "zoo" / "mobilenet_v3.yaml"))
    assert (r.params, r.macs) == (5483032, 216589760)
    small = zoo_report(str(ROOT / "convcalc" / "zoo" / "mobilenet_v3.yaml"), Settings(values={"arch": "small"}))
    assert (small.params, small.macs) == (2542856, 56510400)


def test_width_through_the_command_line() -> None:
    result = invoke(["show", "mobilenet_v2", "--set", "width=0.75", "--size", "160", "--exact"])
    assert result.exit_code == 0, result.output
    assert "2,636,424" in result.output and "107,295,200" in result.output
    result = invoke(["show", "mobilenet_v3_small", "--set", "widht=0.5"])
    assert result.exit_code != 0
    assert "no parameter 'widht'" in result.output
