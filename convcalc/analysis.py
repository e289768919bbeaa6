"""``analyze(spec) -> [Report]`` and ``compare(reports) -> Comparison``: pure, deterministic, computed once.

Every view (tables, JSON, CSV, budgets) is derived from these reports; nothing is recomputed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from convcalc.costs import ZERO, Cost
from convcalc.errors import Collector, SpecError
from convcalc.gcpause import paused_gc
from convcalc.graph import Graph, Node, build_graph
from convcalc.layers import ACTIVATIONS, WEIGHT_KINDS, Shape
from convcalc.receptive import RF
from convcalc.spec import Spec, parse_spec
from convcalc.yaml_source import Document, load_file, load_text

Num = int | Fraction
Pair = tuple[Num, Num]


def _n(v: Fraction | int) -> Num:
    """An exact number: int when integral."""
    if type(v) is int:
        return v
    return int(v) if Fraction(v).denominator == 1 else Fraction(v)


@dataclass(frozen=True, slots=True)
class Field:
    """The receptive field of one unit, per axis (h, w): size, jump (effective stride), padding, centre."""

    size: Pair
    stride: Pair
    padding: Pair
    centre: Pair

    @classmethod
    def of(cls, rf: RF) -> Field:
        return cls(
            (_n(rf[0].size), _n(rf[1].size)),
            (_n(rf[0].jump), _n(rf[1].jump)),
            (_n(rf[0].padding), _n(rf[1].padding)),
            (_n(rf[0].centre), _n(rf[1].centre)),
        )


@dataclass(frozen=True, slots=True)
class LayerRow:
    """One node of the analysed graph, with its cost (batch applied) and receptive field."""

    name: str
    type: str
    inputs: tuple[str, ...]
    output_shape: Shape
    cost: Cost
    activations: int
    rf: Field
    rf_full: Field
    notes: tuple[str, ...]
    training_only: bool
    data_dependent: bool


@dataclass(frozen=True, slots=True)
class BlockRow:
    """A named block: its output node and the receptive field there."""

    name: str
    type: str
    output: str
    output_shape: Shape
    rf: Field
    rf_full: Field


@dataclass(frozen=True)
class Report:
    """Everything convcalc knows about one model (one alternative)."""

    name: str
    description: str
    file: str
    input_shape: Shape
    batch: int
    layers: tuple[LayerRow, ...]
    blocks: tuple[BlockRow, ...]
    total: Cost
    training_only: Cost
    output_shape: Shape
    rf: Field
    rf_full: Field
    weight_layers: int
    nonlinearities: int
    activations: int
    peak_activation: int
    notes: tuple[str, ...]

    @property
    def params(self) -> int:
        return self.total.params

    @property
    def macs(self) -> int:
        return self.total.macs

    @property
    def flops(self) -> int:
        return self.total.flops


def _row(g: Graph, node: Node) -> LayerRow:
    cost = node.cost.scaled(g.batch)
    s = node.shape
    rf = Field.of(node.rf)
    return LayerRow(
        node.name, node.kind, tuple(g.nodes[i].name for i in node.inputs), s, cost,
        0 if node.kind == "split" else s.c * s.h * s.w * g.batch,
        rf, rf if node.rf_full is node.rf else Field.of(node.rf_full), tuple(node.notes), node.training_only,
        node.data_dependent,
    )


def report_of(g: Graph, file: str = "") -> Report:
    """Derive the report of an expanded graph."""
    rows = tuple(_row(g, n) for n in g.layers)
    total = ZERO
    excluded = ZERO
    for r in rows:
        if r.training_only:
            total = total + r.cost.without_work()
            excluded = excluded + r.cost
        else:
            total = total + r.cost
    by_index = {n.index: n for n in g.nodes}
    blocks = tuple(
        BlockRow(b.name, b.kind, by_index[b.node].name, by_index[b.node].shape,
                 Field.of(by_index[b.node].rf), Field.of(by_index[b.node].rf_full))
        for b in g.blocks
    )
    out = g.nodes[g.output]
    inference = [r for r in rows if not r.training_only]
    notes = tuple(f"{r.name}: {note}" for r in rows for note in r.notes)
    if any(r.data_dependent for r in rows):
        notes += ("deformable convolution: receptive fields after it are nominal (data-dependent)",)
    return Report(
        name=g.name, description=g.description, file=file, input_shape=g.input, batch=g.batch,
        layers=rows, blocks=blocks, total=total, training_only=excluded, output_shape=out.shape,
        rf=Field.of(out.rf), rf_full=Field.of(out.rf_full),
        weight_layers=sum(1 for r in inference if r.type in WEIGHT_KINDS),
        nonlinearities=sum(1 for r in inference if r.type in ACTIVATIONS),
        activations=sum(r.activations for r in inference),
        peak_activation=max((r.activations for r in inference), default=0),
        notes=notes,
    )


def _expand(spec: Spec, errors: Collector) -> list[Graph]:
    """Expand every alternative, adding to ``errors``; raise :class:`SpecError` with all of them, if any."""
    graphs = [build_graph(spec, m, errors) for m in spec.models]
    errors.raise_if_any(SpecError)
    return [g for g in graphs if g is not None]


def analyze(spec: Spec) -> list[Report]:
    """Analyse every alternative of a spec. Raises :class:`SpecError` with all problems found."""
    with paused_gc():
        return [report_of(g, spec.file) for g in _expand(spec, Collector())]


def graphs_of(doc: Document) -> list[Graph]:
    """Parse a loaded document and expand every alternative, reporting all problems together."""
    errors = Collector()
    return _expand(parse_spec(doc, errors), errors)


def analyze_document(doc: Document) -> list[Report]:
    """Parse and analyse a loaded document, reporting top-level and layer problems together."""
    with paused_gc():
        return [report_of(g, doc.file) for g in graphs_of(doc)]


def analyze_file(path: str | Path) -> list[Report]:
    """Read, parse and analyse a spec file."""
    return analyze_document(load_file(path))


def analyze_text(text: str, file: str = "<string>") -> list[Report]:
    """Parse and analyse spec text."""
    return analyze_document(load_text(text, file))


@dataclass(frozen=True)
class Comparison:
    """Alternatives side by side; ratios are against the first (the baseline)."""

    alternatives: tuple[Report, ...]

    @property
    def baseline(self) -> Report:
        return self.alternatives[0]

    def ratio(self, report: Report, metric: str) -> float | None:
        """value / baseline value for ``params``, ``macs`` or ``flops`` (None when the baseline is 0)."""
        base = getattr(self.baseline, metric)
        return None if base == 0 else getattr(report, metric) / base


def compare(reports: Sequence[Report]) -> Comparison:
    """Put reports side by side (the first is the baseline). Needs at least one report."""
    if not reports:
        raise ValueError("compare needs at least one report")
    return Comparison(tuple(reports))
