"""What one output unit of a layer reads, per axis and per channel: the receptive-field rule of a kind.

Per axis a layer is a periodic map from output units to input units (:class:`Reads`): output unit
u = q·period + φ reads the input units q·shift + first + t·step, t = 0 … count − 1, of each :class:`Run` of
phase φ, each tap weighted (the weights are the linear probe's: 1/k for a learned or pooling kernel of k
taps, PyTorch's interpolation weights, 1/|window| for adaptive pooling). Coordinates are unbounded: no
border clips a read (an interior unit), padding and extension units are units of the map like any other.

Per channel a layer is a :class:`Channels` rule: which input channels an output channel reads.
"""

from __future__ import annotations

from fractions import Fraction
from functools import lru_cache
from math import gcd
from typing import NamedTuple

ONE = Fraction(1)


class Run(NamedTuple):
    """Taps first, first + step, …, n of them, each of weight ``weight``."""

    first: int
    step: int
    n: int
    weight: Fraction


class Reads(NamedTuple):
    """One axis of a layer: unit q·period + φ reads q·shift + the taps of ``phases[φ]`` (none: reads nothing)."""

    period: int
    shift: int
    phases: tuple[tuple[Run, ...], ...]


class Spread(NamedTuple):
    """A layer whose reads repeat only after more than :data:`MAX_PERIOD` units (a resize or adaptive pool
    between sizes with no common factor, on a huge map): unit u reads within [u·jump + lo, u·jump + hi]."""

    jump: Fraction
    lo: Fraction
    hi: Fraction


#: The largest period of reads (and of windows) computed exactly, unit by unit of one period.
MAX_PERIOD = 4096

AxisReads = tuple[Reads | Spread, Reads | Spread]


class ReadsUnion(NamedTuple):
    """A layer that is no product of one map per axis (a flatten of a map into a token sequence, and back):
    a unit reads the union of what each part's pair of axis maps gives it (each unit is in one part)."""

    parts: tuple[AxisReads, ...]


#: What a kind's receptive-field rule returns: reads per axis, or a union of them.
LayerReads = AxisReads | ReadsUnion


def parts_of(reads: LayerReads) -> tuple[AxisReads, ...]:
    """The products of a layer's reads (one, unless it is a :class:`ReadsUnion`)."""
    return reads.parts if isinstance(reads, ReadsUnion) else (reads,)

#: Each unit reads the unit at its own position.
POINT = Reads(1, 1, ((Run(0, 1, 1, ONE),),))
#: A broadcast axis of length 1: every unit reads unit 0.
BROADCAST = Reads(1, 0, ((Run(0, 1, 1, ONE),),))


@lru_cache(maxsize=1024)
def window(k: int, s: int, p: int, d: int = 1) -> Reads:
    """A sliding window (conv, pool) of k taps d apart, stride s, p_begin p: unit u reads u·s − p + t·d."""
    if k == 1 and s == 1 and p == 0:
        return POINT
    return Reads(1, s, ((Run(-p, d, k, Fraction(1, k)),),))


