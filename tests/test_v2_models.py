"""Two spec-format-2 models against their references (tests/data/torchvision-modern.csv): torchvision's
ResNet-50 FPN backbone (specs/v2/resnet50_fpn.yaml: ``from:``, merges, ``outputs:``, ``upsample`` to a
size) and milesial's U-Net (specs/v2/unet.yaml: ``deconv``, ``concat`` of a skip and the upsampled map).

Params, MACs and every output shape are exact integers from the CSV; the names read like the models'
modules. The U-Net is also built in PyTorch from ``tests/neutral/unet.py`` (written without convcalc;
convcalc's own ``to_torch`` is not used as a reference) and compared layer by layer where the two can be
matched: the test is skipped without torch unless CONVCALC_REQUIRE_TORCH=1, as in test_torch_crosscheck.
"""

from __future__ import annotations

import csv
from typing import Any

import pytest

from convcalc.graph import Graph
from convcalc.lang.sources import open_source
from convcalc.lang.spec import Settings
from convcalc.metrics.analysis import Report, analyze_document, graphs_of
from tests.conftest import ROOT, import_torch, invoke

FPN = "specs/v2/resnet50_fpn.yaml"
UNET = "specs/v2/unet.yaml"
ROWS = list(csv.DictReader((ROOT / "tests" / "data" / "torchvision-modern.csv").open()))
#: torchvision's output keys (IntermediateLayerGetter + FeaturePyramidNetwork) → the spec's output names
FPN_KEYS = {"0": "p2", "1": "p3", "2": "p4", "3": "p5", "pool": "pool"}


def rows(model: str) -> list[dict[str, str]]:
    found = [r for r in ROWS if r["model"] == model]
    assert found, f"no row {model!r} in torchvision-modern.csv"
    return found


def shapes_in(notes: str) -> dict[str, tuple[int, int, int]]:
    """The ``key=CxHxW`` items of a CSV notes cell, in their order (``0=256x56x56; ...``)."""
    out: dict[str, tuple[int, int, int]] = {}
    for item in notes.split(";"):
        key, sep, value = item.strip().partition("=")
        parts = value.split("x")
        if sep and len(parts) == 3 and all(p.isdigit() for p in parts):
            out[key] = (int(parts[0]), int(parts[1]), int(parts[2]))
    return out


def settings_for(row: dict[str, str], default: tuple[int, int]) -> Settings | None:
    """None at the spec's own input size (so that the spec's ``input:`` is what is tested), else --size."""
    size = (int(row["input_h"]), int(row["input_w"]))
    return None if size == default else Settings(size=size)


def analyze(spec: str, settings: Settings | None = None) -> Report:
    (report,) = analyze_document(open_source(spec), settings)
    return report


def graph(spec: str, settings: Settings | None = None) -> Graph:
    (g,) = graphs_of(open_source(spec), settings)
    return g


def block_shapes(g: Graph) -> dict[str, tuple[int, int, int]]:
    """Named blocks and layers → the (C, H, W) of their output."""
    out = {n.name: tuple(n.shape) for n in g.nodes}
    out.update({b.name: tuple(g.nodes[b.node].shape) for b in g.blocks})
    return out  # type: ignore[return-value]


# ---------------------------------------------------------------- ResNet-50 FPN (torchvision)


def test_fpn_rows_cover_every_size() -> None:
    """224 and 512×640 divide by 32; 800×1333 (torchvision's detection size) does not, so the top-down
    resizes are to the lateral's size, not by 2."""
    assert sorted((r["input_h"], r["input_w"]) for r in rows("resnet50_fpn_backbone")) == [
        ("224", "224"), ("512", "640"), ("800", "1333")]


@pytest.mark.parametrize("row", rows("resnet50_fpn_backbone"), ids=lambda r: f"{r['input_h']}x{r['input_w']}")
def test_fpn_params_macs_and_outputs_equal_torchvision(row: dict[str, str]) -> None:
    report = analyze(FPN, settings_for(row, (224, 224)))
    assert (report.input_shape.h, report.input_shape.w) == (int(row["input_h"]), int(row["input_w"]))
    assert report.total.params == int(row["params"])
    assert report.total.macs == int(row["macs"])
    expected = shapes_in(row["notes"])
    assert list(expected) == list(FPN_KEYS)  # torchvision's order: '0', '1', '2', '3', 'pool'
    assert [(o.name, tuple(o.shape)) for o in report.outputs] == [(FPN_KEYS[k], s) for k, s in expected.items()]
    assert report.warnings == ()  # every layer feeds an output: nothing is left out of the totals


