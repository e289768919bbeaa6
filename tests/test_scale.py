"""The scale specs (specs/scale/): exact counts by independent formulas, and their receptive fields.

No timing here: benchmarks/run.py measures how fast these are analysed.
"""

from __future__ import annotations

import gc
from dataclasses import fields
from pathlib import Path

import pytest

from convcalc import Cost, Report, SpecError, analyze_file, analyze_text

SCALE = Path(__file__).resolve().parent.parent / "specs" / "scale"


@pytest.fixture(scope="module")
def resnet1001() -> Report:
    (r,) = analyze_file(SCALE / "resnet1001.yaml")
    return r


@pytest.fixture(scope="module")
def densenet() -> Report:
    (r,) = analyze_file(SCALE / "densenet-4x64.yaml")
    return r


def bn(c: int) -> int:
    return 2 * c  # γ and β


def test_resnet1001_params(resnet1001: Report) -> None:
    """Pre-activation bottleneck units, bias-free convs (KaimingHe/resnet-1k-layers, resnet-pre-act.lua).

    A unit of width w on c input channels: BN(c), 1x1 c→w, BN(w), 3x3 w→w, BN(w), 1x1 w→4w; the first unit of
    a stage adds a 1x1 projection c→4w. Stage inputs 16, 64, 128; widths 16, 32, 64; 111 units each.
    """
    def unit(c: int, w: int) -> int:
        return bn(c) + c * w + bn(w) + 9 * w * w + bn(w) + w * 4 * w

    stem = 3 * 16 * 3 * 3
    stages = sum(unit(c0, w) + c0 * 4 * w + 110 * unit(4 * w, w) for c0, w in ((16, 16), (64, 32), (128, 64)))
    head = bn(256) + 256 * 10 + 10
    assert resnet1001.params == stem + stages + head == 10_327_706  # the paper: "10.2M"


def test_resnet1001_macs_and_shape(resnet1001: Report) -> None:
    """MACs = output pixels × C_out × C_in × k² per conv; the first unit's 1x1 convs carry the stride."""
    total = 32 * 32 * 16 * 3 * 9
    for size, c0, w in ((32, 16, 16), (16, 64, 32), (8, 128, 64)):
        o = size * size
        first = o * (w * c0 + 9 * w * w + 4 * w * w + 4 * w * c0)
        others = 110 * o * (4 * w * w + 9 * w * w + 4 * w * w)
        total += first + others
    total += 256 * 10
    assert resnet1001.macs == total
    assert resnet1001.output_shape == (10, 1, 1)
    assert sum(1 for row in resnet1001.layers if row.type == "add") == 333
    # 999 convs on the main path + stem + classifier = 1001; plus the 3 projection shortcuts
    assert resnet1001.weight_layers == 1004


def test_resnet1001_receptive_field(resnet1001: Report) -> None:
    """Size r grows by (k − 1)·jump per conv; only the 3x3 convs and the final 8x8 pool grow it.

    stem 3x3: r = 3 (jump 1); stage 1: 111 × 2·1 → 225; stage 2 (stride 2 in a 1x1, no growth):
    111 × 2·2 → 669; stage 3 (jump 4): 111 × 2·4 → 1557; 8x8 average pool at jump 4: + 7·4 → 1585.
    Each shortcut's window (identity or 1x1, centred) lies inside its body's, so the unions add nothing:
    2^333 paths, one answer, computed node by node.
    """
    assert resnet1001.rf.size == (3 + 111 * 2 + 111 * 4 + 111 * 8 + 7 * 4,) * 2 == (1585, 1585)
    assert resnet1001.rf.stride == (4, 4)  # the pool has stride 1 (Avg(8, 8, 1, 1))
    assert resnet1001.rf_full.size == (1585, 1585)


def test_densenet_4x64_params(densenet: Report) -> None:
    """DenseNet-BC, growth 32: a dense layer on c channels is BN(c), 1x1 c→128, BN(128), 3x3 128→32;
    a transition on c channels is BN(c) and 1x1 c→c/2; blocks start at 64, 1056, 1552, 1800 channels."""
    def block(c0: int) -> int:
        return sum(bn(c0 + 32 * k) + (c0 + 32 * k) * 128 + bn(128) + 9 * 128 * 32 for k in range(64))

    def transition(c: int) -> int:
        return bn(c) + c * (c // 2)

    stem = 3 * 64 * 7 * 7 + bn(64)
    body = block(64) + transition(2112) + block(1056) + transition(3104) + block(1552) + transition(3600) \
        + block(1800)
    head = bn(3848) + 3848 * 1000 + 1000
    assert densenet.params == stem + body + head == 97_667_544
    assert densenet.output_shape == (1000, 1, 1)
    assert densenet.weight_layers == 1 + 4 * 64 * 2 + 3 + 1


def test_densenet_4x64_receptive_field(densenet: Report) -> None:
    """conv0 7x7/2: r = 7, jump 2; pool0 3x3/2: + 2·2 → 11, jump 4. A dense block's concat is the union of
    centred windows: its deepest path, 64 3x3 convs: + 64·2·jump. Transitions (1x1, 2x2 average pool /2):
    + 1·jump, jump doubles. Block 1: 11 + 512 = 523, → 527 (jump 8); block 2: + 1024 → 1551, → 1559 (16);
    block 3: + 2048 → 3607, → 3623 (32); block 4: + 4096 → 7719; global pool over 7x7 at jump 32: + 6·32 → 7911.
    """
    expected = 11 + 64 * 8 + 4 + 64 * 16 + 8 + 64 * 32 + 16 + 64 * 64 + 6 * 32
    assert densenet.rf.size == (expected, expected) == (7911, 7911)
    assert densenet.rf.stride == (224, 224)


def test_cost_addition_covers_every_bucket() -> None:
    """Cost.__add__ and Cost.scaled are written out field by field (speed): they must miss none."""
    names = [f.name for f in fields(Cost)]
    a = Cost(*range(1, len(names) + 1))
    b = Cost(*range(10, 10 * len(names) + 1, 10))
    assert [getattr(a + b, n) for n in names] == [getattr(a, n) + getattr(b, n) for n in names]
    scaled = a.scaled(3)
    assert [getattr(scaled, n) for n in names] == [getattr(a, n) * (1 if n in ("params", "buffers") else 3)
                                                   for n in names]
    assert a.scaled(1) == a


def test_garbage_collector_is_restored_after_analysis() -> None:
    """Loading and analysing pause the cyclic GC (speed); it must be back on afterwards, errors or not."""
    assert gc.isenabled()
    analyze_text("input: {channels: 3, size: 8}\nlayers: [conv: {out: 4, kernel: 3}]\n")
    assert gc.isenabled()
    with pytest.raises(SpecError):
        analyze_text("input: {channels: 3, size: 8}\nlayers: [conv: {out: 4}]\n")
    assert gc.isenabled()
    gc.disable()
    try:  # and left off when it was off
        analyze_text("input: {channels: 3, size: 8}\nlayers: [relu]\n")
        assert not gc.isenabled()
    finally:
        gc.enable()
