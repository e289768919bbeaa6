"""Pictures of one model along its layers: costs (``show --plot``) and receptive field (``rf --plot``).

The layer axis is the index of the layer in ``show``'s table (0: the first layer); the top-level blocks are
shaded spans with their names (:func:`~convcalc.outputs.plot_base.stages`), and names are written only where
they fit (:func:`~convcalc.outputs.plot_base.declutter`), so a 700-layer DenseNet reads as well as a ResNet-18.
"""

from __future__ import annotations

from collections.abc import Sequence

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.ticker import FixedLocator, FuncFormatter, MaxNLocator, NullFormatter

from convcalc.metrics.analysis import Report, counted
from convcalc.outputs.fit import shorten
from convcalc.outputs.plot_base import (
    BLUE,
    GREEN,
    GREY,
    LABEL,
    ORANGE,
    PLAIN,
    SMALL,
    axis_label,
    declutter,
    new_figure,
    stage_label,
    stages,
    unit,
)
from convcalc.units import human

#: Up to this many layers, the layer axis names every layer; beyond, it shows indices.
NAMED_LAYERS = 40
#: How many of the largest layers are labelled in each panel (fewer where the labels would overlap).
LARGEST = 5


def _shape(s: tuple[int, int, int]) -> str:
    return f"{s[0]}×{s[1]}×{s[2]}"


def _layer_axis(ax: Axes, names: Sequence[str], top: bool) -> None:
    """The layer axis of a panel: indices (or, for a few layers, the names on the bottom panel), on top or below."""
    n = len(names)
    ax.set_xlim(-0.5, n - 0.5)
    if top:
        ax.xaxis.tick_top()
        ax.xaxis.set_label_position("top")
    if n <= NAMED_LAYERS and not top:
        ax.xaxis.set_major_locator(FixedLocator(list(range(n))))
        ax.set_xticklabels([shorten(s, 24) for s in names], rotation=90, fontsize=6.5, **PLAIN)
        ax.set_xlabel("layer")
    else:
        ax.xaxis.set_major_locator(MaxNLocator(nbins=12, integer=True))
        ax.set_xlabel("layer (index in show's table, from 0)")


def _mark_stages(fig: Figure, axes: Sequence[Axes], names: Sequence[str]) -> list[Text]:
    """Shade the blocks on every panel, name them at the top of the first; the names (to declutter)."""
    labels: list[Text] = []
    marked = stages(names)
    for k, (name, first, last) in enumerate(marked):
        for ax in axes:
            ax.axvspan(first - 0.5, last + 0.5, facecolor="#000000", alpha=0.05 if k % 2 else 0.11, linewidth=0,
                       zorder=0)
        text = shorten(stage_label(name, [m[0] for m in marked]), 20)
        labels.append(axes[0].text((first + last) / 2, 0.97, text, transform=axes[0].get_xaxis_transform(),
                                   ha="center", va="top", fontsize=SMALL, color="#333333", **LABEL))
    return labels


def _fitting(fig: Figure, labels: Sequence[Text], spans: Sequence[tuple[float, float]], ax: Axes) -> None:
    """Hide the names wider than their block (drawn first, to measure)."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    for t, (a, b) in zip(labels, spans, strict=True):
        x0 = ax.transData.transform((a, 0))[0]
        x1 = ax.transData.transform((b, 0))[0]
        if t.get_window_extent(renderer).width > abs(x1 - x0) - 2:
            t.set_visible(False)


def _stage_spans(names: Sequence[str]) -> list[tuple[float, float]]:
    return [(first - 0.5, last + 0.5) for _, first, last in stages(names)]


def _largest(ax: Axes, names: Sequence[str], values: Sequence[int], scale: float) -> list[Text]:
    """Label the largest bars with their layer's name and value, largest first."""
    n = len(values)
    order = sorted((i for i in range(n) if values[i] > 0), key=lambda i: (-values[i], i))[:LARGEST]
    out: list[Text] = []
    for i in order:
        ha = "left" if i < n / 5 else "right" if i > 4 * n / 5 else "center"
        out.append(ax.annotate(f"{shorten(names[i], 28)}: {human(values[i])}", (i, values[i] / scale),
                               xytext=(0, 3), textcoords="offset points", ha=ha, va="bottom", fontsize=SMALL,
                               bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.85},
                               **LABEL))
    return out