def transposed(k: int, s: int, p: int, d: int = 1) -> Reads:
    """A transposed conv (k taps d apart, stride s, p_begin p): unit u reads each v with v·s + t·d − p = u.

    Period s, shift 1: phase φ reads v = (φ + p − t·d)/s for the taps t < k where that is an integer (an
    arithmetic progression with step d/gcd(d, s); none at all for some phases when k·d < s or d ≥ s)."""
    phases: list[tuple[Run, ...]] = []
    for phi in range(s):
        vs = sorted((phi + p - t * d) // s for t in range(k) if (phi + p - t * d) % s == 0)
        if not vs:
            phases.append(())
            continue
        step = vs[1] - vs[0] if len(vs) > 1 else 1
        phases.append((Run(vs[0], step, len(vs), Fraction(1, k)),))
    return Reads(s, 1, tuple(phases))


def _ratio(r: Fraction) -> tuple[int, int]:
    """(period, shift) of a map with jump r = shift/period (r = 0: a constant map)."""
    return (r.denominator, r.numerator) if r else (1, 0)


def nearest(r: Fraction) -> Reads | Spread:
    """Nearest resampling with input/output ratio r (PyTorch's ``nearest``): unit u reads ⌊u·r⌋."""
    b, a = _ratio(r)
    if b > MAX_PERIOD:
        return Spread(r, Fraction(1, b) - 1, Fraction(0))
    return Reads(b, a, tuple((Run((phi * a) // b, 1, 1, ONE),) for phi in range(b)))


def linear_interp(r: Fraction, offset: Fraction) -> Reads | Spread:
    """Linear interpolation sampling unit u at x = u·r + offset (PyTorch's ``bilinear`` per axis): it reads
    ⌊x⌋ with weight 1 − λ and ⌊x⌋ + 1 with weight λ = x − ⌊x⌋ (only ⌊x⌋ where λ = 0).

    align_corners false: r = i/o (or 1/scale), offset r/2 − 1/2; true: r = (i − 1)/(o − 1), offset 0."""
    b, a = _ratio(r)
    if b > MAX_PERIOD:
        return Spread(r, offset - 1 + Fraction(1, b), offset + 1)
    phases: list[tuple[Run, ...]] = []
    for phi in range(b):
        x = phi * r + offset
        i0 = x.numerator // x.denominator
        lam = x - i0
        phases.append((Run(i0, 1, 1, ONE),) if lam == 0 else (Run(i0, 1, 1, 1 - lam), Run(i0 + 1, 1, 1, lam)))
    return Reads(b, a, tuple(phases))


def adaptive(i: int, o: int) -> Reads | Spread:
    """Adaptive pooling i → o (PyTorch's windows): unit k reads [⌊k·i/o⌋, ⌈(k+1)·i/o⌉), each tap 1/|window|."""
    g = gcd(i, o)
    b, a = o // g, i // g
    if b > MAX_PERIOD:
        return Spread(Fraction(i, o), Fraction(1, b) - 1, Fraction(i, o) - Fraction(1, b))
    phases = []
    for phi in range(b):
        lo, hi = (phi * a) // b, -(-((phi + 1) * a) // b)
        phases.append((Run(lo, 1, hi - lo, Fraction(1, hi - lo)),))
    return Reads(b, a, tuple(phases))


def spread_of(r: Reads) -> Spread:
    """Reads as an outer bound: unit u reads within [u·jump + lo, u·jump + hi]."""
    j = Fraction(r.shift, r.period)
    los = [run.first - phi * j for phi, runs in enumerate(r.phases) for run in runs]
    his = [run.first + (run.n - 1) * run.step - phi * j for phi, runs in enumerate(r.phases) for run in runs]
    return Spread(j, min(los, default=Fraction(0)), max(his, default=Fraction(0)))


def whole(n: int) -> Reads:
    """Global pooling (and flatten) over a map of n units: unit 0 reads all of them (unit v: v·n … v·n + n − 1)."""
    return window(n, n, 0)


def constant(n: int) -> Reads:
    """A global path broadcast back over the map (an SE gate, a group's statistics): every unit reads all n."""
    return Reads(1, 0, ((Run(0, 1, n, Fraction(1, n)),),))


def phase_of(r: int, i: int) -> Reads:
    """pixel_shuffle r, the sub-position i: unit u reads ⌊u/r⌋ where u mod r = i, nothing elsewhere."""
    return Reads(r, 1, tuple(((Run(0, 1, 1, ONE),) if phi == i else ()) for phi in range(r)))


def offset(r: int, i: int) -> Reads:
    """pixel_unshuffle r, the sub-position i (or flatten's pixel i of r): unit u reads u·r + i."""
    return Reads(1, r, ((Run(i, 1, 1, ONE),),))


def windows_on(n: int, w: int, s: int = 0) -> Reads:
    """Window attention on an axis of n units (Swin): the map padded to p = ⌈n/w⌉·w, windows of w whose
    edges lie at s mod w (the cyclic shift), and its mask's regions: with a shift, [0, s) and
    [p − w + s, p) are windows of their own (the shift brought them together; the mask keeps them apart).
    Unit u reads the units of its region inside the map (padding tokens hold zeros), each tap 1/w (as
    for a window of w taps). The units past the map read nothing (period 2p, as :func:`whole_map`)."""
    p = -(-n // w) * w
    edges = sorted({0, p, *range(s, p, w)})
    phases: list[tuple[Run, ...]] = []
    weight = Fraction(1, w)
    for lo, hi in zip(edges, edges[1:], strict=False):
        run = (Run(lo, 1, min(hi, n) - lo, weight),) if lo < n else ()
        phases.extend([run] * (hi - lo))
    return Reads(2 * p, 2 * p, (*phases[:n], *(() for _ in range(2 * p - n))))


def whole_map(n: int) -> Reads:
    """Global attention on an axis of n units: every unit of the map reads all n, each tap 1/n. The n units
    past the map's end (the padding a later layer may read, on either side) read nothing: padding holds
    zeros, not another map (period 2n, shift 2n), so a conv after it still sees only the one map."""
    weight = Fraction(1, n)
    return Reads(2 * n, 2 * n, tuple((Run(0, 1, n, weight),) if phi < n else () for phi in range(2 * n)))


def grid(n: int, g: int) -> Reads:
    """Grid attention (MaxViT) on an axis of n = g·t units: unit u reads the g units ≡ u (mod t), t apart,
    each tap 1/g; as :func:`whole_map`, the n units past the map read nothing (period 2n)."""
    t = n // g
    weight = Fraction(1, g)
    return Reads(2 * n, 2 * n, tuple((Run(phi % t, t, g, weight),) if phi < n else () for phi in range(2 * n)))


def row_to_tokens(h: int, w: int, y: int) -> AxisReads:
    """Row y of an h×w map flattened to a sequence of h·w tokens (row-major): the one row of the sequence
    reads row y (unit v: v·h + y); token n reads column n − y·w where y·w ≤ n < (y + 1)·w, nothing
    elsewhere (period h·w, shift w)."""
    n = h * w
    cols = tuple(((Run(phi - y * w, 1, 1, ONE),) if y * w <= phi < (y + 1) * w else ()) for phi in range(n))
    return offset(h, y), Reads(n, w, cols)


def tokens_to_row(h: int, w: int, y: int, skip: int) -> AxisReads:
    """Row y of an h×w map made from a sequence of skip + h·w tokens (the first ``skip`` left out): units of
    row y (period h, shift 1) read the sequence's one row; unit x of it reads token skip + y·w + x (period
    w, shift skip + h·w: the next w units read the next sequence, as the next map reads the next image)."""
    rows = tuple(((Run(0, 1, 1, ONE),) if phi == y else ()) for phi in range(h))
    cols = tuple((Run(skip + y * w + phi, 1, 1, ONE),) for phi in range(w))
    return Reads(h, 1, rows), Reads(w, skip + h * w, cols)


# ---------------------------------------------------------------- channels


class Channels(NamedTuple):
    """How output channels read input channels.

    ``groups``: output group j (of g) reads every input channel of group j, weighted equally (g = 1: every
    channel; g = C: channel by channel); ``same``: channel c reads channel c; ``shuffle``: a permutation
    (ShuffleNet's, ``factor`` groups); ``pixel_shuffle`` / ``pixel_unshuffle`` (``factor`` r) and
    ``flatten`` move positions into channels and back (each channel reads its own sub-position)."""

    how: str = "same"
    groups: int = 1
    factor: int = 1


SAME = Channels()
MIX = Channels("groups", 1)
