"""The support of a map's units in two dimensions: a union of parts, each a product of one term per axis.

A unit (u_h, u_w) depends on the input pixels of every :data:`Part` whose two terms both have a window
at it; its window on an axis is the union of those parts' windows there. One part is a product of windows
(any stack of layers keeps a product); merges of branches add parts. Parts with equal jumps and the same
pattern of units that read nothing are merged (their projections stay exact: a part is present at a unit
exactly when the other is), so a map has several parts only after branches of different jumps meet (a
resize to an odd size, a gate broadcast over a map) or where a transposed conv leaves units without input.

Centres are per axis: the measure of a unit on an axis is the sum over its parts (merges weigh every
operand fully, channel mixing by channel count).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from fractions import Fraction
from functools import lru_cache
from math import lcm
from typing import NamedTuple

from convcalc.kinds.reads import POINT, LayerReads, Reads, ReadsUnion, Spread
from convcalc.metrics.windows import (
    INPUT,
    AnyTerm,
    Bound,
    Entry,
    Slot,
    Term,
    Weight,
    bound_of,
    compose,
    join,
    same_slot,
    union,
)

Part = tuple[AnyTerm, AnyTerm]
Support = tuple[Part, ...]
START: Support = ((INPUT, INPUT),)
#: Distinct arguments each memoised function below keeps: supports are immutable values and these functions pure,
#: so one result serves every equal support (the layers of a sweep's configurations at one input size share
#: their windows whatever the widths).
MEMO = 1 << 14


def _key(p: Part) -> tuple[object, ...]:
    return p[0].jump, p[1].jump, p[0].empties(), p[1].empties()


def _void(p: Part) -> bool:
    """A part no unit reads through (one axis reads nothing anywhere: a row of tokens that a later
    ``to_map`` row does not take)."""
    return any(isinstance(t, Term) and all(e is None for e in t.entries) for t in p)


def normal(parts: Iterable[tuple[Part, Weight]]) -> Support:
    """Merge weighted parts of equal jumps and equal patterns of empty units (in order of first appearance);
    parts that no unit reads through are left out (unless every part is such)."""
    groups: dict[tuple[object, ...], list[tuple[Part, Weight]]] = {}
    given = list(parts)
    kept = [(p, w) for p, w in given if not _void(p)] or given[:1]
    for p, w in kept:
        groups.setdefault(_key(p), []).append((p, w))
    out = []
    for members in groups.values():
        out.append((union([(p[0], w) for p, w in members]), union([(p[1], w) for p, w in members])))
    return tuple(out)


def apply(s: Support, reads: LayerReads) -> Support:
    """The support after a layer that reads ``reads`` per axis (a union: each part's, together).

    Remembered per support and reads (:func:`_applied`), in front of that by the identities of the reads per
    axis (kept beside the result, so that their ids stay theirs): a kind's reads are shared objects (its rule
    is memoised, a window's reads too), and hashing their Fraction weights costs more than the lookup saves."""
    if isinstance(reads, ReadsUnion):
        return _applied(s, reads)
    h, w = reads
    key = (s, id(h), id(w))
    known = _APPLIED.get(key)
    if known is not None and known[0] is h and known[1] is w:
        return known[2]
    out = _applied(s, reads)
    if len(_APPLIED) >= MEMO:
        _APPLIED.clear()
    _APPLIED[key] = (h, w, out)
    return out


#: :func:`apply`'s results: (support, ids of the reads per axis) → (the reads per axis, the support after them)
_APPLIED: dict[tuple[Support, int, int], tuple[Reads | Spread, Reads | Spread, Support]] = {}


@lru_cache(maxsize=MEMO)
def _applied(s: Support, reads: LayerReads) -> Support:
    """:func:`apply`, computed."""
    if isinstance(reads, ReadsUnion):
        return normal(((compose(p[0], r[0]), compose(p[1], r[1])), Fraction(1)) for r in reads.parts for p in s)
    if reads == (POINT, POINT):
        return s
    if len(s) == 1:
        return ((compose(s[0][0], reads[0]), compose(s[0][1], reads[1])),)
    return normal(((compose(p[0], reads[0]), compose(p[1], reads[1])), Fraction(1)) for p in s)


@lru_cache(maxsize=MEMO)
def merged(supports: tuple[tuple[Support, Weight], ...]) -> Support:
    """The union of supports (each measure scaled by its weight)."""
    if len(supports) == 1 and supports[0][1] == 1:
        return supports[0][0]
    return normal((p, w) for s, w in supports for p in s)


# ---------------------------------------------------------------- per unit


def unit(s: Support, uh: int, uw: int) -> tuple[Entry, Entry] | None:
    """The windows (and measures) of unit (uh, uw) per axis, or None when it reads no input pixel."""
    h: Slot = None
    w: Slot = None
    for th, tw in s:
        eh, ew = th.at(uh), tw.at(uw)
        if eh is not None and ew is not None:
            h, w = join(h, eh), join(w, ew)
    return None if h is None or w is None else (h, w)


def axis_at(s: Support, ax: int, u: int) -> Slot:
    """The window of unit u on one axis over every part (the unit as seen where all parts are present)."""
    acc: Slot = None
    for p in s:
        acc = join(acc, p[ax].at(u))
    return acc


# ---------------------------------------------------------------- summaries


class AxisRF(NamedTuple):
    """The receptive field of a map on one axis, over its units.

    ``size``: the largest window of a unit; ``smallest``: the smallest of a unit that reads any input;
    ``period``: after how many units the windows repeat (None: never, branches of different jumps met);
    ``jump``: the effective stride; ``start``: the first pixel of unit 0's window (−effective padding);
    ``centre``: unit 0's centre. A map none of whose units reads any input has size 0. ``exact`` false: the
    windows repeat only after more than MAX_PERIOD units, and size is an outer bound (smallest 1)."""

    size: int = 1
    smallest: int = 1
    period: int | None = 1
    jump: Fraction | int = 1
    start: Fraction | int = 0
    centre: Fraction | int = 0
    exact: bool = True

    @property
    def padding(self) -> Fraction | int:
        """Effective padding P = −start."""
        return -self.start

    @property
    def varies(self) -> bool:
        return self.smallest != self.size


RF = tuple[AxisRF, AxisRF]
NO_RF: RF = (AxisRF(), AxisRF())


def _exact(v: Fraction) -> Fraction | int:
    return v.numerator if v.denominator == 1 else v


def _lines(terms: Sequence[AnyTerm], n: int) -> Iterable[tuple[int, list[tuple[Entry, Fraction | int]]]]:
    """Per phase class ψ of the common period L (or per unit when L ≥ n): the number of further cycles Q
    and, for each term with a window at ψ, its entry and its shift per cycle (windows at ψ + q·L, q ≤ Q)."""
    period = lcm(*(t.period for t in terms))
    if period >= n:
        for u in range(n):
            yield 0, [(e, 0) for e in (t.at(u) for t in terms) if e is not None]
        return
    for psi in range(period):
        yield (n - 1 - psi) // period, [(e, t.shift * (period // t.period))
                                        for e, t in ((t.at(psi), t) for t in terms) if e is not None]


