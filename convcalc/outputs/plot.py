"""Pictures of reports, footprints and sweeps, with matplotlib (the optional extra ``convcalc[plot]``).

Every function returns a :class:`matplotlib.figure.Figure` drawn on the Agg canvas (pyplot and its global state are
never used); :func:`save` writes it as PNG or SVG by the file's suffix, :func:`svg_text` gives the SVG element to
inline in a page. Text is drawn as paths (an SVG needs no font) and SVG ids are salted, so a figure saves to the
same bytes every time. Importing this module without matplotlib raises ImportError
(:func:`convcalc.outputs.plot_check.have_matplotlib` asks first); nothing else in convcalc imports it.

- :func:`layers_figure` (``show --plot``): MACs and params per layer, blocks shaded, the largest layers labelled;
- :func:`rf_figure` (``rf --plot``): receptive field and effective stride per layer, outputs marked;
- :func:`footprint_figure` (``rf --map LAYER --plot``): the paths from each input pixel to a unit, ERF outlined;
- :func:`sweep_figure` (``sweep --plot``): each metric against the swept quantity, budgets as dashed lines.
"""

from __future__ import annotations

from convcalc.outputs.plot_base import declutter, new_figure, save, svg_text, visible_texts
from convcalc.outputs.plot_footprint import footprint_figure
from convcalc.outputs.plot_layers import layers_figure, rf_figure
from convcalc.outputs.plot_sweep import sweep_figure

__all__ = ["declutter", "footprint_figure", "layers_figure", "new_figure", "rf_figure", "save", "svg_text",
           "sweep_figure", "visible_texts"]
