"""The centre unit of a map: its exact window, how much of it lies inside the input, and (on request) its
effective receptive field. What ``rf`` reports for each output, and the note of a receptive field larger
than the input.

The centre unit of an h × w map is ((h − 1) // 2, (w − 1) // 2), as in ``rf --map``
(:func:`convcalc.metrics.footprint.footprint`); its window is exact, on unbounded coordinates (first and last
input pixel per axis; pixels outside 0 … H − 1 are padding).
"""

from __future__ import annotations

from fractions import Fraction
from typing import NamedTuple

from convcalc.graph import Graph, Node
from convcalc.kinds.core import Shape
from convcalc.metrics.channels import support
from convcalc.metrics.support import unit

Window = tuple[int, int]


class CentreUnit(NamedTuple):
    """The centre unit of a map: ``position`` (h, w); ``window`` per axis (first, last input pixel; None: it reads
    no input pixel); ``inside``: pixels of the window inside the input, per axis; ``erf50``, ``erf95``: the
    smallest centred windows holding 50% and 95% of its paths with uniform weights (None: not computed)."""

    position: tuple[int, int] = (0, 0)
    window: tuple[Window, Window] | None = None
    inside: tuple[int, int] = (0, 0)
    erf50: tuple[int, int] | None = None
    erf95: tuple[int, int] | None = None

    @property
    def size(self) -> tuple[int, int]:
        """The window's size per axis (what :attr:`inside` is a share of; 0 when it reads nothing)."""
        if self.window is None:
            return 0, 0
        return self.window[0][1] - self.window[0][0] + 1, self.window[1][1] - self.window[1][0] + 1

    def share(self, ax: int) -> Fraction | None:
        """The share of the window inside the input on axis ``ax`` (0: h, 1: w), exactly; None without a window."""
        n = self.size[ax]
        return Fraction(self.inside[ax], n) if n else None


NO_UNIT = CentreUnit()


def _overlap(w: Window, n: int) -> int:
    """Pixels of the window [lo, hi] inside 0 … n − 1."""
    return max(0, min(w[1], n - 1) - max(w[0], 0) + 1)


def centre_unit(g: Graph, node: Node, erf: bool = False) -> CentreUnit:
    """The centre unit of a node's map (its local field: global side paths left out, as the receptive field);
    ``erf``: with its effective receptive field (path counts over the graph: one footprint)."""
    s = node.shape
    u = ((s.h - 1) // 2, (s.w - 1) // 2)
    found = unit(support(node.windows), *u)
    if found is None:
        return CentreUnit(u)
    window = ((found[0].lo, found[0].hi), (found[1].lo, found[1].hi))
    inside = (_overlap(window[0], g.input.h), _overlap(window[1], g.input.w))
    if not erf:
        return CentreUnit(u, window, inside)
    from convcalc.metrics.footprint import footprint

    fp = footprint(g, node.name)
    return CentreUnit(u, window, inside, fp.erf(Fraction(1, 2)), fp.erf(Fraction(95, 100)))


def beyond_input(name: str, rf: tuple[int | Fraction, int | Fraction], c: CentreUnit, input_shape: Shape) -> str:
    """The note of a map whose receptive field (largest unit window) is larger than the input on some axis
    (else ""): the share of its centre unit's window inside the input, per axis, exactly and in percent."""
    ins = (input_shape.h, input_shape.w)
    if not any(rf[ax] > ins[ax] for ax in (0, 1)):
        return ""
    shares = []
    for ax, what in ((0, "rows"), (1, "columns")):
        p = c.share(ax)
        shares.append(f"no {what}" if p is None else f"{c.inside[ax]}/{c.size[ax]} {what} ({float(100 * p):.1f}%)")
    return (f"{name}: the receptive field {rf[0]}×{rf[1]} is larger than the input {ins[0]}×{ins[1]}; the window "
            f"of the centre unit ({c.position[0]}, {c.position[1]}) has {shares[0]} and {shares[1]} inside the input")
