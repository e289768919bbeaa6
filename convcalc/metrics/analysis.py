"""``analyze(spec) -> [Report]`` and ``compare(reports) -> Comparison``: pure, deterministic, computed once.

Every view (tables, JSON, CSV, budgets) is derived from these reports; nothing is recomputed.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property
from pathlib import Path
from typing import NamedTuple, Protocol, TypeVar

from convcalc.errors import Collector, Diagnostic, Location, SpecError, UsageError
from convcalc.gcpause import paused_gc
from convcalc.graph import Graph, Node, build_graph
from convcalc.kinds import WEIGHT_KINDS
from convcalc.kinds.activation import ACTIVATIONS
from convcalc.kinds.core import ZERO, Cost, Shape
from convcalc.lang.spec import Settings, Spec, parse_spec
from convcalc.lang.yaml_source import Document, load_text
from convcalc.metrics.blocks import block_sums
from convcalc.metrics.blocks import counted as counted  # (re-exported: it was defined here)
from convcalc.metrics.centre import NO_UNIT, CentreUnit, beyond_input, centre_unit
from convcalc.metrics.memory import Memory, MemoryOptions, memory_of
from convcalc.metrics.support import RF
from convcalc.metrics.totals import Totals, totals_of

Num = int | Fraction
Pair = tuple[Num, Num]


def _n(v: Fraction | int) -> Num:
    """An exact number: int when integral."""
    if type(v) is int:
        return v
    if type(v) is Fraction:
        return v.numerator if v.denominator == 1 else v
    return int(v) if Fraction(v).denominator == 1 else Fraction(v)


@dataclass(frozen=True, slots=True)
class Field:
    """The receptive field of a map, per axis (h, w): the largest unit window (size), the smallest, the period
    after which the units' windows repeat (None: never), jump (effective stride), unit 0's padding and centre."""

    size: Pair
    stride: Pair
    padding: Pair
    centre: Pair
    smallest: Pair = (1, 1)
    period: tuple[int | None, int | None] = (1, 1)

    @classmethod
    def of(cls, rf: RF) -> Field:
        """The field of a node's per-axis summary (one per distinct summary: the layers of a block and the
        configurations of a sweep share most of them)."""
        field = _FIELDS.get(rf)
        if field is None:
            field = cls(
                (_n(rf[0].size), _n(rf[1].size)),
                (_n(rf[0].jump), _n(rf[1].jump)),
                (_n(rf[0].padding), _n(rf[1].padding)),
                (_n(rf[0].centre), _n(rf[1].centre)),
                (rf[0].smallest, rf[1].smallest),
                (rf[0].period, rf[1].period),
            )
            if len(_FIELDS) >= 1 << 14:
                _FIELDS.clear()
            _FIELDS[rf] = field
        return field

    @property
    def varies(self) -> bool:
        """Whether the units' windows differ in size on some axis."""
        return self.smallest != self.size


#: fields by their summary (:meth:`Field.of`; fields are immutable, so one serves every equal summary)
_FIELDS: dict[RF, Field] = {}


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
    #: feeds none of the model's outputs (and is not in a side block): not in the totals
    dead: bool = False


class OutputRow(NamedTuple):
    """One output of a model: its name (the layer it is), shape and receptive field, and its centre unit
    (the exact window of unit ((h − 1) // 2, (w − 1) // 2), see :class:`~convcalc.metrics.centre.CentreUnit`)."""

    name: str
    shape: Shape
    rf: Field
    rf_full: Field
    unit: CentreUnit = NO_UNIT


@dataclass(frozen=True, slots=True)
class BlockRow:
    """A named block: its output node and the receptive field there."""

    name: str
    type: str
    output: str
    output_shape: Shape
    rf: Field
    rf_full: Field
    #: the sum over the block's layers (named ``name/...``, or ``name``: its merge), as in the report's total
    cost: Cost = ZERO
    activations: int = 0


