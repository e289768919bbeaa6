"""Neutral tables (title, columns, rows, footer) built from reports; rendered as Markdown or Rich."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction

from convcalc.metrics.analysis import Comparison, Field, Report
from convcalc.metrics.centre import CentreUnit
from convcalc.metrics.footprint import Footprint
from convcalc.metrics.totals import Totals
from convcalc.units import human, human_bytes, pair, ratio


@dataclass(frozen=True)
class Table:
    title: str
    columns: tuple[str, ...]
    rows: Sequence[tuple[str, ...]]
    footer: tuple[str, ...] | None = None
    notes: list[str] = field(default_factory=list)
    #: columns holding numbers (right-aligned)
    numeric: frozenset[int] = frozenset()
    #: columns a narrow terminal may leave out, in the order they go (convcalc.outputs.fit)
    optional: tuple[int, ...] = ()
    #: free-text columns a narrow terminal may wrap at spaces
    wrap: frozenset[int] = frozenset()
    #: name columns a narrow terminal may shorten in the middle
    shorten: frozenset[int] = frozenset({0})


def shape(s: tuple[int, int, int]) -> str:
    return f"{s[0]}×{s[1]}×{s[2]}"


def mac_share(macs: int, total: int) -> str:
    """A layer's or block's share of the model's MACs, ``2.9%`` (``-`` when the model has none)."""
    return f"{100 * macs / total:.1f}%" if total else "-"


#: Cells of a ``--bars`` bar (100% of the MACs) and the eighths of a cell, from one eighth to seven.
BAR_CELLS = 10
_EIGHTHS = "▏▎▍▌▋▊▉"