def test_fpn_params_split_into_body_and_pyramid() -> None:
    """The body is resnet50 less fc (2048·1000 + 1000); the pyramid is 4 laterals + 4 3×3 convs, with bias."""
    report = analyze(FPN)
    fpn = sum(r.cost.params for r in report.layers if r.name.startswith(("lateral", "p")))
    assert report.total.params - fpn == analyze("resnet50").total.params - (2048 * 1000 + 1000)
    assert fpn == (256 + 512 + 1024 + 2048) * 256 + 4 * 256 + 4 * (256 * 256 * 9 + 256)


def test_fpn_names_read_like_the_model() -> None:
    layers = {r.name: r for r in analyze(FPN).layers}
    for name in ("conv1", "maxpool", "layer1/0/downsample/0", "layer3/5/conv3", "layer4/2/bn3"):
        assert name in layers
    assert not any(n.startswith(("avgpool", "fc", "flatten")) for n in layers)
    # lateralN (fpn.inner_blocks[N-2]) reads C_N = the last layer of layer(N-1)
    for n, stage, blocks in ((2, 1, 3), (3, 2, 4), (4, 3, 6), (5, 4, 3)):
        lateral = layers[f"lateral{n}"]
        assert lateral.inputs == (f"layer{stage}/{blocks - 1}/relu3",)
        assert (lateral.type, lateral.output_shape.c) == ("conv", 256)
    # top-down: innerN = lateralN + nearest(inner(N+1)) at lateralN's size; pN is the 3x3 conv on it
    for n, coarser in ((4, "lateral5"), (3, "inner4"), (2, "inner3")):
        assert layers[f"topdown{n}"].inputs == (coarser,)
        assert layers[f"inner{n}"].type == "add"
        assert layers[f"inner{n}"].inputs == (f"lateral{n}", f"topdown{n}")
        assert layers[f"p{n}"].inputs == (f"inner{n}",)
    assert layers["p5"].inputs == ("lateral5",)
    assert (layers["pool"].type, layers["pool"].inputs) == ("maxpool", ("p5",))


def test_fpn_output_strides_and_receptive_fields() -> None:
    report = analyze(FPN)
    assert [o.rf.stride for o in report.outputs] == [(s, s) for s in (4, 8, 16, 32, 64)]
    rf = {r.name: r.rf for r in report.layers}
    # LastLevelMaxPool is max_pool2d(kernel 1, stride 2): p5's field, every other unit
    assert (rf["pool"].size, rf["pool"].stride) == (rf["p5"].size, (64, 64))
    # every innerN holds C5's 427 (ResNet-50's field) through the nearest ×2 upsamplings, whose units repeat every
    # 2, 4, 8 units of the finer maps; pN, a 3×3 conv on innerN, unites 3 neighbours: 427 where two of them are
    # one upsampled unit, up to 427 + 2·32 = 459
    for n, period in ((2, 8), (3, 4), (4, 2)):
        inner, p = rf[f"inner{n}"], rf[f"p{n}"]
        assert (inner.size, inner.smallest, inner.period) == ((427, 427), (427, 427), (period, period))
        assert (p.size, p.period) == ((459, 459), (period, period))
    assert rf["p2"].smallest == rf["p3"].smallest == (427, 427) and rf["p4"].smallest == (459, 459)
    assert report.layers[-1].notes == ()


# ---------------------------------------------------------------- U-Net (milesial/Pytorch-UNet)


@pytest.mark.parametrize("row", rows("unet_milesial"), ids=lambda r: f"{r['input_h']}x{r['input_w']}")
def test_unet_params_macs_and_output_equal_the_reference(row: dict[str, str]) -> None:
    report = analyze(UNET, settings_for(row, (256, 256)))
    assert (report.input_shape.h, report.input_shape.w) == (int(row["input_h"]), int(row["input_w"]))
    assert report.total.params == int(row["params"])
    assert report.total.macs == int(row["macs"])
    assert [(o.name, tuple(o.shape)) for o in report.outputs] == [("outc", shapes_in(row["notes"])["out"])]
    assert report.warnings == ()


