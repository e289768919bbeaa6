"""Every number of the seed digest (../shared/seed/digest.md), from the bundled specs in specs/seed/."""

from __future__ import annotations

from pathlib import Path

import pytest

from convcalc import Report, analyze_file

SEED = Path(__file__).resolve().parent.parent / "specs" / "seed"


def alts(name: str) -> list[Report]:
    return analyze_file(SEED / name)


@pytest.mark.parametrize(
    "spec,params,rf",
    [
        ("stack-5x5.yaml", [5 * 5 * 10 * 10, 3 * 3 * 10 * 10 * 2], [5, 5]),
        ("stack-7x7.yaml", [7 * 7 * 10 * 10, 3 * 3 * 10 * 10 * 3], [7, 7]),
        ("stem.yaml", [5 * 5 * 3 * 64, 3 * 3 * 3 * 64 + 3 * 3 * 64 * 64], [5, 5]),
        ("same-channels.yaml", [5 * 5 * 64 * 64, 3 * 3 * 64 * 64 * 2], [5, 5]),
        ("grouped.yaml", [6 * 12 * 5 * 5, 6 * 4 * 5 * 5], [5, 5]),
    ],
)
def test_article_params_and_receptive_fields(spec: str, params: list[int], rf: list[int]) -> None:
    reports = alts(spec)
    assert [r.params for r in reports] == params
    assert [r.rf.size for r in reports] == [(rf[0], rf[0]), (rf[1], rf[1])]


def test_literal_digest_values() -> None:
    assert [r.params for r in alts("stack-5x5.yaml")] == [2500, 1800]
    assert [r.params for r in alts("stack-7x7.yaml")] == [4900, 2700]
    assert [r.params for r in alts("stem.yaml")] == [4800, 38592]
    assert [r.params for r in alts("same-channels.yaml")] == [102400, 73728]
    assert [r.params for r in alts("grouped.yaml")] == [1800, 600]
    assert [r.macs for r in alts("asymmetric.yaml")] == [81, 72]


def test_stem_shapes() -> None:
    assert [r.output_shape for r in alts("stem.yaml")] == [(64, 11, 11), (64, 11, 11)]
    assert [r.output_shape for r in alts("same-channels.yaml")] == [(64, 7, 7), (64, 7, 7)]


def test_erratum_true_ratio_is_1_39_not_88_8() -> None:
    one5, two3 = alts("same-channels.yaml")
    assert one5.params * 10_000 // two3.params == 13888  # 102400 / 73728 = 1.3888...
    assert 3 * 3 * 64 * 2 == 1152  # what the article printed instead of 73728


def test_asymmetric_layers() -> None:
    full, fact = alts("asymmetric.yaml")
    assert full.macs == 9 * 9
    a, b = fact.layers
    assert a.output_shape == (1, 5, 3) and a.cost.macs == 15 * 3
    assert b.output_shape == (1, 3, 3) and b.cost.macs == 9 * 3
    assert full.rf.size == fact.rf.size == (3, 3)
    assert (full.params, fact.params) == (9, 6)


def test_depthwise_separable_mobilenets_table_3() -> None:
    std, dwpw, sep, grouped = alts("depthwise-separable.yaml")
    assert (std.params, std.macs) == (2_359_296, 462_422_016)
    assert (dwpw.params, dwpw.macs) == (266_752, 52_283_392)
    assert (sep.params, sep.macs) == (dwpw.params, dwpw.macs)
    # ratio = 1/C_out + 1/K^2 exactly
    from fractions import Fraction

    assert Fraction(dwpw.macs, std.macs) == Fraction(1, 512) + Fraction(1, 9)
    assert Fraction(grouped.params, std.params) == Fraction(1, 32)


def test_dilated_cost_and_rf() -> None:
    k3, d2, k5, gridded, hybrid = alts("dilated.yaml")
    assert k3.params == d2.params == 3 * 3 * 64 * 64
    assert k3.macs == d2.macs
    assert d2.rf.size == k5.rf.size == (2 * 2 + 1, 2 * 2 + 1)
    assert gridded.rf.size == (13, 13)
    assert hybrid.rf.size == (1 + 2 * 1 + 2 * 2 + 2 * 5, 17)


def test_channel_shuffle_zero_cost() -> None:
    std, grouped, shuffled = alts("channel-shuffle.yaml")
    assert grouped.params == shuffled.params == std.params // 3
    assert grouped.macs == shuffled.macs
    shuffle = [l for l in shuffled.layers if l.type == "channel_shuffle"][0]
    assert (shuffle.cost.params, shuffle.cost.macs) == (0, 0)


def test_inception_bottleneck() -> None:
    naive, reduced = alts("inception.yaml")
    assert naive.output_shape == (64 + 128 + 32 + 192, 28, 28)
    assert reduced.output_shape == (256, 28, 28)
    assert naive.params == 192 * 64 + 9 * 192 * 128 + 25 * 192 * 32
    assert reduced.params == 192 * 64 + 192 * 96 + 9 * 96 * 128 + 192 * 16 + 25 * 16 * 32 + 192 * 32
    assert reduced.rf.size == (5, 5)


def test_se_adds_gate_and_full_rf() -> None:
    plain, se = alts("se.yaml")
    assert se.params - plain.params == 64 * 4 + 4 + 4 * 64 + 64
    assert se.macs - plain.macs == 2 * 64 * 4
    assert se.rf.size == plain.rf.size == (5, 5)
    assert plain.rf_full.size == (5, 5)
    assert se.rf_full.size[0] >= 56


def test_deformable_is_flagged() -> None:
    conv, v1, v2 = alts("deformable.yaml")
    assert conv.params < v1.params < v2.params
    assert v1.rf.size == conv.rf.size == (3, 3)
    assert any("data-dependent" in n for n in v1.notes)


def test_skip_and_dense() -> None:
    plain, res, dense = alts("skip-dense.yaml")
    assert plain.params == res.params == 4 * (9 * 64 * 64 + 2 * 64)
    assert res.total.adds - plain.total.adds == 2 * 64 * 32 * 32
    assert dense.output_shape == (64 + 4 * 32, 32, 32)
    assert dense.params == sum(9 * (64 + 32 * k) * 32 + 2 * (64 + 32 * k) for k in range(4))
    assert dense.rf.size == (9, 9)


def test_every_seed_spec_named_in_the_issue_exists() -> None:
    names = {p.name for p in SEED.glob("*.yaml")}
    assert {
        "stack-5x5.yaml", "stack-7x7.yaml", "stem.yaml", "same-channels.yaml", "asymmetric.yaml", "grouped.yaml",
        "depthwise-separable.yaml", "dilated.yaml", "channel-shuffle.yaml", "inception.yaml", "se.yaml",
        "deformable.yaml", "skip-dense.yaml",
    } <= names