def share_bar(part: int, total: int, cells: int = BAR_CELLS) -> str:
    """``part / total`` as a bar of ``cells`` cells in eighths of a cell (rounded half up: 50% of 10 cells is
    ``█████``), padded with spaces to ``cells``; empty when ``total`` is 0."""
    eighths = (8 * cells * part * 2 + total) // (2 * total) if total > 0 else 0
    eighths = max(0, min(8 * cells, eighths))
    bar = "█" * (eighths // 8) + (_EIGHTHS[eighths % 8 - 1] if eighths % 8 else "")
    return bar.ljust(cells)


def _with_bars(t: Table, shares: Sequence[int], total: int, after: int) -> Table:
    """``t`` with a bar column of each row's share of ``total`` after column ``after``; optional, the last to go
    on a narrow terminal."""
    at = after + 1

    def put(row: tuple[str, ...], cell: str) -> tuple[str, ...]:
        return (*row[:at], cell, *row[at:])

    def moved(cols: Iterable[int]) -> list[int]:
        return [c + 1 if c >= at else c for c in cols]

    footer = put(t.footer, "") if t.footer else None
    return replace(t, columns=put(t.columns, "share"), rows=[put(row, share_bar(v, total)) for row, v in
                                                            zip(t.rows, shares, strict=True)],
                   footer=footer, numeric=frozenset(moved(t.numeric)), optional=(*moved(t.optional), at),
                   notes=[*t.notes, f"share: the MACs as a bar, {BAR_CELLS} cells = 100% of the total (█ a tenth, "
                          "▏ an eightieth)"])


def _outputs_note(r: Report) -> list[str]:
    """One line per output when a model has several: name, shape, receptive field and stride."""
    if len(r.outputs) <= 1:
        return []
    return [f"output {o.name}: {shape(o.shape)}, RF {rf_cell(o.rf)}, stride {pair(o.rf.stride)}" for o in r.outputs]


def show_table(r: Report, exact: bool = False, bars: bool = False) -> Table:
    """Per-layer costs: name, type, output shape, params, MACs, share of total MACs, activations; ``bars``: the
    share also as a bar after it (:func:`share_bar`)."""
    rows = []
    for row in r.layers:
        share = mac_share(row.cost.macs, r.macs)
        name = row.name + (" (training only)" if row.training_only else "")
        rows.append((name, row.type, shape(row.output_shape), human(row.cost.params, exact),
                     human(row.cost.macs, exact), share, human(row.activations, exact)))
    footer = ("total", "", shape(r.output_shape), human(r.params, exact), human(r.macs, exact), "100%",
              human(r.activations, exact))
    notes = [f"input {shape(r.input_shape)}, batch {r.batch}; FLOPs {human(r.flops, exact)} "
             f"(= 2·MACs + adds + muls + divs); buffers {human(r.total.buffers, exact)}",
             "MACs % = share of the total MACs; activations = elements of each layer's output, summed in the "
             "total"]
    if r.training_only.macs:
        notes.append(f"training-only branches: {human(r.training_only.macs, exact)} MACs not in the inference pass")
    if r.memory is not None:
        m = r.memory
        notes.append(f"memory ({m.options.dtype}, inference): weights {human_bytes(m.weights_bytes, exact)}, peak of "
                     f"live tensors {human_bytes(m.inference_peak_bytes, exact)} at {m.peak_layer} (convcalc memory "
                     "--train for training)")
    notes.extend(r.notes)
    notes.extend(_outputs_note(r))
    t = Table(r.name, ("layer", "type", "output", "params", "MACs", "MACs %", "activations"), rows, footer,
              notes, frozenset({3, 4, 5, 6}), optional=(6, 1))
    return _with_bars(t, [row.cost.macs for row in r.layers], r.macs, 5) if bars else t


def compare_table(c: Comparison, exact: bool = False, title: str = "compare") -> Table:
    """Alternatives side by side with ratios against the first."""
    rows = []
    for r in c.alternatives:
        rows.append((c.label(r), human(r.params, exact), ratio(c.ratio(r, "params")), human(r.macs, exact),
                     ratio(c.ratio(r, "macs")), human(r.flops, exact), ratio(c.ratio(r, "flops")),
                     human(r.activations, exact), shape(r.output_shape), rf_cell(r.rf),
                     f"{r.weight_layers}/{r.nonlinearities}"))
    notes = [f"ratios against {c.labels[0]!r}; activations = elements of all layer outputs; depth = weight "
             "layers / non-linearities"]
    for r in c.alternatives:
        notes.extend(f"{c.label(r)}: {n}" for n in r.notes)
    return Table(title, ("model", "params", "×", "MACs", "×", "FLOPs", "×", "activations", "output", "RF",
                         "depth"), rows, None, notes, frozenset({1, 2, 3, 4, 5, 6, 7}), optional=(6, 5, 8, 7, 10))


def zoo_table(reports: Sequence[Totals], exact: bool = False) -> Table:
    """The bundled models: input, params, MACs (torchvision's "GFLOPS" label is MACs), description."""
    rows = [(r.name, shape(r.input_shape), human(r.params, exact), human(r.macs, exact), r.description)
            for r in reports]
    return Table("zoo", ("model", "input", "params", "MACs", "description"), rows, None,
                 ["use a name wherever a spec file is expected: convcalc show resnet50"], frozenset({2, 3}),
                 optional=(1,), wrap=frozenset({4}))


def rf_cell(f: Field) -> str:
    """The RF of a map per axis: the largest unit window, ``smallest–largest`` on an axis where they differ."""
    return "×".join(str(big) if small == big else f"{small}–{big}" for small, big in zip(f.smallest, f.size,
                                                                                         strict=True))


def _periodic(f: Field) -> bool:
    """Whether the units' windows are not all one window moved by the stride."""
    return f.varies or f.period != (1, 1)


def period_cell(f: Field) -> str:
    """After how many units the windows repeat, per axis (∞: never); empty where every unit's window is the
    first one moved by the stride."""
    return "×".join("∞" if p is None else str(p) for p in f.period) if _periodic(f) else ""


#: Centres with a larger denominator are shown to 3 digits (≈0.469), as the receptive-field notes show them.
CENTRE_DENOMINATOR = 16


def centre_cell(v: tuple[int | Fraction, int | Fraction], exact: bool = False) -> str:
    """A centre per axis: exact where it reads well (3, 1/2, 8/9) or with ``exact``, else to 3 digits (≈0.469)."""
    return "×".join(str(c) if exact or isinstance(c, int) or c.denominator <= CENTRE_DENOMINATOR
                    else f"≈{float(c):.3g}" for c in v)


def _rounded(fields: Sequence[Field], exact: bool) -> bool:
    return not exact and any(isinstance(c, Fraction) and c.denominator > CENTRE_DENOMINATOR
                             for f in fields for c in f.centre)


def _rf_notes(r: Report, fields: Sequence[Field], exact: bool) -> list[str]:
    notes = [f"input {shape(r.input_shape)}; RF, stride (jump) and padding are h×w in input pixels; centre of output "
             "unit 0" + (" (≈: to 3 digits; --exact: exact)" if _rounded(fields, exact) else "")]
    if any(_periodic(f) for f in fields):
        notes.append("RF: the largest window of a unit, smallest–largest where the units' windows differ in size; "
                     "period: the units after which the windows repeat (∞: never)")
    return notes


def rf_table(r: Report, exact: bool = False) -> Table:
    """Per-layer receptive field: size (smallest–largest where units differ), period, effective stride (jump),
    effective padding, centre (per axis)."""
    rows = []
    blocks_at: dict[str, list[str]] = {}
    for block in r.blocks:
        blocks_at.setdefault(block.output, []).append(block.name)
    fields = [row.rf for row in r.layers]
    varies = any(_periodic(f) for f in fields)

    def cells(f: Field) -> tuple[str, ...]:
        return (rf_cell(f), *((period_cell(f),) if varies else ()), pair(f.stride), pair(f.padding),
                centre_cell(f.centre, exact))

    for row in r.layers:
        notes = list(row.notes)
        if row.rf_full != row.rf:
            notes.append(f"full RF {pair(row.rf_full.size)} (global side path)")
        if row.data_dependent:
            notes.append("data-dependent")
        if row.dead:
            notes.append("feeds no output")
        rows.append((row.name, row.type, shape(row.output_shape), *cells(row.rf), "; ".join(notes)))
        for name in blocks_at.get(row.name, []):
            if name != row.name:
                rows.append((f"[{name}]", "block", shape(row.output_shape), *cells(row.rf), ""))
    notes = _rf_notes(r, fields, exact)
    notes.extend(r.notes)  # (the outputs have their own table: rf_outputs_table)
    columns = ("layer", "type", "output", "RF", *(("period",) if varies else ()), "stride", "padding", "centre",
               "notes")
    n = len(columns)
    return Table(r.name, columns, rows, None, notes, optional=(1, 2, n - 2, *((4,) if varies else ())),
                 wrap=frozenset({n - 1}))


def _span(w: tuple[int, int]) -> str:
    return f"{w[0]}..{w[1]}"


def _share(c: CentreUnit) -> str:
    return "×".join("-" if (p := c.share(ax)) is None else "100%" if p == 1 else f"{float(100 * p):.1f}%"
                    for ax in (0, 1))


def rf_outputs_table(r: Report) -> Table:
    """Each output of a model: shape, RF (smallest–largest where units differ), period, stride, and its centre
    unit: index, window (first…last input pixel per axis), share of it inside the input, ERF50, ERF95."""
    varies = any(_periodic(o.rf) for o in r.outputs)
    rows = []
    for o in r.outputs:
        c = o.unit
        window = "-" if c.window is None else f"{_span(c.window[0])}×{_span(c.window[1])}"
        rows.append((o.name, shape(o.shape), rf_cell(o.rf), *((period_cell(o.rf),) if varies else ()),
                     pair(o.rf.stride), f"({c.position[0]}, {c.position[1]})", window, _share(c),
                     pair(c.erf50) if c.erf50 else "-", pair(c.erf95) if c.erf95 else "-"))
    notes = ["window: the input pixels that the centre unit ((h − 1) // 2, (w − 1) // 2) depends on, first..last "
             "(h×w; outside the input: padding); inside: its share in the input; ERF50, ERF95: the smallest centred "
             "windows with 50% and 95% of its paths (as rf --map)"]
    columns = ("output", "shape", "RF", *(("period",) if varies else ()), "stride", "centre unit", "window", "inside",
               "ERF50", "ERF95")
    k = 1 if varies else 0
    return Table(f"{r.name}: outputs", columns, rows, None, notes, frozenset(),
                 optional=(1, 4 + k, 6 + k, *((3,) if varies else ())))


_SHADES = "░▒▓█"
#: Largest map drawn in a terminal or Markdown block (rows, columns).
MAP_ROWS, MAP_COLS = 64, 128


def footprint_text(model: str, fp: Footprint) -> list[str]:
    """A footprint as text: which node stands for a named block, per-axis summary and counts, and the 2-D
    map (· marks a hole) where it fits."""
    h, w = fp.axes
    lines = [f"{model}: footprint of the centre unit ({fp.unit[0]}, {fp.unit[1]}) of {fp.layer!r} (paths from each "
             "input pixel, one channel)"]
    if fp.block:
        lines.append(f"  block {fp.block!r} → its output node {fp.layer!r}")
    for axis, a in (("h", h), ("w", w)):
        lines.append(f"  {axis}: RF {len(a.counts)} from {a.start}, {a.paths:,} paths, {a.holes} holes, "
                     f"ERF50 {a.erf(Fraction(1, 2))}, ERF95 {a.erf(Fraction(95, 100))}")
        if len(a.counts) <= MAP_COLS:
            lines.append("     " + " ".join(str(c) for c in a.counts))
    if fp.data_dependent:
        lines.append("  deformable convolution upstream: nominal footprint, the real one depends on the data")
    if fp.map is not None and len(fp.map) <= MAP_ROWS and len(fp.map[0]) <= MAP_COLS:
        top = max(max(row) for row in fp.map)
        for row in fp.map:
            lines.append("  " + "".join("·" if c == 0 else _SHADES[min(3, 4 * c // (top + 1))] for c in row))
        lines.append(f"  (· no path; {' '.join(_SHADES)} quarters of the largest count, {top:,})")
    else:
        lines.append("  (2-D map omitted: larger than the terminal; --format json has the counts)")
    return lines


def depth_table(r: Report, depth: int, exact: bool = False, bars: bool = False) -> Table:
    """``show --depth N``: per block at nesting depth N, its layers' params, MACs, activations, share of MACs
    (``bars``: also as a bar after it)."""
    from convcalc.metrics.blocks import at_depth

    rows = []
    blocks = at_depth(r, depth)
    for b in blocks:
        share = mac_share(b.cost.macs, r.macs)
        rows.append((b.name, b.type, str(b.layers), human(b.cost.params, exact), human(b.cost.macs, exact),
                     human(b.activations, exact), share))
    footer = ("total", "", str(len(r.layers)), human(r.params, exact), human(r.macs, exact),
              human(r.activations, exact), "100%")
    notes = [f"input {shape(r.input_shape)}, batch {r.batch}; blocks at depth {depth}: layer names cut after "
             f"{depth} '/'-separated segment(s), each layer in one row, so the rows sum to the totals; "
             "activations = elements of the layer outputs"]
    if r.training_only.macs:
        notes.append(f"training-only branches: {human(r.training_only.macs, exact)} MACs not in the inference pass")
    t = Table(f"{r.name} (depth {depth})", ("block", "type", "layers", "params", "MACs", "activations", "MACs %"),
              rows, footer, notes, frozenset({2, 3, 4, 5, 6}), optional=(5, 1))
    return _with_bars(t, [b.cost.macs for b in blocks], r.macs, 6) if bars else t
