"""Supports per channel: a map's channels in runs that share one support (a concat of branches has a run
per branch, so a split takes exactly the windows of its channels).

A :data:`Field` is a tuple of (channels, support) runs in channel order; adjacent equal runs are merged.
:func:`through` applies a layer's :class:`~convcalc.kinds.reads.Channels` rule and per-axis reads.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from fractions import Fraction

from convcalc.kinds.core import Shape
from convcalc.kinds.reads import POINT, Channels, LayerReads, nearest, offset, phase_of, whole
from convcalc.metrics.support import START, Support, apply, merged

Field = tuple[tuple[int, Support], ...]

#: A flatten of more values than this keeps one support for all its channels (each channel is one pixel).
FLAT_LIMIT = 4096


def start(c: int) -> Field:
    """The input: every channel reads its own pixel."""
    return ((c, START),)


def coalesce(runs: Iterable[tuple[int, Support]]) -> Field:
    out: list[tuple[int, Support]] = []
    for n, s in runs:
        if n == 0:
            continue
        if out and (out[-1][1] is s or out[-1][1] == s):
            out[-1] = (out[-1][0] + n, s)
        else:
            out.append((n, s))
    return tuple(out)


def channels(f: Field) -> int:
    return sum(n for n, _ in f)


#: supports of recent fields by the identity of their runs (each entry holds its field, so no id is reused)
_SUPPORTS: dict[tuple[tuple[int, int], ...], tuple[Field, Support]] = {}


def support(f: Field) -> Support:
    """The support of a unit over all the channels of the map (measures averaged over the channels).

    A map of many runs (a dense block's concat) extends the support of its first runs, which the previous
    concat computed: fields are looked up by the identity of their runs, so a dense block costs one merge per
    layer, not one per run."""
    if len(f) == 1:
        return f[0][1]
    key = tuple((n, id(s)) for n, s in f)
    hit = _SUPPORTS.get(key)
    if hit is not None:
        return hit[1]
    c = channels(f)
    head = _SUPPORTS.get(key[:-1])
    if head is not None:
        out = merged(((head[1], Fraction(c - f[-1][0], c)), (f[-1][1], Fraction(f[-1][0], c))))
    else:  # (a shuffled map alternates a few supports: each is merged once)
        counts: dict[int, tuple[int, Support]] = {}
        for n, s in f:
            counts[id(s)] = (counts[id(s)][0] + n if id(s) in counts else n, s)
        out = merged(tuple((s, Fraction(n, c)) for n, s in counts.values()))
    if len(_SUPPORTS) >= 4096:
        _SUPPORTS.clear()
    _SUPPORTS[key] = (f, out)
    return out


def part(f: Field, a: int, b: int) -> list[tuple[int, Support]]:
    """The runs of channels a … b − 1."""
    out, pos = [], 0
    for n, s in f:
        lo, hi = max(a, pos), min(b, pos + n)
        if lo < hi:
            out.append((hi - lo, s))
        pos += n
    return out


def sliced(f: Field, a: int, n: int) -> Field:
    """Channels a … a + n − 1 (a channel split)."""
    return coalesce(part(f, a, a + n))


def _mix(runs: Sequence[tuple[int, Support]], reads: LayerReads) -> Support:
    return apply(support(tuple(runs)), reads)


def coarse(rule: Channels, out: Shape) -> bool:
    """A flatten too large to keep a support per channel (each of its channels reads one pixel)."""
    return rule.how == "flatten" and out.c > FLAT_LIMIT


def through(f: Field, rule: Channels, reads: LayerReads, inp: Shape, out: Shape) -> Field:
    """The field of a layer's output from its input's field (a flatten of more than FLAT_LIMIT values keeps
    one support for all its channels: see :func:`coarse`)."""
    how = rule.how
    if how == "same":
        if reads == (POINT, POINT):
            return f
        if len(f) == 1:  # (one run: nothing to coalesce)
            return ((f[0][0], apply(f[0][1], reads)),) if f[0][0] else ()
        return coalesce((n, apply(s, reads)) for n, s in f)
    if how == "groups":
        if len(f) == 1:
            return ((out.c, apply(f[0][1], reads)),)
        g = rule.groups
        gi, go = inp.c // g, out.c // g
        cache: dict[tuple[tuple[int, Support], ...], Support] = {}
        runs = []
        for j in range(g):
            key = tuple(part(f, j * gi, (j + 1) * gi))
            if key not in cache:
                cache[key] = _mix(key, reads)
            runs.append((go, cache[key]))
        return coalesce(runs)
    if how == "shuffle":
        if len(f) == 1:
            return f
        g, c = rule.groups, inp.c
        per = c // g
        owner = [s for n, s in f for _ in range(n)]
        return coalesce((1, owner[(k % g) * per + k // g]) for k in range(c))
    r = rule.factor
    if how == "pixel_shuffle":
        rr = r * r
        up = (nearest(Fraction(1, r)), nearest(Fraction(1, r)))
        cache2: dict[tuple[tuple[int, Support], ...], Support] = {}
        runs = []
        for c in range(out.c):
            key = tuple(part(f, c * rr, (c + 1) * rr))
            if key not in cache2:
                if len(key) == 1:
                    cache2[key] = apply(key[0][1], up)
                else:
                    owner = [s for n, s in key for _ in range(n)]
                    cache2[key] = merged(tuple((apply(owner[i * r + j], (phase_of(r, i), phase_of(r, j))), Fraction(1))
                                                for i in range(r) for j in range(r)))
            runs.append((1, cache2[key]))
        return coalesce(runs)
    if how == "pixel_unshuffle":
        runs = []
        for n, s in f:
            subs = [(1, apply(s, (offset(r, i), offset(r, j)))) for i in range(r) for j in range(r)]
            runs.extend(subs * n)
        return coalesce(runs)
    assert how == "flatten", how
    if coarse(rule, out):
        return ((out.c, _mix(f, (whole(inp.h), whole(inp.w)))),)
    runs = []
    for n, s in f:
        pixels = [(1, apply(s, (offset(inp.h, y), offset(inp.w, x)))) for y in range(inp.h) for x in range(inp.w)]
        if len(pixels) == 1:  # a map of one pixel: its n channels are one run
            runs.append((n, pixels[0][1]))
        else:
            runs.extend(pixels * n)
    return coalesce(runs)


def spread(f: Field, c: int) -> Field:
    """A map of one channel broadcast over c channels."""
    return ((c, support(f)),)


def zipped(fields: Sequence[Field]) -> list[tuple[int, list[Support]]]:
    """Runs of channels over which every field has one support: (channels, the supports)."""
    cuts: set[int] = set()
    for f in fields:
        pos = 0
        for n, _ in f:
            pos += n
            cuts.add(pos)
    out, prev = [], 0
    for cut in sorted(cuts):
        out.append((cut - prev, [part(f, prev, cut)[0][1] for f in fields]))
        prev = cut
    return out


def joined(fields: Sequence[Field]) -> Field:
    """Channel by channel, the union of fields of equal channels (an add or mul)."""
    if len({id(f) for f in fields}) == 1:
        return fields[0]
    n = fields[0][0][0] if fields[0] else 0
    if all(len(f) == 1 and f[0][0] == n for f in fields):  # (one run each, of n channels: one run of them all)
        return ((n, merged(tuple((f[0][1], 1) for f in fields))),) if n else ()
    return coalesce((n, merged(tuple((s, 1) for s in ss))) for n, ss in zipped(fields))
