"""Every cost formula as arithmetic (design.md §3). Expected values are written as the formula."""

from __future__ import annotations

import pytest

from convcalc.kinds import KINDS, Cost
from convcalc.kinds.pool import adaptive_windows
from tests.conftest import chain


def test_conv_with_bias_stride_padding_groups() -> None:
    r = chain("12,9,9", "conv: {out: 6, kernel: 3, stride: 2, padding: 1, groups: 3, bias: true}")
    l = r.layers[0]
    assert l.output_shape == (6, 5, 5)
    assert l.cost.params == 6 * (12 // 3) * 3 * 3 + 6
    assert l.cost.macs == 5 * 5 * 6 * (12 // 3) * 3 * 3
    assert l.cost.adds == 5 * 5 * 6
    assert l.cost.flops == 2 * l.cost.macs + l.cost.adds


def test_asymmetric_kernel_uses_both_axes() -> None:
    l = chain("4,10,8", "conv: {out: 2, kernel: [1, 5], padding: [0, 2]}").layers[0]
    assert l.output_shape == (2, 10, 8)
    assert l.cost.params == 2 * 4 * 1 * 5
    assert l.cost.macs == 10 * 8 * 2 * 4 * 5


def test_dilation_costs_as_undilated() -> None:
    a = chain("8,16,16", "conv: {out: 8, kernel: 3, padding: 1}").layers[0]
    b = chain("8,16,16", "conv: {out: 8, kernel: 3, padding: 2, dilation: 2}").layers[0]
    assert a.cost == b.cost
    assert b.cost.macs == 16 * 16 * 8 * 8 * 9


def test_depthwise_and_pointwise() -> None:
    r = chain("32,10,10", "dwconv: {kernel: 3, padding: 1, multiplier: 2}", "pwconv: {out: 16}")
    dw, pw = r.layers
    assert dw.output_shape == (64, 10, 10)
    assert dw.cost.params == 64 * 1 * 9
    assert dw.cost.macs == 100 * 64 * 1 * 9
    assert pw.cost.params == 16 * 64
    assert pw.cost.macs == 100 * 16 * 64


def test_separable_equals_depthwise_plus_pointwise_with_bias() -> None:
    sep = chain("8,6,6", "separable: {out: 4, kernel: 3, padding: 1, bias: true}").layers[0]
    assert sep.cost.params == 8 * 9 + 8 + 8 * 4 + 4
    assert sep.cost.macs == 36 * 8 * 9 + 36 * 8 * 4
    assert sep.cost.adds == 36 * 8 + 36 * 4


def test_transposed_conv_counts_the_input_side() -> None:
    l = chain("16,7,7", "deconv: {out: 8, kernel: 4, stride: 2, padding: 1, bias: true}").layers[0]
    assert l.output_shape == (8, (7 - 1) * 2 - 2 + (4 - 1) + 1, 14)
    assert l.cost.params == 16 * 8 * 16 + 8
    assert l.cost.macs == 7 * 7 * 16 * 8 * 16
    assert l.cost.adds == 14 * 14 * 8


def test_transposed_output_padding_and_groups() -> None:
    l = chain("4,5,5", "deconv: {out: 6, kernel: 3, stride: 2, padding: 1, output_padding: 1, groups: 2}").layers[0]
    assert l.output_shape == (6, (5 - 1) * 2 - 2 + 2 + 1 + 1, 10)
    assert l.cost.params == 4 * (6 // 2) * 9
    assert l.cost.macs == 25 * 4 * 3 * 9


def test_linear_and_flatten() -> None:
    r = chain("4,3,3", "flatten", "linear: {out: 10}", defaults="{}")
    flat, fc = r.layers
    assert flat.output_shape == (36, 1, 1)
    assert fc.cost == Cost(params=36 * 10 + 10, macs=36 * 10, adds=10)


def test_batchnorm_buckets() -> None:
    l = chain("5,4,3", "bn").layers[0]
    assert l.cost == Cost(params=2 * 5, buffers=2 * 5, adds=5 * 4 * 3, muls=5 * 4 * 3)
    assert l.cost.flops == 2 * 60


@pytest.mark.parametrize(
    "kind,expected",
    [
        ("relu", Cost(cmps=60)),
        ("relu6", Cost(cmps=60)),
        ("leaky_relu", Cost(cmps=60, muls=60)),
        ("sigmoid", Cost(special=60)),
        ("tanh", Cost(special=60)),
        ("gelu", Cost(special=60)),
        ("hardsigmoid", Cost(special=60)),
        ("silu", Cost(muls=60, special=60)),
        ("hardswish", Cost(muls=60, special=60)),
        ("dropout", Cost()),
        ("identity", Cost()),
    ],
)
def test_activations(kind: str, expected: Cost) -> None:
    assert chain("5,4,3", kind).layers[0].cost == expected


def test_pools() -> None:
    mp = chain("3,9,9", "maxpool: {kernel: 3, stride: 2}").layers[0]
    assert mp.output_shape == (3, 4, 4)
    assert mp.cost == Cost(cmps=16 * 3 * (9 - 1))
    ap = chain("3,8,8", "avgpool: {kernel: 2}").layers[0]
    assert ap.output_shape == (3, 4, 4)
    assert ap.cost == Cost(adds=16 * 3 * (4 - 1), divs=16 * 3)
    gp = chain("7,5,6", "global_avgpool").layers[0]
    assert gp.output_shape == (7, 1, 1)
    assert gp.cost == Cost(adds=7 * (30 - 1), divs=7)
    gm = chain("7,5,6", "global_maxpool").layers[0]
    assert gm.cost == Cost(cmps=7 * (30 - 1))


def test_ceil_mode_pool() -> None:
    # PyTorch: ceil((112 - 3)/2) + 1 = 56 with ceil_mode, floor(...) + 1 = 55 without
    assert chain("1,112,112", "maxpool: {kernel: 3, stride: 2, ceil_mode: true}").output_shape == (1, 56, 56)
    assert chain("1,112,112", "maxpool: {kernel: 3, stride: 2}").output_shape == (1, 55, 55)
    # the last window may not start in the padding: ceil((5 + 2 - 2)/2) + 1 = 4 would start at 6 >= 5 + 1
    assert chain("1,5,5", "maxpool: {kernel: 2, stride: 2, padding: 1, ceil_mode: true}").output_shape == (1, 3, 3)


def test_adaptive_avgpool_windows_match_pytorch() -> None:
    assert adaptive_windows(7, 7) == [1] * 7
    assert adaptive_windows(13, 6) == [3, 3, 3, 3, 3, 3]
    assert adaptive_windows(5, 3) == [2, 3, 2]
    l = chain("2,5,5", "adaptive_avgpool: {size: 3}").layers[0]
    assert l.output_shape == (2, 3, 3)
    assert l.cost == Cost(adds=2 * ((2 + 3 + 2) * (2 + 3 + 2) - 9), divs=2 * 9)


def test_se_reduction_and_width() -> None:
    c, h, w, cr = 64, 8, 8, 4
    l = chain(f"{c},{h},{w}", "se: {reduction: 16}").layers[0]
    assert l.cost.params == c * cr + cr + cr * c + c
    assert l.cost.macs == 2 * c * cr
    assert l.cost.adds == c * (h * w - 1) + cr + c
    assert l.cost.divs == c
    assert l.cost.cmps == cr
    assert l.cost.special == c
    assert l.cost.muls == c * h * w
    l2 = chain("64,8,8", "se: {width: 8, activation: silu, gate: hardsigmoid}").layers[0]
    assert l2.cost.params == 64 * 8 + 8 + 8 * 64 + 64
    assert l2.cost.special == 8 + 64
    assert l2.cost.muls == 8 + 64 * 64


def test_deformable_v1_and_v2() -> None:
    c, o, k, ho = 16, 32, 3, 10
    v1 = chain(f"{c},10,10", "deform: {out: 32, kernel: 3, padding: 1}").layers[0]
    kk = k * k
    main = o * c * kk
    offset = 2 * kk * c * kk + 2 * kk
    assert v1.cost.params == main + offset
    assert v1.cost.macs == ho * ho * (o * c * kk + 2 * kk * c * kk) + 4 * ho * ho * kk * c
    v2 = chain(f"{c},10,10", "deform: {out: 32, kernel: 3, padding: 1, version: 2, offset_groups: 2}").layers[0]
    offset2 = 3 * 2 * kk * c * kk + 3 * 2 * kk
    assert v2.cost.params == main + offset2
    assert v2.cost.special == ho * ho * 2 * kk
    assert v2.data_dependent


def test_upsample() -> None:
    n = chain("3,4,4", "upsample: {scale: 2}").layers[0]
    assert n.output_shape == (3, 8, 8) and n.cost == Cost()
    b = chain("3,4,4", "upsample: {scale: 2, mode: bilinear}").layers[0]
    assert b.cost == Cost(macs=4 * 3 * 8 * 8)


def test_channel_shuffle_is_free() -> None:
    assert chain("12,4,4", "channel_shuffle: {groups: 3}").layers[0].cost == Cost()


def test_residual_add_counts_adds() -> None:
    r = chain("8,6,6", "residual: {body: [conv: {out: 8, kernel: 3, padding: 1}]}")
    add = r.layers[-1]
    assert add.type == "add"
    assert add.cost == Cost(adds=8 * 6 * 6)


def test_batch_scales_work_not_params() -> None:
    from tests.conftest import one

    r = one("input: {channels: 3, size: 8, batch: 4}\nlayers:\n  - conv: {out: 2, kernel: 3, bias: false}\n")
    assert r.params == 2 * 3 * 9
    assert r.macs == 4 * (6 * 6 * 2 * 3 * 9)


def test_cost_sum_and_flops() -> None:
    a = Cost(params=1, macs=2, adds=3, muls=4, divs=5, cmps=6, special=7)
    assert (a + a).flops == 2 * (2 * 2 + 3 + 4 + 5)


def test_registry_has_no_silent_zero_for_work_layers() -> None:
    # a conv must never cost zero: guards against a kind wired to the free handler by mistake
    for kind in ("conv", "dwconv", "pwconv", "separable", "deconv", "deform", "linear"):
        assert KINDS[kind].cost.__name__ != "free_cost"