def test_unet_rows_cover_both_sizes() -> None:
    assert sorted(r["input_h"] for r in rows("unet_milesial")) == ["224", "256"]


def test_unet_names_read_like_the_model() -> None:
    layers = {r.name: r for r in analyze(UNET).layers}
    for name in ("inc/conv1", "inc/bn2", "down1/pool", "down4/conv/conv2", "up1/up", "up4/conv/relu2", "outc"):
        assert name in layers
    assert [n for n in layers if n.endswith("/up")] == ["up1/up", "up2/up", "up3/up", "up4/up"]
    assert all(layers[f"up{k}/up"].type == "deconv" for k in range(1, 5))
    # torch.cat([skip, up]): the skip first, down(4-k)'s output (inc's for up4)
    for k, skip in ((1, "down3/conv/relu2"), (2, "down2/conv/relu2"), (3, "down1/conv/relu2"), (4, "inc/relu2")):
        assert layers[f"up{k}/cat"].inputs == (skip, f"up{k}/up")
    assert layers["outc"].inputs == ("up4/conv/relu2",)


def test_unet_stage_shapes() -> None:
    shapes = block_shapes(graph(UNET))
    widths = (64, 128, 256, 512, 1024)
    assert [shapes[s] for s in ("inc", "down1", "down2", "down3", "down4")] == [
        (c, 256 >> i, 256 >> i) for i, c in enumerate(widths)]
    assert [shapes[s] for s in ("up1", "up2", "up3", "up4")] == [
        (c, 256 >> i, 256 >> i) for i, c in reversed(list(enumerate(widths[:-1])))]


def test_show_and_rf_run_on_both_specs() -> None:
    for spec in (UNET, FPN):
        for command in ("show", "rf"):
            result = invoke([command, spec])
            assert result.exit_code == 0, result.output
    assert "output pool: 256×4×4" in invoke(["show", FPN]).output
    outputs = invoke(["rf", FPN, "--format", "markdown"]).output.split("### resnet50_fpn: outputs")[1]
    assert "| pool | 256×4×4 | 491×491 |" in outputs  # rf: a table of the outputs


# ---------------------------------------------------------------- the U-Net in PyTorch


@pytest.mark.torch
@pytest.mark.parametrize("size", [256, 224])
def test_unet_equals_the_neutral_pytorch_unet(size: int) -> None:
    torch = import_torch()
    from torch import nn
    from torch.utils.flop_counter import FlopCounterMode

    from tests.neutral.unet import unet

    settings = None if size == 256 else Settings(size=(size, size))
    report, g = analyze(UNET, settings), graph(UNET, settings)
    model: Any = unet(n_channels=3, n_classes=2).eval()

    # parameters: in total, and module by module in registration order (= the spec's layer order)
    assert sum(p.numel() for p in model.parameters()) == report.total.params
    weighted = [m for m in model.modules() if next(m.parameters(recurse=False), None) is not None]
    assert [sum(p.numel() for p in m.parameters(recurse=False)) for m in weighted] == [
        r.cost.params for r in report.layers if r.cost.params]
    kinds = {nn.Conv2d: "conv", nn.BatchNorm2d: "bn", nn.ConvTranspose2d: "deconv"}
    assert [kinds[type(m)] for m in weighted] == [r.type for r in report.layers if r.cost.params]
    buffers = sum(b.numel() for n, b in model.named_buffers() if not n.endswith("num_batches_tracked"))
    assert buffers == report.total.buffers

    # stage outputs: the neutral modules' outputs against convcalc's blocks of the same role
    stages = {"inc": model.stem, "outc": model.head}
    stages.update({f"down{i + 1}": m for i, m in enumerate(model.encoder)})
    stages.update({f"up{i + 1}": m for i, m in enumerate(model.decoder)})
    seen: dict[str, tuple[int, ...]] = {}
    for name, module in stages.items():
        module.register_forward_hook(lambda _m, _a, out, name=name: seen.__setitem__(name, tuple(out.shape[1:])))

    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        out = model(torch.zeros(1, 3, size, size))
    assert counter.get_total_flops() // 2 == report.total.macs
    assert counter.get_total_flops() % 2 == 0
    assert tuple(out.shape[1:]) == tuple(report.outputs[0].shape) == (2, size, size)
    shapes = block_shapes(g)
    assert seen == {name: shapes[name] for name in stages}
