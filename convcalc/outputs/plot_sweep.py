"""A sweep as a picture (``sweep --plot``): each metric in its own panel against the first swept quantity, one line
per value of the other swept quantities (and per model), each budget's limit a dashed line."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.text import Text

from convcalc.outputs.plot_base import LABEL, PLAIN, RED, SMALL, axis_label, declutter, new_figure, unit
from convcalc.units import human, human_bytes

if TYPE_CHECKING:
    from convcalc.sweep.axes import Axis
    from convcalc.sweep.run import SweepRow

#: metric → (its name on an axis, whether it is bytes, the budget key that limits it)
METRICS: dict[str, tuple[str, bool, str]] = {
    "params": ("params", False, "max_params"),
    "macs": ("MACs", False, "max_macs"),
    "flops": ("FLOPs", False, "max_flops"),
    "activations": ("activations (elements)", False, "max_activations"),
    "peak_memory": ("peak memory, fp32 inference", True, "max_peak_memory"),
}
_AXIS_NAMES = {"size": "input size (px)", "batch": "batch"}


def _shown(v: Any) -> str:
    from convcalc.sweep.axes import shown_value

    return shown_value(v)


def _x_values(values: Sequence[Any]) -> tuple[list[float], list[str] | None]:
    """Numbers on the x axis: the values themselves, a square size's side, or positions with tick labels."""
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return [float(v) for v in values], None
    if all(isinstance(v, tuple) and len(v) == 2 and v[0] == v[1] for v in values):
        return [float(v[0]) for v in values], None
    return [float(i) for i in range(len(values))], [_shown(v) for v in values]


def sweep_figure(rows: Sequence[SweepRow], axes: Sequence[Axis | str],
                 metrics: Sequence[str] = tuple(METRICS)) -> Figure:
    """One panel per metric (params, macs, flops, activations, peak_memory) against the first of ``axes`` (the
    swept quantities, as :class:`~convcalc.sweep.axes.Axis` or names), one line per model and value of the
    others; rows that could not be analysed are left out; each budget's limit (``max_params``, ``max_macs``, …:
    the rows' verdicts) is a dashed line on its metric's panel."""
    bad = [m for m in metrics if m not in METRICS]
    if bad or not metrics:
        raise ValueError(f"expected metrics from {', '.join(METRICS)}, found {', '.join(bad) or 'none'}")
    names = [a if isinstance(a, str) else a.name for a in axes]
    if not names:
        raise ValueError("a sweep picture needs at least one swept quantity")
    first, others = names[0], names[1:]
    ok = [r for r in rows if r.ok]
    xs_seen = list(dict.fromkeys(_key(r.config.value(first)) for r in ok))
    values = {_key(r.config.value(first)): r.config.value(first) for r in ok}
    xs, ticks = _x_values([values[k] for k in xs_seen])
    x_of = dict(zip(xs_seen, xs, strict=True))
    several = len({(r.source, r.model) for r in ok}) > 1
    lines: dict[tuple[Any, ...], list[SweepRow]] = {}
    for r in ok:
        lines.setdefault((r.source, r.model, *(_key(r.config.value(a)) for a in others)), []).append(r)
    cols = min(3, len(metrics))
    nrows = -(-len(metrics) // cols)
    fig = new_figure(4.2 * cols + 2.2, 3.4 * nrows + 0.8)
    grid = fig.subplots(nrows, cols, squeeze=False)
    panels = [ax for row in grid for ax in row]
    for extra in panels[len(metrics):]:
        fig.delaxes(extra)
    sources = ", ".join(dict.fromkeys(r.source for r in rows)) or "sweep"
    fig.suptitle(f"sweep of {sources} over {', '.join(names)} ({len(ok)} of {len(rows)} rows analysed)",
                 fontsize=10, **PLAIN)
    optional: list[Text] = []
    handles: list[Any] = []
    labels: list[str] = []
    for ax, metric in zip(panels, metrics, strict=False):
        what, binary, key = METRICS[metric]
        largest = max((abs(getattr(r, metric) or 0) for r in ok), default=0)
        limits = sorted({v.limit for r in ok for v in r.verdicts if v.key == key and v.label == key})
        scale, name = unit(float(max([largest, *limits]) if limits else largest), binary)
        for k, (line, members) in enumerate(lines.items()):
            members = sorted(members, key=lambda r: x_of[_key(r.config.value(first))])
            (h,) = ax.plot([x_of[_key(r.config.value(first))] for r in members],
                           [getattr(r, metric) / scale for r in members], marker="o", markersize=3.5, linewidth=1.4,
                           color=f"C{k % 10}", linestyle=("-", "--", ":", "-.")[k // 10 % 4])
            if metric == metrics[0]:
                handles.append(h)
                labels.append(_label(line, others, several))
        for limit in limits:
            ax.axhline(float(limit) / scale, color=RED, linestyle="--", linewidth=1.2)
            shown = human_bytes(int(limit)) if binary else human(int(limit))
            optional.append(ax.annotate(f"{key} {shown}", (1, float(limit) / scale), xycoords=("axes fraction", "data"),
                                        xytext=(-3, 2), textcoords="offset points", ha="right", va="bottom",
                                        fontsize=SMALL, color=RED, **LABEL))
        ax.set_ylabel(axis_label(what, name))
        ax.set_xlabel(_AXIS_NAMES.get(first, first))
        _ticks(ax, xs, ticks)
        ax.grid(alpha=0.3)
        ax.set_ylim(bottom=0)
    if any(labels):
        _legend(fig, panels[0], handles, labels)
    declutter(fig, optional)
    return fig


def _key(v: Any) -> Any:
    """A value as a dictionary key (lists and mappings from YAML are not hashable)."""
    return v if isinstance(v, (int, float, str, bool, tuple, type(None))) else repr(v)


def _label(line: tuple[Any, ...], others: Sequence[str], several: bool) -> str:
    source, model, *values = line
    parts = ([str(model)] if several else []) + [f"{a}={_shown(v)}" for a, v in zip(others, values, strict=True)]
    return " ".join(parts)


def _ticks(ax: Axes, xs: Sequence[float], labels: Sequence[str] | None) -> None:
    if labels is not None:
        ax.set_xticks(list(xs))
        ax.set_xticklabels(list(labels), rotation=30 if len(labels) > 4 else 0, ha="right" if len(labels) > 4
                           else "center", fontsize=SMALL, **PLAIN)
    elif len(xs) <= 8:
        ax.set_xticks(list(xs))
        ax.set_xticklabels([f"{x:g}" for x in xs], fontsize=SMALL)


def _legend(fig: Figure, first: Axes, handles: Sequence[Any], labels: Sequence[str]) -> None:
    """The lines' legend right of the panels (inside the first panel where matplotlib cannot place it outside)."""
    try:
        legend = fig.legend(handles, labels, loc="outside right upper", fontsize=SMALL)
    except (ValueError, TypeError):  # matplotlib < 3.7
        legend = first.legend(handles, labels, fontsize=SMALL)
    for t in legend.get_texts():
        t.set_parse_math(False)
