"""One model's limits: the actual value of each metric, which limit applies (the strictest of every source's)
and the outcome; also the limits of single named outputs (``budget: {outputs: {p3: {min_rf: 100}}}``). Pure,
typed, exact: no Typer, no Rich, no printing. :mod:`convcalc.ci.gate` runs the check over many specs.

Receptive-field limits hold at every unit: ``min_rf`` against the smallest unit window, ``max_rf`` against
the largest (the receptive field), per axis; without ``rf_at``, at every output of the model (the smallest
or largest over them, and likewise for the output stride).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

from convcalc.ci.budget import BYTES_PER_ELEMENT, METRICS, OUTPUT_KEYS, Budget, Metric, Setting, Source, output_key
from convcalc.errors import Diagnostic, Location
from convcalc.graph.names import name_hint
from convcalc.metrics.analysis import Field, Report

Num = int | Fraction


@dataclass(frozen=True)
class Outcome:
    """One limit checked on one model (one axis for per-axis limits), or on one of its outputs (``output``):
    the strictest of every source's, and the looser ones of other sources that were set aside
    (``set_aside``)."""

    key: str
    axis: str | None
    limit: Num
    actual: Num
    source: Source
    location: Location
    setting: Setting | None = None
    set_aside: tuple[Setting, ...] = ()
    output: str | None = None

    @property
    def metric(self) -> Metric:
        return METRICS[self.key]

    @property
    def label(self) -> str:
        """``max_params``, ``min_rf[h]`` for one axis, ``outputs.p3.min_rf[h]`` for an output's limit."""
        return ("" if self.output is None else f"outputs.{self.output}.") + self.key + \
            (f"[{self.axis}]" if self.axis else "")

    @property
    def passed(self) -> bool:
        return self.actual <= self.limit if self.metric.bound == "max" else self.actual >= self.limit

    @property
    def overshoot(self) -> Fraction | None:
        """How far past the limit, in percent of the limit (positive when exceeded); None when the limit is 0."""
        if self.limit == 0:
            return None
        diff = self.actual - self.limit if self.metric.bound == "max" else self.limit - self.actual
        return Fraction(diff) * 100 / self.limit

    def value_of(self, s: Setting) -> Num:
        """A setting's value on this outcome's axis."""
        return axis_value(s, self.axis)


def axis_value(s: Setting, axis: str | None) -> Num:
    """A limit's value, on one axis (``h``/``w``) for per-axis limits."""
    v = s.value
    if isinstance(v, tuple):
        assert axis is not None
        return v["hw".index(axis)]
    assert isinstance(v, int | Fraction) and not isinstance(v, bool)
    return v


def rf_value(key: str, fields: Sequence[Field]) -> tuple[Num, Num]:
    """The value a receptive-field limit is checked against, per axis, over ``fields`` (every output, or
    ``rf_at``): the smallest unit window for ``min_rf``, the largest for ``max_rf``, the smallest or largest
    effective stride for ``min_output_stride`` / ``max_output_stride``."""
    m = METRICS[key]
    pick = min if m.bound == "min" else max

    def values(f: Field) -> tuple[Num, Num]:
        return f.stride if m.metric == "output_stride" else f.smallest if m.bound == "min" else f.size

    return pick(values(f)[0] for f in fields), pick(values(f)[1] for f in fields)


def metric_value(r: Report, key: str, fields: Sequence[Field],
                 measured: Mapping[str, Num] | None = None) -> Num | tuple[Num, Num]:
    """The actual value a limit is checked against on a report (``rf`` and ``output_stride`` over ``fields``;
    the memory and latency metrics from ``measured``, computed by the gate with the limits' options)."""
    metric = METRICS[key].metric
    if metric in ("rf", "output_stride"):
        return rf_value(key, fields)
    if measured is not None and metric in measured:
        return measured[metric]
    values: dict[str, Num] = {
        "params": r.params, "macs": r.macs, "flops": r.flops,
        "activations": r.activations, "activation_bytes": r.activations * BYTES_PER_ELEMENT,
        "peak_activation": r.peak_activation, "peak_activation_bytes": r.peak_activation * BYTES_PER_ELEMENT,
    }
    return values[metric]


