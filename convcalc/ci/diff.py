"""``diff(base, head)``: how the cost of a spec changed between two versions (or two specs, or zoo models).

Models are paired by name (two single-model specs, or two specs with as many alternatives and no name in
common, are paired in order); layers by their full name. Added and removed layers and models are kept.
``fail_above`` (a percentage) turns growth of the params, MACs or FLOPs total past that percentage into a
failing verdict; growth from 0 always exceeds it. Pure: no Typer, no Rich.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

from convcalc.ci.collect import Model, analyze_models, load
from convcalc.errors import ConvcalcError, Location
from convcalc.lang.spec import Settings
from convcalc.lang.yaml_source import Document, EmptyDocument
from convcalc.metrics.analysis import Field, LayerRow, Report

Num = int | Fraction
Status = Literal["added", "removed", "changed", "same"]
#: Totals shown for every model.
TOTALS = ("params", "macs", "flops", "activations", "peak_activation")
#: Totals whose growth ``fail_above`` limits.
GATED = ("params", "macs", "flops")
#: Per-layer metrics.
LAYER_METRICS = ("params", "macs", "flops", "activations")


@dataclass(frozen=True)
class Delta:
    """A metric in base and head (None when the layer or model is absent on that side)."""

    base: Num | None
    head: Num | None

    @property
    def change(self) -> Num | None:
        return None if self.base is None or self.head is None else self.head - self.base

    @property
    def percent(self) -> Fraction | None:
        """Change in percent of the base; None when either side is missing or the base is 0."""
        if self.base is None or self.head is None or self.base == 0:
            return None
        return Fraction(self.head - self.base) * 100 / self.base


def _layer_metric(row: LayerRow | None, metric: str) -> int | None:
    if row is None:
        return None
    return row.activations if metric == "activations" else int(getattr(row.cost, metric))


@dataclass(frozen=True)
class LayerDiff:
    """One layer, matched by name: present in base, head or both."""

    name: str
    base: LayerRow | None
    head: LayerRow | None
    location: Location | None = None

    @property
    def status(self) -> Status:
        if self.base is None:
            return "added"
        if self.head is None:
            return "removed"
        b, h = self.base, self.head
        same = (b.type == h.type and b.output_shape == h.output_shape and b.cost == h.cost and b.rf == h.rf
                and b.training_only == h.training_only)
        return "same" if same else "changed"

    @property
    def type(self) -> str:
        """``conv``, or ``conv → dwconv`` when the kind changed."""
        if self.base is not None and self.head is not None and self.base.type != self.head.type:
            return f"{self.base.type} → {self.head.type}"
        row = self.head or self.base
        assert row is not None
        return row.type

    def delta(self, metric: str) -> Delta:
        return Delta(_layer_metric(self.base, metric), _layer_metric(self.head, metric))

    def rf(self) -> tuple[Field | None, Field | None]:
        return (self.base.rf if self.base else None, self.head.rf if self.head else None)


@dataclass(frozen=True)
class Growth:
    """A gated total (params, MACs, FLOPs) of one model against the ``fail_above`` limit."""

    model: str
    metric: str
    delta: Delta
    limit: Fraction

    @property
    def exceeded(self) -> bool:
        """More than ``limit`` percent of growth; growth from 0 counts as exceeding."""
        change = self.delta.change
        if change is None or change <= 0:
            return False
        pct = self.delta.percent
        return pct is None or pct > self.limit


@dataclass(frozen=True)
class ModelDiff:
    """One model (alternative) in base and head, with its layers matched by name."""

    name: str
    base: Report | None
    head: Report | None
    layers: tuple[LayerDiff, ...]
    location: Location | None = None

    @property
    def status(self) -> Status:
        if self.base is None:
            return "added"
        if self.head is None:
            return "removed"
        same = all(x.status == "same" for x in self.layers) and self.base.output_shape == self.head.output_shape
        return "same" if same else "changed"

    def total(self, metric: str) -> Delta:
        return Delta(getattr(self.base, metric) if self.base else None,
                     getattr(self.head, metric) if self.head else None)

    @property
    def changed_layers(self) -> list[LayerDiff]:
        return [x for x in self.layers if x.status != "same"]


@dataclass(frozen=True)
class DiffRun:
    """One spec file (or zoo model) in base and head. ``base_present``/``head_present``: False for a new
    or a deleted file (every model and layer added or removed); ``error`` when a side could not be read."""

    base: str
    head: str
    models: tuple[ModelDiff, ...]
    fail_above: Fraction | None = None
    base_present: bool = True
    head_present: bool = True
    error: ConvcalcError | None = None

    @property
    def status(self) -> Status | Literal["error"]:
        if self.error is not None:
            return "error"
        if not self.base_present:
            return "added"
        if not self.head_present:
            return "removed"
        return "same" if all(m.status == "same" for m in self.models) else "changed"

    @property
    def growth(self) -> list[Growth]:
        """Every gated total of every model present on both sides (empty without ``fail_above``)."""
        if self.fail_above is None:
            return []
        return [Growth(m.name, metric, m.total(metric), self.fail_above)
                for m in self.models if m.base is not None and m.head is not None for metric in GATED]

    @property
    def exceeded(self) -> list[Growth]:
        return [g for g in self.growth if g.exceeded]

    @property
    def exit_code(self) -> int:
        """0, 1 when a gated total grew by more than ``fail_above`` percent, 2 when a side was unreadable."""
        return 2 if self.error is not None else 1 if self.exceeded else 0


@dataclass(frozen=True)
class DiffSet:
    """The result of one ``convcalc diff``: one :class:`DiffRun` per spec file (one for ``diff BASE HEAD``)."""

    base: str
    head: str
    files: tuple[DiffRun, ...]
    fail_above: Fraction | None = None

    @property
    def models(self) -> list[tuple[DiffRun, ModelDiff]]:
        return [(f, m) for f in self.files for m in f.models]

    @property
    def exceeded(self) -> list[tuple[DiffRun, Growth]]:
        return [(f, g) for f in self.files for g in f.exceeded]

    @property
    def errors(self) -> list[tuple[str, ConvcalcError]]:
        return [(f.head if f.head_present else f.base, f.error) for f in self.files if f.error is not None]

    @property
    def exit_code(self) -> int:
        """2 when a file could not be read, else 1 when a gated total grew past ``fail_above``, else 0."""
        return max((f.exit_code for f in self.files), default=0)


def diff_layers(base: Model | None, head: Model | None) -> tuple[LayerDiff, ...]:
    """Layers matched by name, in head order, removed layers placed after their base predecessor."""
    brows = list(base.report.layers) if base else []
    hrows = list(head.report.layers) if head else []
    bidx: dict[str, int] = {}
    for i, r in enumerate(brows):
        bidx.setdefault(r.name, i)
    hnames = {r.name for r in hrows}
    out: list[LayerDiff] = []
    emitted = 0  # base rows before this index are placed

    def place_removed(upto: int) -> None:
        nonlocal emitted
        for r in brows[emitted:upto]:
            if r.name not in hnames:
                out.append(LayerDiff(r.name, r, None, base.locations.get(r.name) if base else None))
        emitted = max(emitted, upto)

    for h in hrows:
        j = bidx.get(h.name)
        if j is not None:
            place_removed(j)
        loc = head.locations.get(h.name) if head else None
        out.append(LayerDiff(h.name, brows[j] if j is not None else None, h, loc))
    place_removed(len(brows))
    return tuple(out)


def _model_location(m: Model, doc: Document) -> Location:
    return doc.loc(m.spec.path[:-1])


def diff_documents(base: Document | None, head: Document | None, fail_above: Fraction | None = None,
                   names: tuple[str, str] | None = None, settings: Settings | None = None) -> DiffRun:
    """Diff two loaded spec documents; None is a side without the file (new or deleted: every model and
    layer added or removed). Raises :class:`~convcalc.errors.SpecError` if either is invalid."""
    bname = base.file if base is not None else names[0] if names else NOTHING
    hname = head.file if head is not None else names[1] if names else NOTHING
    bmodels = analyze_models(base, None, settings)[1] if base is not None else []
    hspec, hmodels = analyze_models(head, None, settings) if head is not None else (None, [])
    pairs: list[tuple[str, Model | None, Model | None]]
    bnames = [m.spec.name for m in bmodels]
    if len(bmodels) == len(hmodels) and (len(bmodels) == 1 or not set(bnames) & {m.spec.name for m in hmodels}):
        # one model each, or the same number of alternatives with no name in common: pair them in order
        pairs = [(h.spec.name if h.spec.name == b.spec.name else f"{b.spec.name} → {h.spec.name}", b, h)
                 for b, h in zip(bmodels, hmodels, strict=True)]
    else:
        bby = {m.spec.name: m for m in bmodels}
        hnames = {m.spec.name for m in hmodels}
        pairs = [(m.spec.name, bby.get(m.spec.name), m) for m in hmodels]
        pairs += [(m.spec.name, m, None) for m in bmodels if m.spec.name not in hnames]
    models = tuple(
        ModelDiff(name, b.report if b else None, h.report if h else None, diff_layers(b, h),
                  _model_location(h, hspec.doc) if h and hspec else None)
        for name, b, h in pairs)
    return DiffRun(bname, hname, models, fail_above, base is not None, head is not None)


#: What stands for a side without the file: ``/dev/null`` (as git writes it), or an empty file.
NOTHING = "/dev/null"


def _side(source: str, stdin: str | None) -> Document | None:
    """The document of one side, or None for nothing (``/dev/null``, an empty file, empty stdin)."""
    if source == NOTHING:
        return None
    if source == "-" and stdin is not None and not stdin.strip():
        return None
    try:
        return load(source, stdin)
    except EmptyDocument:
        return None


def diff(base: str, head: str, fail_above: Fraction | None = None, stdin: str | None = None,
         settings: Settings | None = None) -> DiffRun:
    """Diff two specs given as file paths or zoo names (``-`` reads ``stdin``; ``/dev/null`` or an empty file
    is a side without the spec: a new or a deleted file)."""
    b, h = _side(base, stdin), _side(head, stdin)
    return diff_documents(b, h, fail_above, (base, head), settings)