def _extent(lines: list[tuple[Entry, Fraction | int]], q: int) -> Fraction | int:
    return max(e.hi + s * q for e, s in lines) - min(e.lo + s * q for e, s in lines) + 1


def _extremes(terms: Sequence[AnyTerm], n: int) -> tuple[int, int] | None:
    """(largest, smallest) window over units 0 … n − 1 of the union of terms, None if none reads anything."""
    big, small = 0, None
    for cycles, lines in _lines(terms, n):
        if not lines:
            continue
        # the extent is convex in q (max of lines minus min of lines): largest at an end, smallest at an end
        # or where two lines of different slopes cross
        qs = {0, cycles}
        for (a, sa), (b, sb) in ((x, y) for x in lines for y in lines if x[1] > y[1]):
            for c in (Fraction(b.hi - a.hi, sa - sb), Fraction(b.lo - a.lo, sa - sb)):
                qs.update(q for q in (c.numerator // c.denominator, -(-c.numerator // c.denominator)) if 0 < q < cycles)
        sizes = [int(_extent(lines, q)) for q in qs]
        big = max(big, *sizes)
        small = min(sizes) if small is None else min(small, *sizes)
    return None if small is None else (big, small)


def _presence(s: Support, ax: int, m: int) -> list[tuple[AnyTerm, ...]]:
    """The distinct sets of parts present together at a unit of the other axis (of m units), as ax terms."""
    other = 1 - ax
    if all(p[other].empties() is None for p in s):
        return [tuple(p[ax] for p in s)]
    period = lcm(*(p[other].period for p in s))
    seen: dict[tuple[int, ...], None] = {}
    for u in range(min(period, m)):
        seen.setdefault(tuple(i for i, p in enumerate(s) if p[other].at(u) is not None))
    return [tuple(s[i][ax] for i in key) for key in seen if key]


def _first_window(s: Support, ax: int, u: int, m: int) -> Slot:
    """Unit u's window on axis ``ax`` where all parts are present at every unit of the other axis (m units);
    otherwise as seen from the first unit of the other axis at which u reads anything (a token sequence:
    token 0's row, not the union of every row)."""
    if all(p[1 - ax].empties() is None for p in s):
        return axis_at(s, ax, u)
    for v in range(min(m, lcm(*(p[1 - ax].period for p in s)))):
        got = unit(s, u, v) if ax == 0 else unit(s, v, u)
        if got is not None:
            return got[ax]
    return None


def _period_in(t: AnyTerm, n: int) -> int:
    """The period of the windows over the map's n units: the term's, or where that is n or more (attention
    reads nothing past the map, period 2n) the smallest p whose units u and u + p inside the map have one
    window moved by p units."""
    if t.period < n or not isinstance(t, Term):
        return t.period
    shift = t.jump
    for p in range(1, n):
        by = shift * p
        if by.denominator == 1 and all(same_slot(t.at(u + p), t.at(u), int(by)) for u in range(n - p)):
            return p
    return t.period


def summaries(s: Support, h: int, w: int) -> RF:
    """The receptive field on both axes of a map of h × w units (:func:`summary` per axis), remembered per
    support (one window moved by the stride on both axes: whatever the map's size) or per support and size."""
    plain = _plain_summaries(s)
    return plain if plain is not None else _sized_summaries(s, h, w)


@lru_cache(maxsize=MEMO)
def _plain_summaries(s: Support) -> RF | None:
    h, w = _plain(s, 0), _plain(s, 1)
    return None if h is None or w is None else (h, w)


@lru_cache(maxsize=MEMO)
def _sized_summaries(s: Support, h: int, w: int) -> RF:
    return summary(s, 0, h, w), summary(s, 1, w, h)


def _plain(s: Support, ax: int) -> AxisRF | None:
    """The receptive field on axis ``ax`` where the support is one window moved by the stride there (and
    reads at every unit of the other axis): that window's, whatever the map's size; else None."""
    if len(s) != 1:
        return None
    t = s[0][ax]
    if not isinstance(t, Term) or t.period != 1 or s[0][1 - ax].empties() is not None:
        return None
    e = t.at(0)
    if e is None:
        return None
    size = e.hi - e.lo + 1
    return AxisRF(size, size, 1, t.shift, e.lo, _exact(e.centre))


def summary(s: Support, ax: int, n: int, m: int) -> AxisRF:
    """The receptive field on axis ``ax`` of a map of n units on it and m on the other axis."""
    if any(isinstance(p[ax], Bound) for p in s):
        return _bound_summary([bound_of(p[ax]) for p in s], n)
    plain = _plain(s, ax)
    if plain is not None:  # one window moved by the stride: the plain case
        return plain
    big, small = 0, 0
    found = [x for x in (_extremes(ts, n) for ts in _presence(s, ax, m)) if x is not None]
    if found:
        big, small = max(b for b, _ in found), min(sm for _, sm in found)
    jumps = {p[ax].jump for p in s}
    first = s[0][ax]
    # (a map of one unit on the axis repeats trivially, whatever its parts' jumps)
    period = 1 if n == 1 else _period_in(union([(p[ax], Fraction(1)) for p in s]), n) if len(jumps) == 1 else None
    jump = first.jump
    e, at = _first_window(s, ax, 0, m), 0
    while e is None and at < 4 * first.period:
        at += 1
        e = _first_window(s, ax, at, m)
    if e is None:
        return AxisRF(big, small, period, _exact(jump), 0, 0)
    return AxisRF(big, small, period, _exact(jump), _exact(Fraction(e.lo) - at * jump), _exact(e.centre - at * jump))


def _bound_summary(bs: list[Bound], n: int) -> AxisRF:
    """An outer bound: the extent of the union is convex in u, so largest at unit 0 or unit n − 1."""
    def extent(u: int) -> Fraction:
        return max(b.hi + u * b.jump for b in bs) - min(b.lo + u * b.jump for b in bs)

    size = max(extent(0), extent(n - 1))
    lo = min(b.lo for b in bs)
    return AxisRF(size.numerator // size.denominator + 1, 1, None, _exact(bs[0].jump),
                  _exact(Fraction(-(-lo.numerator // lo.denominator))), _exact(bs[0].centre), False)


def _lone(ts: list[AnyTerm]) -> tuple[Entry, int] | None:
    """Unit 0's window and the stride of an operand that is one window moved by the stride (one part of one
    phase that reads), else None."""
    t = ts[0] if len(ts) == 1 else None
    if isinstance(t, Term) and t.period == 1 and t.entries[0] is not None:
        return t.entries[0], t.shift
    return None


def misalignment(supports: tuple[Support, ...], ax: int, n: int) -> tuple[Fraction, Fraction]:
    """The smallest and the largest difference, over the units 0 … n − 1, between the centres of merged
    operands at one unit ((0, 0) when aligned everywhere).

    Centres per axis over each operand's parts; within a phase class every centre is linear in the cycle,
    so the spread (max − min of lines) is convex: largest at an end, smallest at an end or a crossing, which
    is checked on every unit of the class where the map is small and at its ends otherwise. Remembered per
    operands where that does not depend on the map's size (:func:`_unsized`), else per operands and size."""
    known = _unsized(supports, ax) if n >= 1 else None
    return known if known is not None else _sized(supports, ax, n)


@lru_cache(maxsize=MEMO)
def _unsized(supports: tuple[Support, ...], ax: int) -> tuple[Fraction, Fraction] | None:
    """:func:`misalignment` over a map of any size (n >= 1) where operands are outer bounds (none to tell) or
    each one window moved by one stride (every unit's centres differ as unit 0's do); else None."""
    terms = [[p[ax] for p in s] for s in supports]
    if any(isinstance(t, Bound) for ts in terms for t in ts):
        return Fraction(0), Fraction(0)  # outer bounds: no centre to compare
    plain = [e for e in (_lone(ts) for ts in terms) if e is not None]
    if len(plain) != len(terms) or len({shift for _, shift in plain}) != 1:
        return None
    centres = [e.centre for e, _ in plain]
    spread = max(centres) - min(centres) if len(centres) > 1 else Fraction(0)
    return (spread, spread) if spread else (Fraction(0), Fraction(0))


@lru_cache(maxsize=MEMO)
def _sized(supports: tuple[Support, ...], ax: int, n: int) -> tuple[Fraction, Fraction]:
    """:func:`misalignment`, unit by unit of the phase classes."""
    terms = [[p[ax] for p in s] for s in supports]
    if any(isinstance(t, Bound) for ts in terms for t in ts):
        return Fraction(0), Fraction(0)  # outer bounds: no centre to compare
    period = lcm(*(t.period for ts in terms for t in ts))
    worst, best = Fraction(0), None
    for u in range(min(n, period)):
        cycles = (n - 1 - u) // period
        for q in (range(cycles + 1) if cycles <= 8 else (0, cycles)):
            centres = []
            for ts in terms:
                e: Slot = None
                for t in ts:
                    e = join(e, t.at(u + q * period))
                if e is not None:
                    centres.append(e.centre)
            if len(centres) > 1:
                spread = max(centres) - min(centres)
                worst = max(worst, spread)
                best = spread if best is None else min(best, spread)
    return best or Fraction(0), worst