def fields_at(r: Report, name: str | None) -> list[Field] | None:
    """The receptive fields the model's limits are measured on: every output's, or a layer's or named block's
    (None: no such name)."""
    if name is None:
        return [o.rf for o in r.outputs] or [r.rf]
    for row in r.layers:
        if row.name == name:
            return [row.rf]
    for b in r.blocks:
        if b.name == name:
            return [b.rf]
    return None


def field_at(r: Report, name: str | None) -> Field | None:
    """The receptive field at the model output, or at a layer or named block, as the check reports it. With
    several outputs: per axis the smallest receptive field and the largest effective stride of any output."""
    fields = fields_at(r, name)
    if fields is None:
        return None
    if len(fields) == 1:
        return fields[0]
    return Field(tuple(min(f.size[ax] for f in fields) for ax in (0, 1)),  # type: ignore[arg-type]
                 tuple(max(f.stride[ax] for f in fields) for ax in (0, 1)),  # type: ignore[arg-type]
                 r.rf.padding, r.rf.centre,
                 tuple(min(f.smallest[ax] for f in fields) for ax in (0, 1)))  # type: ignore[arg-type]


def strictest(key: str, axis: str | None, settings: Sequence[Setting]) -> tuple[Setting, tuple[Setting, ...]]:
    """The setting whose limit applies (the smallest maximum or the largest minimum; the first of equals,
    in source order) and the looser ones set aside."""
    sign = 1 if METRICS[key].bound == "max" else -1
    best = min(settings, key=lambda s: sign * axis_value(s, axis))
    limit = axis_value(best, axis)
    return best, tuple(s for s in settings if axis_value(s, axis) != limit)


def _outcomes(key: str, settings: list[Setting], actual: Num | tuple[Num, Num], anchor: Location,
              output: str | None = None) -> list[Outcome]:
    out = []
    for i, axis in enumerate("hw" if isinstance(actual, tuple) else [None]):
        best, aside = strictest(key, axis, settings)
        value = actual[i] if isinstance(actual, tuple) else actual
        out.append(Outcome(key, axis, axis_value(best, axis), value, best.source, best.location or anchor,
                           best, aside, output))
    return out


def evaluate(r: Report, budgets: Sequence[Budget], anchor: Location, fields: Sequence[Field],
             measured: Mapping[str, Num] | None = None) -> tuple[Outcome, ...]:
    """Check every limit of every budget (in source order) on ``r``; per key and axis the strictest applies
    (command-line limits are located at ``anchor``). ``fields``: where the model's receptive-field limits
    are measured (:func:`fields_at`); ``measured``: the memory and latency metrics; then each output's own
    limits, in the order of the outputs."""
    out = []
    for key in METRICS:
        settings = [b[key] for b in budgets if key in b]
        if settings:
            out += _outcomes(key, settings, metric_value(r, key, fields, measured), anchor)
    for o in r.outputs:
        for key in OUTPUT_KEYS:
            k = output_key(o.name, key)
            settings = [b[k] for b in budgets if k in b]
            if settings:
                out += _outcomes(key, settings, rf_value(key, [o.rf]), anchor, o.name)
    return tuple(out)


def origin(s: Setting) -> str:
    """Where a limit comes from, for people: ``the spec (line 7)``, ``specs/budgets.yaml:12``, ``--max-params``."""
    if s.source == "cli":
        return "--" + s.key.replace("_", "-")
    assert s.location is not None
    if s.source == "spec":
        return f"the spec (line {s.location.line})"
    return f"{s.location.file}:{s.location.line}"


def unknown_outputs(r: Report, model: str, budgets: Sequence[Budget], anchor: Location) -> list[Diagnostic]:
    """Limits of outputs the model does not have (with the closest name and the model's outputs)."""
    names = [o.name for o in r.outputs]
    out = []
    for b in budgets:
        for s in b.values():
            if s.output is None or s.output.name in names:
                continue
            name = s.output.name
            where = f"{origin(s)} {name}=…: " if s.source == "cli" else ""
            same = [n for n in names if n.lower() == name.lower()]
            close = f"did you mean {same[0]!r}?" if same else name_hint(name, names)
            hint = (close + " " if close.startswith(("did you mean", "names are")) else "") + \
                "The outputs: " + ", ".join(repr(n) for n in names)
            out.append(Diagnostic(s.output.location or anchor, s.output.path or ("budget", "outputs", name),
                                  f"{where}model {model!r} has no output named {name!r}", hint))
    return list(dict.fromkeys(out))
