"""The Pareto front of a sweep (``--pareto params,macs``): the rows no other row beats on every metric named.
Pure, typed, exact.

Costs (``params``, ``macs``, ``flops``, ``activations``, ``peak_memory``) are better smaller; ``rf`` (the
receptive field, per axis h and w) is better larger. A row is dominated when another is at least as good on
every metric and axis named and better on one; rows that could not be analysed are not on the front. Rows
that tie on every metric all stay.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

from convcalc.sweep.run import SweepRow

Num = int | Fraction

#: The metrics a front can be taken on, and whether larger is better.
PARETO_METRICS: dict[str, bool] = {
    "params": False, "macs": False, "flops": False, "activations": False, "peak_memory": False, "rf": True,
}


def parse_metrics(text: str) -> list[str]:
    """``params,macs`` as a list; :class:`ValueError` naming the metrics that can be used."""
    names = [s.strip() for s in text.split(",") if s.strip()]
    bad = [n for n in names if n not in PARETO_METRICS]
    if not names or bad:
        found = ", ".join(bad) if bad else repr(text)
        raise ValueError(f"expected metrics from {', '.join(PARETO_METRICS)} (e.g. params,macs), found {found}")
    return list(dict.fromkeys(names))


def _key(row: SweepRow, metrics: Sequence[str]) -> tuple[Num, ...]:
    """The row's metrics as numbers where smaller is better."""
    out: list[Num] = []
    for m in metrics:
        if m == "rf":
            assert row.rf is not None
            out += [-row.rf[0], -row.rf[1]]
        else:
            v = getattr(row, m)
            assert v is not None
            out.append(v)
    return tuple(out)


def pareto_front(rows: Sequence[SweepRow], metrics: Sequence[str]) -> list[SweepRow]:
    """The rows on the Pareto front of ``metrics``, in their order."""
    good = [(r, _key(r, metrics)) for r in rows if r.ok]
    order = sorted(range(len(good)), key=lambda i: good[i][1])
    front: list[int] = []
    for i in order:  # in lexicographic order: a dominating row always comes before the rows it dominates
        k = good[i][1]
        if not any(_dominates(good[j][1], k) for j in front):
            front.append(i)
    keep = set(front)
    return [r for i, (r, _) in enumerate(good) if i in keep]


def _dominates(a: tuple[Num, ...], b: tuple[Num, ...]) -> bool:
    return a != b and all(x <= y for x, y in zip(a, b, strict=True))