@dataclass(frozen=True)
class Report:
    """Everything convcalc knows about one model (one alternative)."""

    name: str
    description: str
    file: str
    input_shape: Shape
    batch: int
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
    #: the analysed graph (the layer and block rows are derived from it when first read)
    graph: Graph = dataclasses.field(repr=False, compare=False)
    #: every output (one when the spec declares no ``outputs:``); ``output_shape`` and ``rf`` are the first's
    outputs: tuple[OutputRow, ...] = ()
    #: problems that did not stop the analysis (layers that feed no output, …)
    warnings: tuple[str, ...] = ()
    #: the memory pass, when asked for (:mod:`convcalc.metrics.memory`)
    memory: Memory | None = None

    @cached_property
    def layers(self) -> tuple[LayerRow, ...]:
        """Every layer's row, in the graph's order (made when first read: a sweep or a budget check of the
        totals never needs them)."""
        field_of = _fields()
        return tuple(_row(self.graph, n, self.batch, field_of) for n in self.graph.layers)

    @cached_property
    def blocks(self) -> tuple[BlockRow, ...]:
        """Every named block's row (cost and activations summed over its layers, as in the total)."""
        g = self.graph
        if not g.blocks:
            return ()
        field_of = _fields()
        sums = block_sums(self.layers, {b.name for b in g.blocks})
        return tuple(
            BlockRow(b.name, b.kind, g.nodes[b.node].name, g.nodes[b.node].shape, field_of(g.nodes[b.node].rf),
                     field_of(g.nodes[b.node].rf_full), *sums.get(b.name, (ZERO, 0)))
            for b in g.blocks
        )

    @property
    def params(self) -> int:
        return self.total.params

    @property
    def macs(self) -> int:
        return self.total.macs

    @property
    def flops(self) -> int:
        return self.total.flops


def _fields() -> Callable[[RF], Field]:
    """:meth:`Field.of`, once per summary object of one graph (its nodes share their inputs' summaries: the
    graph keeps them alive, so their ids stay theirs)."""
    seen: dict[int, Field] = {}

    def field(rf: RF) -> Field:
        known = seen.get(id(rf))
        if known is None:
            known = seen[id(rf)] = Field.of(rf)
        return known

    return field


def _activations(node: Node, batch: int) -> int:
    """Elements of a layer's output over the batch (a split's outputs are its parts': none of its own)."""
    s = node.shape
    return 0 if node.kind == "split" else s.c * s.h * s.w * batch


def _row(g: Graph, node: Node, batch: int, field: Callable[[RF], Field]) -> LayerRow:
    rf = field(node.rf)
    ins = node.inputs
    return LayerRow(
        node.name, node.kind, (g.nodes[ins[0]].name,) if len(ins) == 1 else tuple(g.nodes[i].name for i in ins),
        node.shape, node.cost.scaled(batch), _activations(node, batch),
        rf, rf if node.rf_full is node.rf else field(node.rf_full), tuple(node.notes), node.training_only,
        node.data_dependent, node.index in g.dead,
    )


def _output(g: Graph, name: str, node: Node, erf: bool) -> OutputRow:
    rf = Field.of(node.rf)
    return OutputRow(name, node.shape, rf, rf if node.rf_full is node.rf else Field.of(node.rf_full),
                     centre_unit(g, node, erf))


def report_of(g: Graph, file: str = "", erf: bool = False, memory: MemoryOptions | None = None) -> Report:
    """Derive the report of an expanded graph; ``erf``: also the effective receptive field of each output's
    centre unit (path counts over the graph, :mod:`convcalc.metrics.footprint`: what ``rf`` reports);
    ``memory``: also the memory pass with these options."""
    field = _fields()
    totals = totals_of(g)
    out = g.nodes[g.output]
    outputs = tuple(_output(g, o.name, g.nodes[o.node], erf) for o in g.outputs)
    weights = nonlinear = activations = peak = 0  # over the inference pass's layers
    for n in g.layers:
        if not n.training_only and n.index not in g.dead:
            weights += n.kind in WEIGHT_KINDS
            nonlinear += n.kind in ACTIVATIONS
            a = _activations(n, g.batch)
            activations += a
            peak = max(peak, a)
    notes = tuple(f"{n.name}: {note}" for n in g.layers for note in n.notes)
    if any(n.data_dependent for n in g.layers):
        notes += ("deformable convolution: receptive fields after it are nominal (data-dependent)",)
    notes += tuple(note for o in outputs if (note := beyond_input(o.name, o.rf.size, o.unit, g.input)))
    return Report(
        name=g.name, description=g.description, file=file, input_shape=g.input, batch=g.batch,
        total=totals.total, training_only=totals.training_only, output_shape=out.shape,
        rf=field(out.rf), rf_full=field(out.rf_full),
        weight_layers=weights, nonlinearities=nonlinear, activations=activations, peak_activation=peak,
        notes=notes, outputs=outputs, warnings=tuple(g.warnings),
        memory=memory_of(g, memory) if memory is not None else None, graph=g,
    )


def _expand(spec: Spec, errors: Collector, receptive: bool = True) -> list[Graph]:
    """Expand every alternative, adding to ``errors``; raise :class:`SpecError` with all of them, if any."""
    graphs = [build_graph(spec, m, errors, receptive) for m in spec.models]
    errors.raise_if_any(SpecError)
    return [g for g in graphs if g is not None]


