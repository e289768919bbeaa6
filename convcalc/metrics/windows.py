"""Exact per-unit windows on one axis: periodic maps from units to input windows, composed layer by layer.

A :class:`Term` holds, for the units of one map on one axis, the window [lo, hi] of input pixels each unit
depends on and its linear measure (mass, moment: the probe's gradient mass and first moment, so that the
unit's centre is moment/mass): unit u = q·period + φ has ``entries[φ]`` shifted by q·shift (``None``: the
unit reads no input pixel). Composing a term with a layer's :class:`~convcalc.kinds.reads.Reads` is exact:
min and max of the windows read, weighted sums of the measures. The period of the result is
period_reads · period_in / gcd(shift_reads, period_in), reduced to the smallest that repeats; the cost of
a layer is O(period × min(taps, period_in)) (O(1) for a map of one phase: plain convolution stacks).

Windows are on unbounded coordinates (no border clips them). ``Measure``s are exact ``Fraction``s.
"""

from __future__ import annotations

from fractions import Fraction
from math import gcd
from typing import NamedTuple

from convcalc.kinds.reads import MAX_PERIOD, Reads, Spread, spread_of


class Entry(NamedTuple):
    """The window [lo, hi] of one unit and its measure (mass > 0; centre = moment / mass)."""

    lo: int
    hi: int
    mass: Fraction | int
    moment: Fraction | int

    def shifted(self, by: int) -> Entry:
        return Entry(self.lo + by, self.hi + by, self.mass, self.moment + by * self.mass) if by else self

    def scaled(self, w: Weight) -> Entry:
        return self if w == 1 else Entry(self.lo, self.hi, self.mass * w, self.moment * w)

    @property
    def centre(self) -> Fraction:
        return Fraction(self.moment) / self.mass


Slot = Entry | None
PIXEL = Entry(0, 0, 1, 0)
#: the weight of a term in a union (of its measures; an int 1 where the weights are all one)
Weight = Fraction | int


def join(a: Slot, b: Slot) -> Slot:
    """Union of two windows, sum of their measures."""
    if a is None:
        return b
    if b is None:
        return a
    return Entry(min(a.lo, b.lo), max(a.hi, b.hi), a.mass + b.mass, a.moment + b.moment)


class Term(NamedTuple):
    """The windows of every unit of a map on one axis: unit q·period + φ has entries[φ] shifted by q·shift."""

    period: int
    shift: int
    entries: tuple[Slot, ...]

    @property
    def jump(self) -> Fraction:
        """The effective stride: input pixels per output unit."""
        return Fraction(self.shift, self.period)

    def at(self, u: int) -> Slot:
        q, phi = divmod(u, self.period)
        e = self.entries[phi]
        return None if e is None else e.shifted(q * self.shift)

    def expanded(self, period: int) -> tuple[Slot, ...]:
        """The entries over ``period`` units (a multiple of the term's period)."""
        if period == self.period:
            return self.entries
        return tuple(self.at(u) for u in range(period))

    def empties(self) -> tuple[int, tuple[bool, ...]] | None:
        """The pattern of units that read nothing, in its smallest period (None: every unit reads)."""
        mask = tuple(e is None for e in self.entries)
        if not any(mask):
            return None
        for p in divisors(self.period):
            if all(mask[i] == mask[i % p] for i in range(self.period)):
                return p, mask[:p]
        raise AssertionError("unreachable: the period itself repeats")


INPUT = Term(1, 1, (PIXEL,))


