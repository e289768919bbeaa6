"""Receptive-field arithmetic on chains (design.md §5), per axis."""

from __future__ import annotations

from tests.conftest import chain, one


def test_distill_two_layer_example() -> None:
    """Distill's example: k3 p1 s3, then k2 p0 s1 → r 6, j 3, P 1."""
    r = chain("1,12,12", "conv: {out: 1, kernel: 3, padding: 1, stride: 3}", "conv: {out: 1, kernel: 2}")
    assert r.rf.size == (6, 6)
    assert r.rf.stride == (3, 3)
    assert r.rf.padding == (1, 1)


def test_vgg16_pool5_at_224() -> None:
    """VGG-16 to pool5 at 224: r 212, j 32, P 90 (design.md check value)."""
    stages = [(64, 2), (128, 2), (256, 3), (512, 3), (512, 3)]
    lines = []
    for ch, n in stages:
        lines += [f"conv: {{out: {ch}, kernel: 3, padding: 1}}", "relu"] * n
        lines.append("maxpool: {kernel: 2}")
    r = chain("3,224,224", *lines)
    assert r.output_shape == (512, 7, 7)
    assert (r.rf.size, r.rf.stride, r.rf.padding) == ((212, 212), (32, 32), (90, 90))


def test_article_formula_is_the_stride_one_special_case() -> None:
    # RF(l+1) = RF(l) + (k - 1) * stride holds only when earlier strides are 1; the general form multiplies
    # by the product of all earlier strides (the jump).
    r = chain("1,32,32", "conv: {out: 1, kernel: 3, stride: 2}", "conv: {out: 1, kernel: 3}")
    assert r.rf.size == (3 + (3 - 1) * 2, 7)
    naive = 3 + (3 - 1) * 1
    assert r.rf.size[0] != naive


def test_axes_are_independent() -> None:
    """A 1×3 conv has RF 1 on the height axis (torchscan reads one axis and gets this wrong)."""
    r = chain("1,9,9", "conv: {out: 1, kernel: [1, 3], stride: [1, 2]}", "conv: {out: 1, kernel: [3, 1]}")
    assert r.rf.size == (3, 1 + 2 * 1)
    assert r.rf.stride == (1, 2)


def test_dilation_rf() -> None:
    for d in (1, 2, 3, 5):
        r = chain("1,64,64", f"conv: {{out: 1, kernel: 3, dilation: {d}}}")
        assert r.rf.size == (2 * d + 1, 2 * d + 1)


def test_half_pixel_centre() -> None:
    from fractions import Fraction

    r = chain("1,8,8", "conv: {out: 1, kernel: 2}")
    assert r.rf.size == (2, 2)
    assert r.rf.centre == (Fraction(1, 2), Fraction(1, 2))


def test_tf_same_padding_is_asymmetric_and_resolution_dependent() -> None:
    # 224 input, k3 s2 SAME: out 112, pad = (112-1)*2 + 3 - 224 = 1 → 0 before, 1 after
    r = chain("1,224,224", "conv: {out: 1, kernel: 3, stride: 2, padding: same}")
    assert r.output_shape == (1, 112, 112)
    assert r.rf.padding == (0, 0)
    # 225 input: pad = 112*2 + 3 - 225 = 2 → 1 before
    r2 = chain("1,225,225", "conv: {out: 1, kernel: 3, stride: 2, padding: same}")
    assert r2.output_shape == (1, 113, 113)
    assert r2.rf.padding == (1, 1)


def test_global_pool_sees_the_whole_map() -> None:
    r = chain("4,10,10", "conv: {out: 4, kernel: 3}", "global_avgpool")
    assert r.rf.size == (10, 10)


def test_residual_union_is_the_body() -> None:
    r = one("input: {channels: 4, size: 16}\nlayers:\n  - residual: {body: [conv: {out: 4, kernel: 3, padding: 1},"
            " conv: {out: 4, kernel: 3, padding: 1}]}\n")
    assert r.rf.size == (5, 5)
    assert r.rf.padding == (2, 2)
    assert r.notes == ()
