"""What every picture shares: a figure on the Agg canvas (never pyplot's global state), saving as PNG or SVG
deterministically, SI and binary units for axes, and labels that never overlap (:func:`declutter`).

Needs matplotlib (the optional extra ``convcalc[plot]``); importing this module without it raises ImportError.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from typing import Any

import matplotlib
from matplotlib.axis import Axis
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.transforms import Bbox

from convcalc.outputs.plot_check import PictureError, picture_format

#: No date or software URL in the files: the same figure gives the same bytes.
_METADATA: dict[str, dict[str, Any]] = {"png": {"Software": None}, "svg": {"Date": None, "Creator": None}}

#: Colours (matplotlib's tab10): bars and first lines, second lines, marks, limits.
BLUE, ORANGE, GREEN, RED, GREY = "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#7f7f7f"
SMALL = 7.5


def new_figure(width: float, height: float) -> Figure:
    """A figure of ``width`` × ``height`` inches at 100 dpi with constrained layout, on its own Agg canvas."""
    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _saving() -> AbstractContextManager[None]:
    """Settings while saving: text drawn as paths (no font needed to view an SVG) and ids that do not change
    between runs."""
    return matplotlib.rc_context({"svg.fonttype": "path", "svg.hashsalt": "convcalc"})


def save(fig: Figure, path: str | os.PathLike[str]) -> None:
    """Write ``fig`` as PNG or SVG, by the suffix of ``path``; :class:`~convcalc.outputs.plot_check.PictureError`
    (a usage error, and a ValueError) for any other suffix or a file that cannot be written."""
    fmt = picture_format(path)
    try:
        with _saving():
            fig.savefig(path, format=fmt, metadata=_METADATA[fmt])
    except OSError as exc:
        raise PictureError(f"cannot write {os.fspath(path)!r}: {exc.strerror or exc}") from None


def svg_text(fig: Figure) -> str:
    """``fig`` as one ``<svg …>`` element (no XML prolog, no DOCTYPE), to inline in a page."""
    buf = io.StringIO()
    with _saving():
        fig.savefig(buf, format="svg", metadata=_METADATA["svg"])
    text = buf.getvalue()
    return text[text.index("<svg"):]


#: Keyword arguments of a Text that shows its text as it is: a ``$`` in a layer name is no mathtext.
PLAIN: dict[str, Any] = {"parse_math": False}
#: ... and of a label :func:`declutter` may hide: the layout does not make room for it.
LABEL: dict[str, Any] = {"parse_math": False, "in_layout": False}


# --- units ------------------------------------------------------------------------------------------------------

_SI = ((10**12, "T"), (10**9, "G"), (10**6, "M"), (10**3, "k"))
_BINARY = ((1024**4, "TiB"), (1024**3, "GiB"), (1024**2, "MiB"), (1024, "KiB"))


def unit(largest: float, binary: bool = False) -> tuple[float, str]:
    """The scale and unit of an axis whose largest value is ``largest``: (1e6, "M"), (1024², "MiB"), (1, "")."""
    for scale, name in _BINARY if binary else _SI:
        if abs(largest) >= scale:
            return float(scale), name
    return 1.0, "B" if binary else ""


def axis_label(what: str, name: str) -> str:
    """``MACs (M)``; without a unit, ``MACs``."""
    return f"{what} ({name})" if name else what


# --- labels that never overlap --------------------------------------------------------------------------------


def _drawn_tick_labels(axis: Axis) -> list[Text]:
    lo, hi = sorted(axis.get_view_interval())
    span = (hi - lo) * 1e-9
    out: list[Text] = []
    for tick in [*axis.get_major_ticks(), *axis.get_minor_ticks()]:
        if lo - span <= tick.get_loc() <= hi + span:
            out.extend(t for t in (tick.label1, tick.label2) if t.get_visible())
    return out


def visible_texts(fig: Figure) -> list[Text]:
    """Every text the figure draws (after a draw): titles, axis labels, the labels of the ticks in view, legends,
    annotations."""
    ticks: set[int] = set()
    out: list[Text] = []
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            for tick in [*axis.get_major_ticks(), *axis.get_minor_ticks()]:
                ticks.update((id(tick.label1), id(tick.label2)))
            out.extend(_drawn_tick_labels(axis))
    for t in fig.findobj(Text):
        if id(t) not in ticks and isinstance(t, Text) and _shown(t):
            out.append(t)
    return [t for t in out if _shown(t)]


def _shown(t: Text) -> bool:
    if not t.get_text().strip():
        return False
    a: Any = t
    while a is not None:
        if not a.get_visible():
            return False
        a = getattr(a, "axes", None) if a is t else None
    return True


def boxes(fig: Figure, texts: Iterable[Text]) -> list[Bbox]:
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    return [t.get_window_extent(renderer) for t in texts]


def declutter(fig: Figure, optional: Sequence[Text], pad: float = 1.5) -> None:
    """Hide each of the ``optional`` texts (in order of importance) whose box would overlap one shown before it,
    or any other text of the figure, or leave the figure. The other texts stay as they are. Draws the figure."""
    for t in optional:
        t.set_in_layout(False)  # the layout does not depend on which of them are shown
    fig.canvas.draw()
    mine = {id(t) for t in optional}
    kept = boxes(fig, [t for t in visible_texts(fig) if id(t) not in mine])
    whole = fig.bbox
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    for t in optional:
        if not _shown(t):
            continue
        box = t.get_window_extent(renderer).padded(pad)
        inside = box.x0 >= whole.x0 and box.y0 >= whole.y0 and box.x1 <= whole.x1 and box.y1 <= whole.y1
        if not inside or any(box.overlaps(b) for b in kept):
            t.set_visible(False)
        else:
            kept.append(box)


# --- stages: the top-level blocks of a model --------------------------------------------------------------------

Stage = tuple[str, int, int]


def stages(names: Sequence[str], most: float = 0.6) -> list[Stage]:
    """The blocks to mark along a model's layers: (name, first, last layer index) for each run of two or more
    consecutive layers under one name prefix at a nesting depth (as ``show --depth N`` groups them), at depth 1,
    or deeper while one block holds more than ``most`` of the layers (DenseNet's ``features``); a name with
    several runs is marked at its longest."""
    best: list[Stage] = []
    for depth in range(1, 5):
        runs: list[Stage] = []
        for i, name in enumerate(names):
            key = "/".join(name.split("/", depth)[:depth])
            if runs and runs[-1][0] == key and runs[-1][2] == i - 1:
                runs[-1] = (key, runs[-1][1], i)
            else:
                runs.append((key, i, i))
        longest: dict[str, Stage] = {}
        for r in runs:
            if r[2] > r[1] and (r[0] not in longest or r[2] - r[1] > longest[r[0]][2] - longest[r[0]][1]):
                longest[r[0]] = r
        best = sorted(longest.values(), key=lambda r: r[1])
        if not best or max(r[2] - r[1] + 1 for r in best) <= most * len(names):
            break
    return best


def stage_label(name: str, all_names: Sequence[str]) -> str:
    """A block's name without the parent all the marked blocks share (``denseblock1`` of ``features/…``)."""
    parents = {n.rpartition("/")[0] for n in all_names}
    parent = parents.pop() if len(parents) == 1 else ""
    if parent and not any(n[len(parent) + 1:].isdigit() for n in all_names):  # not ``0``, ``1``: repeat1/0
        return name[len(parent) + 1:]
    return name
