"""Neutral tables (title, columns, rows, footer) built from reports; rendered as Markdown or Rich."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from convcalc.analysis import Comparison, Report
from convcalc.footprint import Footprint
from convcalc.units import human, pair, ratio


@dataclass(frozen=True)
class Table:
    title: str
    columns: tuple[str, ...]
    rows: Sequence[tuple[str, ...]]
    footer: tuple[str, ...] | None = None
    notes: list[str] = field(default_factory=list)
    #: columns holding numbers (right-aligned)
    numeric: frozenset[int] = frozenset()


def shape(s: tuple[int, int, int]) -> str:
    return f"{s[0]}×{s[1]}×{s[2]}"


def show_table(r: Report, exact: bool = False) -> Table:
    """Per-layer costs: name, type, output shape, params, MACs, share of total MACs."""
    rows = []
    for row in r.layers:
        share = f"{100 * row.cost.macs / r.macs:.1f}%" if r.macs else "-"
        name = row.name + (" (training only)" if row.training_only else "")
        rows.append((name, row.type, shape(row.output_shape), human(row.cost.params, exact),
                     human(row.cost.macs, exact), share))
    footer = ("total", "", shape(r.output_shape), human(r.params, exact), human(r.macs, exact), "100%")
    notes = [f"input {shape(r.input_shape)}, batch {r.batch}; FLOPs {human(r.flops, exact)} "
             f"(= 2·MACs + adds + muls + divs); buffers {human(r.total.buffers, exact)}"]
    if r.training_only.macs:
        notes.append(f"training-only branches: {human(r.training_only.macs, exact)} MACs not in the inference pass")
    notes.extend(r.notes)
    return Table(r.name, ("layer", "type", "output", "params", "MACs", "share"), rows, footer, notes,
                 frozenset({3, 4, 5}))


def compare_table(c: Comparison, exact: bool = False, title: str = "compare") -> Table:
    """Alternatives side by side with ratios against the first."""
    rows = []
    for r in c.alternatives:
        rows.append((r.name, human(r.params, exact), ratio(c.ratio(r, "params")), human(r.macs, exact),
                     ratio(c.ratio(r, "macs")), human(r.flops, exact), ratio(c.ratio(r, "flops")),
                     shape(r.output_shape), pair(r.rf.size), f"{r.weight_layers}/{r.nonlinearities}"))
    notes = [f"ratios against {c.baseline.name!r}; depth = weight layers / non-linearities"]
    for r in c.alternatives:
        notes.extend(f"{r.name}: {n}" for n in r.notes)
    return Table(title, ("alternative", "params", "×", "MACs", "×", "FLOPs", "×", "output", "RF", "depth"),
                 rows, None, notes, frozenset({1, 2, 3, 4, 5, 6}))


def zoo_table(reports: Sequence[Report], exact: bool = False) -> Table:
    """The bundled models: input, params, MACs (torchvision's "GFLOPS" label is MACs), description."""
    rows = [(r.name, shape(r.input_shape), human(r.params, exact), human(r.macs, exact), r.description)
            for r in reports]
    return Table("zoo", ("model", "input", "params", "MACs", "description"), rows, None,
                 ["use a name wherever a spec file is expected: convcalc show resnet50"], frozenset({2, 3}))


def rf_table(r: Report, exact: bool = False) -> Table:
    """Per-layer receptive field: size, effective stride (jump), effective padding, centre (per axis)."""
    rows = []
    blocks_at: dict[str, list[str]] = {}
    for block in r.blocks:
        blocks_at.setdefault(block.output, []).append(block.name)
    for row in r.layers:
        notes = list(row.notes)
        if row.rf_full != row.rf:
            notes.append(f"full RF {pair(row.rf_full.size)} (global side path)")
        if row.data_dependent:
            notes.append("data-dependent")
        rows.append((row.name, row.type, shape(row.output_shape), pair(row.rf.size), pair(row.rf.stride),
                     pair(row.rf.padding), pair(row.rf.centre), "; ".join(notes)))
        for name in blocks_at.get(row.name, []):
            if name != row.name:
                rows.append((f"[{name}]", "block", shape(row.output_shape), pair(row.rf.size), pair(row.rf.stride),
                             pair(row.rf.padding), pair(row.rf.centre), ""))
    notes = [f"input {shape(r.input_shape)}; RF, stride (jump) and padding are h×w in input pixels; "
             "centre of output unit 0"]
    notes.extend(r.notes)
    return Table(r.name, ("layer", "type", "output", "RF", "stride", "padding", "centre", "notes"), rows, None,
                 notes)


_SHADES = "░▒▓█"
#: Largest map drawn in a terminal or Markdown block (rows, columns).
MAP_ROWS, MAP_COLS = 64, 128


def footprint_text(model: str, fp: Footprint) -> list[str]:
    """A footprint as text: per-axis summary and counts, and the 2-D map (· marks a hole) where it fits."""
    from fractions import Fraction

    h, w = fp.axes
    lines = [f"{model}: footprint of one interior unit of {fp.layer!r} (paths from each input pixel, one channel)"]
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