class Bound(NamedTuple):
    """An outer bound where the windows repeat only after more than MAX_PERIOD units: unit u's window lies in
    [⌈lo + u·jump⌉, ⌊hi + u·jump⌋], its centre about centre + u·jump."""

    jump: Fraction
    lo: Fraction
    hi: Fraction
    centre: Fraction

    @property
    def period(self) -> int:
        return 1

    @property
    def shift(self) -> Fraction:
        return self.jump

    def at(self, u: int) -> Entry:
        lo, hi = self.lo + u * self.jump, self.hi + u * self.jump
        c = self.centre + u * self.jump
        return Entry(-(-lo.numerator // lo.denominator), hi.numerator // hi.denominator, Fraction(1), c)

    def empties(self) -> None:
        return None


AnyTerm = Term | Bound


def bound_of(t: AnyTerm) -> Bound:
    """A term as an outer bound."""
    if isinstance(t, Bound):
        return t
    j = t.jump
    es = [(phi, e) for phi, e in enumerate(t.entries) if e is not None]
    if not es:
        return Bound(j, Fraction(0), Fraction(-1), Fraction(0))
    return Bound(j, min(e.lo - phi * j for phi, e in es), max(e.hi - phi * j for phi, e in es),
                 es[0][1].centre - es[0][0] * j)


def compose_bound(t: AnyTerm, reads: Reads | Spread) -> Bound:
    """Unit u reads within [u·J + f0, u·J + f1], each read's window within [lo + v·J', hi + v·J']."""
    b = bound_of(t)
    r = reads if isinstance(reads, Spread) else spread_of(reads)
    return Bound(b.jump * r.jump, b.lo + r.lo * b.jump, b.hi + r.hi * b.jump, b.centre + (r.lo + r.hi) / 2 * b.jump)


def divisors(n: int) -> list[int]:
    """The divisors of n, ascending."""
    small = [d for d in range(1, int(n ** 0.5) + 1) if n % d == 0]
    return small + [n // d for d in reversed(small) if d * d != n]


def reduced(period: int, shift: int, entries: tuple[Slot, ...]) -> Term:
    """The term with the smallest period that repeats the same windows."""
    if period > 1:
        for p in divisors(period)[:-1]:
            if (shift * p) % period:
                continue
            by = shift * p // period
            if all(same_slot(entries[i + p], entries[i], by) for i in range(period - p)):
                return Term(p, by, entries[:p])
    return Term(period, shift, entries)


def same_slot(a: Slot, b: Slot, by: int) -> bool:
    """Whether window a is window b moved by ``by`` units (both reading nothing counts as the same)."""
    if a is None or b is None:
        return a is b
    return a == b.shifted(by)


def _run_sum(t: Term, v0: int, step: int, count: int) -> Slot:
    """Union and summed measure of the units v0 + k·step, k < count, of term t."""
    b = t.period
    cycle = b // gcd(b, step)  # units of the run after which the phase repeats
    if count <= 2 * cycle:
        acc: Slot = None
        for k in range(count):
            acc = join(acc, t.at(v0 + k * step))
        return acc
    delta = t.shift * (cycle * step) // b  # the shift between one cycle and the next
    acc = None
    for r in range(cycle):
        e = t.at(v0 + r * step)
        if e is None:
            continue
        m = (count - r + cycle - 1) // cycle
        acc = join(acc, Entry(e.lo, e.hi + (m - 1) * delta, e.mass * m,
                              e.moment * m + delta * e.mass * (m * (m - 1) // 2)))
    return acc


def _compose_one(t: Term, reads: Reads) -> Term:
    """One phase read by one run of n taps of weight w (a plain sliding window), in closed form: unit 0 reads
    units first + k·step of windows e + (first + k·step)·a, so lo, hi at the ends; mass n·w·m, moment
    w·(n·M + m·a·(n·first + step·n(n − 1)/2))."""
    e = t.entries[0]
    assert e is not None
    run = reads.phases[0][0]
    a, n = t.shift, run.n
    lo, hi = e.lo + run.first * a, e.hi + (run.first + (n - 1) * run.step) * a
    taps = n * run.first + run.step * (n * (n - 1) // 2)
    if run.weight * n == 1:
        mass = e.mass
        moment = e.moment + (e.mass * a * taps) * run.weight
    else:
        mass = e.mass * n * run.weight
        moment = (e.moment * n + e.mass * a * taps) * run.weight
    return Term(1, a * reads.shift, (Entry(lo, hi, _int(mass), _int(moment)),))


def _int(v: Fraction | int) -> Fraction | int:
    """An int where the value is one (keeps plain stacks in integer arithmetic)."""
    return v.numerator if isinstance(v, Fraction) and v.denominator == 1 else v


def compose(t: AnyTerm, reads: Reads | Spread) -> AnyTerm:
    """The windows of a layer's output units, given the windows ``t`` of its input units on one axis (an outer
    :class:`Bound` where the result would repeat only after more than MAX_PERIOD units)."""
    if isinstance(t, Bound) or isinstance(reads, Spread):
        return compose_bound(t, reads)
    if t.period == 1 and reads.period == 1 and len(reads.phases[0]) == 1 and t.entries[0] is not None:
        return _compose_one(t, reads)
    g = gcd(reads.shift, t.period)
    period = reads.period * (t.period // g)
    if period > MAX_PERIOD:
        return compose_bound(t, reads)
    shift = t.shift * (reads.shift // g)
    entries: list[Slot] = []
    # phases that read the same units (every unit of a global attention, a window's units) share one sum
    sums: dict[tuple[int, int, int], Slot] = {}
    for psi in range(period):
        q, phi = divmod(psi, reads.period)
        base = q * reads.shift
        acc: Slot = None
        for run in reads.phases[phi]:
            key = (base + run.first, run.step, run.n)
            if key not in sums:
                sums[key] = _run_sum(t, *key)
            s = sums[key]
            if s is not None:
                acc = join(acc, s.scaled(run.weight))
        entries.append(acc)
    return reduced(period, shift, tuple(entries))


def union(terms: list[tuple[AnyTerm, Weight]]) -> AnyTerm:
    """The union of terms with one jump (each measure scaled by its weight)."""
    if len(terms) == 1 and terms[0][1] == 1:
        return terms[0][0]
    period = 1
    for t, _ in terms:
        period = period * t.period // gcd(period, t.period)
    if period > MAX_PERIOD or any(isinstance(t, Bound) for t, _ in terms):
        bs = [bound_of(t) for t, _ in terms]
        return Bound(bs[0].jump, min(b.lo for b in bs), max(b.hi for b in bs), bs[0].centre)
    jump = terms[0][0].jump
    assert all(t.jump == jump for t, _ in terms), "union of terms of different jumps"
    out: list[Slot] = [None] * period
    for t, w in terms:
        assert isinstance(t, Term)
        for i, e in enumerate(t.expanded(period)):
            if e is not None:
                out[i] = join(out[i], e.scaled(w))
    return reduced(period, int(jump * period), tuple(out))