def analyze(spec: Spec) -> list[Report]:
    """Analyse every alternative of a spec. Raises :class:`SpecError` with all problems found."""
    with paused_gc():
        return [report_of(g, spec.file) for g in _expand(spec, Collector())]


def graphs_of(doc: Document, settings: Settings | None = None, receptive: bool = True) -> list[Graph]:
    """Parse a loaded document and expand every alternative, reporting all problems together.
    ``settings``: the command line's ``--set``, ``--size`` and ``--batch``; ``receptive``: False skips the
    receptive-field pass (the graphs then serve costs and memory only)."""
    errors = Collector()
    return _expand(parse_spec(doc, errors, settings), errors, receptive)


def totals_of_document(doc: Document) -> list[Totals]:
    """Every alternative's totals, without the receptive-field pass (a fraction of the analysis's time)."""
    with paused_gc():
        return [totals_of(g) for g in graphs_of(doc, receptive=False)]


def analyze_document(doc: Document, settings: Settings | None = None, erf: bool = False,
                     memory: MemoryOptions | None = None) -> list[Report]:
    """Parse and analyse a loaded document, reporting top-level and layer problems together (``erf``,
    ``memory``: see :func:`report_of`)."""
    if memory is not None:
        memory.check()
    with paused_gc():
        return [report_of(g, doc.file, erf, memory) for g in graphs_of(doc, settings)]


def analyze_file(path: str | Path) -> list[Report]:
    """Read, parse and analyse a spec file (also an Ultralytics model YAML or a Darknet .cfg)."""
    from convcalc.lang.sources import load_path

    return analyze_document(load_path(Path(path)))


def analyze_text(text: str, file: str = "<string>") -> list[Report]:
    """Parse and analyse spec text."""
    return analyze_document(load_text(text, file))


def display_names(reports: Sequence[Report]) -> list[str]:
    """A name per report that tells them apart: the model's name, qualified where two reports share it,
    first by the file's stem (``net (a)``), then by the file (``net (specs/a.yaml)``), then by position."""
    labels = [r.name for r in reports]
    for qualify in (lambda r: Path(r.file).stem if r.file else "", lambda r: r.file):
        kinds: dict[str, set[str]] = {}
        for r, lab in zip(reports, labels, strict=True):
            kinds.setdefault(lab, set()).add(qualify(r))
        labels = [f"{r.name} ({qualify(r)})" if len(kinds[lab]) > 1 and qualify(r) else lab
                  for r, lab in zip(reports, labels, strict=True)]
    seen, nth = Counter(labels), Counter[str]()
    out = []
    for lab in labels:
        nth[lab] += 1
        out.append(f"{lab} #{nth[lab]}" if seen[lab] > 1 else lab)
    return out


class _Named(Protocol):
    @property
    def name(self) -> str: ...


NamedT = TypeVar("NamedT", bound=_Named)


def pick(items: Sequence[NamedT], name: str | None, option: str = "--alternative") -> list[NamedT]:
    """The alternatives (reports or graphs) called ``name`` (all when None); :class:`UsageError` listing the
    names when none is."""
    if name is None:
        return list(items)
    out = [x for x in items if x.name == name]
    if not out:
        from convcalc.lang.hints import did_you_mean

        names = list(dict.fromkeys(x.name for x in items))
        close = did_you_mean(name, names)
        hint = (close + " " if close.startswith("did you mean") else "") + "The alternatives: " + \
            ", ".join(repr(n) for n in names)
        raise UsageError([Diagnostic(Location(option, 0, 0), (), f"no alternative named {name!r}", hint)])
    return out


@dataclass(frozen=True)
class Comparison:
    """Alternatives side by side; ratios are against the first (the baseline)."""

    alternatives: tuple[Report, ...]

    @property
    def baseline(self) -> Report:
        return self.alternatives[0]

    @cached_property
    def labels(self) -> tuple[str, ...]:
        """The alternatives' display names, in order (see :func:`display_names`)."""
        return tuple(display_names(self.alternatives))

    def label(self, report: Report) -> str:
        """The display name of one of the alternatives (the object itself, not an equal one)."""
        return next(lab for r, lab in zip(self.alternatives, self.labels, strict=True) if r is report)

    def ratio(self, report: Report, metric: str) -> float | None:
        """value / baseline value for ``params``, ``macs`` or ``flops`` (None when the baseline is 0)."""
        base = getattr(self.baseline, metric)
        return None if base == 0 else getattr(report, metric) / base


def compare(reports: Sequence[Report]) -> Comparison:
    """Put reports side by side (the first is the baseline). Needs at least one report."""
    if not reports:
        raise ValueError("compare needs at least one report")
    return Comparison(tuple(reports))
