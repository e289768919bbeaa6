"""What one unit of a layer reads (convcalc/kinds/reads.py), written out by hand from PyTorch's index rules,
and the windows that composing them gives (convcalc/metrics/windows.py)."""

from __future__ import annotations

from fractions import Fraction as F

from convcalc.kinds.reads import MAX_PERIOD, Reads, Run, Spread, adaptive, linear_interp, nearest, transposed, window
from convcalc.metrics.windows import INPUT, Bound, Entry, compose, reduced


def taps(r: Reads) -> list[list[int]]:
    """Per phase, the input offsets read (relative to q·shift)."""
    return [[run.first + k * run.step for run in phase for k in range(run.n)] for phase in r.phases]


def test_transposed_conv_reads_the_inputs_whose_taps_land_on_the_unit() -> None:
    """u = v·s + t·d − p: k2 s2 reads v = ⌊u/2⌋; k3 s2 p1 reads one input at even units, two at odd ones;
    k1 s3 p1 reads nothing at two of three phases; k2 d2 s2 (taps 0 and 2) reads nothing at odd units."""
    assert (transposed(2, 2, 0).period, transposed(2, 2, 0).shift, taps(transposed(2, 2, 0))) == (2, 1, [[0], [0]])
    assert taps(transposed(3, 2, 1)) == [[0], [0, 1]]
    assert taps(transposed(1, 3, 1)) == [[], [], [1]]
    assert taps(transposed(2, 2, 0, 2)) == [[-1, 0], []]
    assert transposed(3, 2, 1).phases[1] == (Run(0, 1, 2, F(1, 3)),)


def test_resampling_follows_pytorchs_index_rules() -> None:
    """nearest 4 → 9 reads ⌊u·4/9⌋; bilinear ×2 (align_corners false) samples x = u/2 − 1/4 and reads ⌊x⌋
    (weight 1 − λ) and ⌊x⌋ + 1 (λ); align_corners 4 → 8 samples x = 3u/7: units 0 and 7 sit on an input and
    read only it (λ = 0); adaptive 10 → 4 reads [⌊5k/2⌋, ⌈5(k+1)/2⌉)."""
    assert (nearest(F(4, 9)).period, nearest(F(4, 9)).shift) == (9, 4)
    assert taps(nearest(F(4, 9))) == [[0], [0], [0], [1], [1], [2], [2], [3], [3]]
    up = linear_interp(F(1, 2), F(-1, 4))
    assert up.phases == ((Run(-1, 1, 1, F(1, 4)), Run(0, 1, 1, F(3, 4))),
                         (Run(0, 1, 1, F(3, 4)), Run(1, 1, 1, F(1, 4))))
    corners = linear_interp(F(3, 7), F(0))
    assert (corners.period, corners.shift) == (7, 3) and taps(corners)[0] == [0] and taps(corners)[1] == [0, 1]
    assert taps(adaptive(10, 4)) == [[0, 1, 2], [2, 3, 4]] and adaptive(10, 4).shift == 5


def test_periods_past_the_limit_are_outer_bounds() -> None:
    """An adaptive pool 10⁹ → 999999937 repeats only after 999999937 units: its reads are a Spread, and the
    windows an outer Bound (no loop over the units)."""
    big = adaptive(10**9, 999999937)
    assert isinstance(big, Spread) and big.jump == F(10**9, 999999937)
    out = compose(INPUT, big)
    assert isinstance(out, Bound)
    e = out.at(5)
    assert e.lo <= 5 and e.hi >= 6  # unit 5 reads pixels 5 and 6 of the 1.00000006-pixel steps
    assert isinstance(nearest(F(MAX_PERIOD + 1, MAX_PERIOD + 2)), Spread)
    assert nearest(F(MAX_PERIOD - 1, MAX_PERIOD)).period == MAX_PERIOD


def test_composing_windows() -> None:
    """conv k3 s2 p1 then a 2×2 stride-2 transposed conv: every unit reads exactly 3 pixels, [2⌊u/2⌋·2 − 1 …];
    a period that repeats is reduced: 2 units repeating every 2 with shift 2 are 1 unit with shift 1."""
    conv = compose(INPUT, window(3, 2, 1))
    assert conv.entries == (Entry(-1, 1, 1, 0),) and conv.shift == 2
    up = compose(conv, transposed(2, 2, 0))
    assert up.period == 2 and up.shift == 2
    assert [(e.lo, e.hi) for e in up.entries if e is not None] == [(-1, 1), (-1, 1)]
    same = reduced(2, 2, (Entry(0, 2, 1, 1), Entry(1, 3, 1, 2)))
    assert (same.period, same.shift) == (1, 1)
