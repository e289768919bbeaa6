"""The footprint of a unit as a picture (``rf --map LAYER --plot``): a heatmap of the paths from each input pixel,
holes in white, axes in input pixels, with the effective receptive field (ERF50, ERF95) outlined."""

from __future__ import annotations

from fractions import Fraction

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from convcalc.metrics.footprint import AxisFootprint, Footprint
from convcalc.outputs.plot_base import BLUE, ORANGE, PLAIN, RED, SMALL, new_figure

#: Counts below this are kept exact in the picture's data (int64); larger maps are drawn as shares of the largest.
EXACT_BELOW = 2**62
_ERF = ((Fraction(1, 2), "ERF50", ORANGE), (Fraction(95, 100), "ERF95", RED))


def _summary(fp: Footprint) -> str:
    h, w = fp.axes
    holes = sum(1 for row in fp.map for c in row if c == 0) if fp.map is not None else None
    e50, e95 = fp.erf(Fraction(1, 2)), fp.erf(Fraction(95, 100))
    return (f"RF {len(h.counts)}×{len(w.counts)} from ({h.start}, {w.start})"
            + (f"; {holes:,} holes" if holes is not None else f"; holes per axis h {h.holes}, w {w.holes}")
            + f"; ERF50 {e50[0]}×{e50[1]}, ERF95 {e95[0]}×{e95[1]}")


def _erf_start(a: AxisFootprint, size: int) -> int:
    """First pixel of the centred window of ``size`` (as :meth:`AxisFootprint.erf` centres it)."""
    return a.start + (len(a.counts) - size) // 2


def footprint_figure(model: str, fp: Footprint, input_hw: tuple[int, int] | None = None) -> Figure:
    """The paths from each input pixel to the centre unit of ``fp.layer``: a heatmap (white: a hole, no path) in
    input pixels with a colour bar, ERF50 and ERF95 outlined, and the input's edge where ``input_hw`` is given;
    where the 2-D map is too large to compute, the per-axis counts instead."""
    h, w = fp.axes
    what = f"'{fp.block}' → '{fp.layer}'" if fp.block else f"'{fp.layer}'"
    title = f"{model}: footprint of the centre unit ({fp.unit[0]}, {fp.unit[1]}) of {what}"
    if fp.map is None or not h.counts:
        return _profiles(title, fp)
    fig = new_figure(7.5, 7)
    ax = fig.subplots()
    fig.suptitle(title, fontsize=10, **PLAIN)
    ax.set_title(_summary(fp), fontsize=SMALL)
    top = max(max(row) for row in fp.map)
    if top < EXACT_BELOW:
        data = np.array(fp.map, dtype=np.int64)
        label = "paths from the input pixel"
    else:
        data = np.array([[c / top for c in row] for row in fp.map], dtype=np.float64)
        label, top = "paths, share of the largest count", 1
    cmap = matplotlib.colormaps["viridis"].with_extremes(under="white")
    extent = (w.start - 0.5, w.start + len(w.counts) - 0.5, h.start + len(h.counts) - 0.5, h.start - 0.5)
    image = ax.imshow(data, cmap=cmap, vmin=min(0.5, top / 2) if top else 0.5, vmax=max(top, 1),
                      interpolation="nearest", origin="upper", extent=extent)
    fig.colorbar(image, ax=ax, label=label + " (white: none, a hole)", extend="min", shrink=0.85)
    for share, name, colour in _ERF:
        eh, ew = fp.erf(share)
        ax.add_patch(Rectangle((_erf_start(w, ew) - 0.5, _erf_start(h, eh) - 0.5), ew, eh, fill=False,
                               edgecolor=colour, linewidth=1.6, linestyle="--", label=f"{name} {eh}×{ew}"))
    if input_hw is not None:
        ax.add_patch(Rectangle((-0.5, -0.5), input_hw[1], input_hw[0], fill=False, edgecolor="black",
                               linewidth=1.2, linestyle=":", label=f"input edge ({input_hw[0]}×{input_hw[1]})"))
    ax.set_xlim(extent[0], extent[1])
    ax.set_ylim(extent[2], extent[3])
    ax.set_xlabel("input column (px)")
    ax.set_ylabel("input row (px)")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.09), ncol=3, fontsize=SMALL, frameon=False)
    if fp.data_dependent:
        ax.text(0.01, 0.99, "deformable convolution upstream: nominal", transform=ax.transAxes, va="top",
                fontsize=SMALL, color="white")
    return fig


def _profiles(title: str, fp: Footprint) -> Figure:
    """The per-axis path counts (as shares of the largest: the counts can exceed any float's range)."""
    fig = new_figure(10, 6)
    axes = fig.subplots(2, 1)
    fig.suptitle(title + "\n(the 2-D map is too large to compute: the paths per row and per column)", fontsize=10,
                 **PLAIN)
    for ax, a, what, colour in ((axes[0], fp.axes[0], "row", BLUE), (axes[1], fp.axes[1], "column", ORANGE)):
        _profile(ax, a, what, colour, fp)
    axes[0].set_title(_summary(fp), fontsize=SMALL)
    return fig


def _profile(ax: Axes, a: AxisFootprint, what: str, colour: str, fp: Footprint) -> None:
    top = max(a.counts, default=0)
    xs = [a.start + i for i in range(len(a.counts))]
    ax.fill_between(xs, [c / top if top else 0.0 for c in a.counts], step="mid", color=colour, alpha=0.8,
                    linewidth=0)
    axis = 0 if what == "row" else 1
    for share, name, c in _ERF:
        size = fp.erf(share)[axis]
        lo = _erf_start(a, size)
        ax.axvspan(lo - 0.5, lo + size - 0.5, fill=False, edgecolor=c, linestyle="--", linewidth=1.3,
                   label=f"{name} {size}")
    ax.set_xlim(a.start - 0.5, a.start + len(a.counts) - 0.5)
    ax.set_ylim(0, 1.05)
    ax.set_xlabel(f"input {what} (px)")
    ax.set_ylabel("paths (share of the largest)")
    ax.legend(loc="upper right", fontsize=SMALL)