def layers_figure(report: Report) -> Figure:
    """MACs and params per layer as bars, in two panels along the layers; the blocks shaded and named, the
    largest layers labelled. Training-only layers count their params, not their work, as in the totals."""
    names = [row.name for row in report.layers]
    costs = [counted(row)[0] for row in report.layers]
    fig = new_figure(12, 6.5)
    top, bottom = fig.subplots(2, 1)
    n = len(names)
    fig.suptitle(f"{report.name}: MACs and params per layer ({n} layers, input {_shape(report.input_shape)}, "
                 f"batch {report.batch}; total {human(report.macs)} MACs, {human(report.params)} params)",
                 fontsize=10, **PLAIN)
    optional: list[Text] = []
    for ax, values, what, colour in ((top, [c.macs for c in costs], "MACs", BLUE),
                                     (bottom, [c.params for c in costs], "params", ORANGE)):
        largest = max(values, default=0)
        scale, name = unit(largest)
        ax.bar(range(n), [v / scale for v in values], width=0.8 if n <= 100 else 1.0, color=colour, linewidth=0,
               zorder=2)
        ax.set_ylim(0, largest / scale * 1.4 if largest else 1)
        ax.set_ylabel(axis_label(what, name))
        ax.yaxis.set_major_locator(MaxNLocator(nbins=5))
        ax.grid(axis="y", alpha=0.3, zorder=1)
        _layer_axis(ax, names, ax is top)
        optional += _largest(ax, names, values, scale)
    stage_labels = _mark_stages(fig, (top, bottom), names)
    _fitting(fig, stage_labels, _stage_spans(names), top)
    top.set_title(("shaded: the blocks; " if stage_labels else "") + "labelled: the largest layers", fontsize=SMALL,
                  loc="left")
    declutter(fig, optional + stage_labels)
    return fig


def _log_axis(ax: Axes, base: int, values: Sequence[float]) -> None:
    """A log scale where the values span a factor of 16 or more (else linear, from 0)."""
    seen = [v for v in values if v > 0]
    if not seen or max(seen) < 16 * min(seen):
        ax.set_ylim(0, max(seen, default=1) * 1.15)
        ax.yaxis.set_major_locator(MaxNLocator(nbins=6, integer=base == 10))
        return
    ax.set_yscale("log", base=base)
    ax.set_ylim(min(seen) / 1.3, max(seen) * 1.6)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())


def _positive(values: Sequence[float]) -> list[float]:
    return [v if v > 0 else float("nan") for v in values]


def rf_figure(report: Report) -> Figure:
    """Receptive field (the largest unit window, and the smallest where they differ) and effective stride per
    axis along the layers, on log scales; the input's size and the outputs marked."""
    rows = report.layers
    names = [row.name for row in rows]
    n = len(rows)
    x = list(range(n))
    fig = new_figure(12, 6.5)
    top, bottom = fig.subplots(2, 1)
    fig.suptitle(f"{report.name}: receptive field and effective stride per layer ({n} layers, input "
                 f"{_shape(report.input_shape)})", fontsize=10, **PLAIN)
    optional: list[Text] = []
    for ax, big, small, what in ((top, [r.rf.size for r in rows], [r.rf.smallest for r in rows], "RF"),
                                 (bottom, [r.rf.stride for r in rows], None, "stride")):
        same = all(v[0] == v[1] for v in big) and (small is None or all(v[0] == v[1] for v in small))
        for axis, colour, style in ((0, BLUE, "-"), (1, ORANGE, "--")):
            if same and axis == 1:
                break
            label = f"{what} h = w" if same else f"{what} {'hw'[axis]}"
            ax.plot(x, _positive([float(v[axis]) for v in big]), color=colour, linestyle=style, linewidth=1.4,
                    label=label + (" (largest unit window)" if small is not None else ""), zorder=3)
            if small is not None and any(s[axis] != b[axis] for s, b in zip(small, big, strict=True)):
                ax.fill_between(x, _positive([float(v[axis]) for v in small]),
                                _positive([float(v[axis]) for v in big]), color=colour, alpha=0.18, linewidth=0,
                                label=f"{'hw'[axis]}: smallest to largest unit window", zorder=2)
        _log_axis(ax, 10 if small is not None else 2, [float(v[a]) for v in big for a in (0, 1)]
                  + ([float(s) for s in report.input_shape[1:]] if small is not None else []))
        ax.grid(axis="y", alpha=0.3, which="major", zorder=1)
        _layer_axis(ax, names, ax is top)
    top.set_ylabel("receptive field (input px)")
    bottom.set_ylabel("effective stride (input px)")
    _, h, w = report.input_shape
    for size, side in sorted({(h, "h"), (w, "w")}):
        top.axhline(size, color=GREY, linestyle=":", linewidth=1, zorder=2)
        label = "input" if h == w else f"input {side}"
        optional.append(top.annotate(f"{label} {size}", (1, size), xycoords=("axes fraction", "data"), xytext=(-3, 2),
                                     textcoords="offset points", fontsize=SMALL, color="#555555", ha="right",
                                     va="bottom", **LABEL))
    at = {name: i for i, name in enumerate(names)}
    for o in report.outputs:
        i = at.get(o.name)
        if i is None:
            continue
        for ax in (top, bottom):
            ax.axvline(i, color=GREEN, linestyle=":", linewidth=1.3, zorder=2)
        optional.append(top.annotate(f"output {shorten(o.name, 24)}", (i, 0.03), xycoords=("data", "axes fraction"),
                                     xytext=(-3, 0), textcoords="offset points", rotation=90, ha="right",
                                     va="bottom", fontsize=SMALL, color="#1a6e1a", **LABEL))
    for ax in (top, bottom):
        ax.legend(loc="upper left", fontsize=SMALL, framealpha=0.9)
    stage_labels = _mark_stages(fig, (top, bottom), names)
    _fitting(fig, stage_labels, _stage_spans(names), top)
    top.set_title(("shaded: the blocks; " if stage_labels else "") + "dotted green: outputs", fontsize=SMALL,
                  loc="left")
    declutter(fig, optional + stage_labels)
    return fig
