"""Every zoo model at 16, 28, 32 and 64 px: convcalc refuses exactly where torchvision raises, and
otherwise gives torchvision's logits and last feature map (tests/data/small-inputs.csv, measured once by
``benchmarks/reference_figures.py --small-inputs``; tests/data/README.md says how).

The last feature map is the input of the model's last spatial pool, on both sides: torchvision's is
recorded as the input of the last adaptive pool or ``mean`` over H and W that runs in ``eval()`` (an SE
block's pool runs earlier); convcalc's is the input of the last layer of a pooling kind
(:data:`FINAL_POOLS`) that is not training-only, in the report's layer order (its graph's topological
order). That is the global pool before the classifier for most models, the 7×7 / 6×6 adaptive pool of
VGG / AlexNet (before it: the last feature map proper) and SqueezeNet's pool after its final 1×1 conv.
A model without such a pool (ViT: class token, then its head) has instead the input of its classifier head:
torchvision's ``heads.head``, convcalc's last layer that runs at inference (C → C×1×1).

A refusal is also compared with where torchvision stops: a pool's "Given input size: (C×H×W)" is the
input of the layer convcalc refuses, a conv's "padded input size (H x W), Kernel size (k x k)" its
padded input and kernel extent. Inception v3 at 64 px is the one exception (:data:`FIRST_REFUSAL`).
ViT is built for the size (``image_size``); its "Input shape indivisible by patch size!" is convcalc's
``input.multiple_of`` refusal (the patch size is the model name's last number). MaxViT is built for the
size too (``input_size``); its "Input size (H, W) of block i is not divisible by partition size p" is
convcalc's refusal of block i's window attention on H×W.
"""

from __future__ import annotations

import csv
import re

import pytest

from convcalc.errors import SpecError
from convcalc.lang.sources import zoo_names
from convcalc.lang.spec import Settings
from convcalc.metrics.analysis import Report
from tests.conftest import ROOT, zoo_report

ROWS = list(csv.DictReader((ROOT / "tests" / "data" / "small-inputs.csv").open()))
FINAL_POOLS = frozenset({"global_avgpool", "global_maxpool", "adaptive_avgpool", "adaptive_maxpool"})
#: (model, size) where convcalc's first refusal is not torchvision's, and the layer it names instead
FIRST_REFUSAL = {
    # Both refuse. torchvision's eval() skips the auxiliary classifier and fails later, in Mixed_7a's 3×3
    # convs on 2×2; convcalc shapes the training-only AuxLogits too (its params are counted), and its 5×5
    # average pool (stride 3) is the first layer that does not fit.
    ("inception_v3", 64): "layer 'AuxLogits/avgpool1' (avgpool) on input 768×2×2: kernel extent 5",
}


def last_feature_map(report: Report) -> tuple[int, int, int]:
    """The input shape of the last pooling layer of :data:`FINAL_POOLS` that runs at inference, or, where
    there is none (ViT), of the last layer that runs at inference (the classifier head)."""
    shapes = {row.name: tuple(row.output_shape) for row in report.layers}
    runs = [row for row in report.layers if not row.training_only and not row.dead]
    pools = [row for row in runs if row.type in FINAL_POOLS]
    (source,) = (pools or runs)[-1].inputs
    c, h, w = shapes[source]
    return c, h, w


def shape_of(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in text.split("x"))


def test_the_table_covers_the_zoo_at_four_sizes() -> None:
    torchvision = sorted(n for n in zoo_names() if not n.startswith("yolo"))  # (YOLO: tests/test_ultralytics.py)
    assert sorted({r["model"] for r in ROWS}) == torchvision
    assert [int(r["input_size"]) for r in ROWS[:4]] == [16, 28, 32, 64]
    assert len(ROWS) == 4 * len(torchvision) == 304
    assert sum(bool(r["error"]) for r in ROWS) == 54
    assert all(bool(r["error"]) != bool(r["features"]) for r in ROWS)


@pytest.mark.parametrize("row", ROWS, ids=lambda r: f"{r['model']}@{r['input_size']}")
def test_convcalc_refuses_exactly_where_torchvision_does(row: dict[str, str]) -> None:
    size = int(row["input_size"])
    settings = Settings(size=(size, size))
    if not row["error"]:
        report = zoo_report(row["model"], settings)
        assert report.input_shape == (3, size, size)
        assert report.output_shape == (*shape_of(row["logits"]), 1, 1)
        assert last_feature_map(report) == shape_of(row["features"])
        return
    with pytest.raises(SpecError) as exc:
        zoo_report(row["model"], settings)
    message = exc.value.diagnostics[0].message
    if (row["model"], size) in FIRST_REFUSAL:
        assert FIRST_REFUSAL[row["model"], size] in message
        return
    if row["error"] == "AssertionError: Input shape indivisible by patch size!":  # ViT, built for the size
        patch = int(row["model"].rsplit("_", 1)[1])
        assert size % patch
        assert exc.value.diagnostics[0].path[-2:] == ("input", "multiple_of")
        assert message.startswith(f"the input {size}×{size} is not a multiple of {patch}×{patch}")
        return
    partition = re.search(r"Input size \((\d+), (\d+)\) of block (\d+) is not divisible by partition size (\d+)\.",
                          row["error"])
    if partition:  # MaxViT, built for the size: block i's window attention on H×W
        h, w, block, p = partition.groups()
        assert h == w  # square: convcalc names the height axis
        assert message.startswith(f"layer 'blocks/{block}/")
        assert f"×{h}×{w}: attention window {p} does not divide the height {h}" in message
        return
    pool = re.search(r"Given input size: \((\d+)x(\d+)x(\d+)\)\. Calculated output size", row["error"])
    conv = re.search(r"padded input size per channel: \((\d+) x (\d+)\)\. Kernel size: \((\d+) x (\d+)\)",
                     row["error"])
    if pool:
        c, h, w = pool.groups()
        assert f"on input {c}×{h}×{w}: kernel extent " in message
    else:
        assert conv, row["error"]
        h, w, kh, kw = conv.groups()
        assert (h, kh) == (w, kw)  # square: convcalc names the height axis
        assert f"kernel extent {kh} is larger than the padded input {h} on the height axis" in message


def test_ceil_mode_models_now_run_where_torchvision_does() -> None:
    """GoogLeNet's and SqueezeNet 1.0's ceil-mode max pools overhang their input at these sizes."""
    runs = {(r["model"], int(r["input_size"])) for r in ROWS if not r["error"]}
    assert {("googlenet", 16), ("googlenet", 28), ("squeezenet1_0", 28)} <= runs
    assert ("squeezenet1_1", 16) not in runs and ("squeezenet1_1", 28) in runs
