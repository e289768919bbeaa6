"""Budget keys and values: what a limit is, how it is written, and how a budget mapping is read. Pure,
typed, exact: no Typer, no Rich, no printing. Budgets files are read in :mod:`convcalc.ci.budgets_file`,
and the check itself (which limit applies, pass or fail) is :mod:`convcalc.ci.gate`.

Metrics (per model, batch applied, inference pass):

- ``params``, ``macs``, ``flops``: as in ``convcalc show`` (FLOPs = 2·MACs + adds + muls + divs).
- ``activations``: elements of every layer output summed (what a training step keeps for the backward
  pass); ``activation_bytes`` = activations × 4 (float32).
- ``peak_activation``: elements of the largest single layer output; ``peak_activation_bytes`` × 4.
- ``rf``: receptive-field size per axis (h, w) at the model output (every output), or at ``rf_at`` (a layer
  or named block); ``output_stride``: the effective stride (jump) there. ``min_rf`` holds when every unit's
  window is at least that large (the smallest unit window), ``max_rf`` when none is larger (the RF).
- ``outputs: {NAME: {min_rf: …, max_rf: …, min_output_stride: …, max_output_stride: …}}``: the same four
  limits for one named output of the model (see :data:`OUTPUT_KEYS`).
- ``peak_memory``: the inference peak of live tensors (:mod:`convcalc.metrics.memory`) in ``dtype`` (default
  fp32) at the spec's batch; ``train_memory``: weights, buffers, gradients, ``optimizer`` state (default adamw)
  and the activations saved for backward, at ``train_batch`` (default: the spec's batch), in ``dtype``
  (``mixed: true``: mixed precision); ``latency_bound``: the roofline lower bound on latency
  (:mod:`convcalc.metrics.roofline`) on ``device`` (a bundled profile or a YAML file; required with it) in
  ``dtype``, at the spec's batch. These options (:data:`OPTION_KEYS`) apply to the model's limits; where
  several sources give one, the last (command line over budgets files over the spec) is used.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Literal, NamedTuple

from convcalc.errors import Collector, Diagnostic, KeyPath, Location
from convcalc.lang.expr_values import describe
from convcalc.lang.spec import did_you_mean
from convcalc.lang.yaml_source import Document
from convcalc.units import UnitError, parse_bytes, parse_count, parse_duration, parse_pair

Num = int | Fraction
Source = Literal["spec", "budgets", "cli"]
Bound = Literal["max", "min"]
Kind = Literal["count", "bytes", "pair", "duration"]

#: Bytes per activation element (float32).
BYTES_PER_ELEMENT = 4


@dataclass(frozen=True)
class Metric:
    """A budget key: which metric it limits, from which side, and how its value is written."""

    key: str
    metric: str
    bound: Bound
    kind: Kind
    help: str


METRICS: dict[str, Metric] = {m.key: m for m in (
    Metric("max_params", "params", "max", "count", "learnable parameters"),
    Metric("max_macs", "macs", "max", "count", "multiply-accumulates"),
    Metric("max_flops", "flops", "max", "count", "FLOPs = 2·MACs + adds + muls + divs"),
    Metric("max_activations", "activations", "max", "count", "elements of all layer outputs, summed"),
    Metric("max_activation_bytes", "activation_bytes", "max", "bytes",
           f"activations × {BYTES_PER_ELEMENT} bytes (float32)"),
    Metric("max_peak_activation", "peak_activation", "max", "count", "elements of the largest layer output"),
    Metric("max_peak_activation_bytes", "peak_activation_bytes", "max", "bytes",
           f"peak activation × {BYTES_PER_ELEMENT} bytes (float32)"),
    Metric("min_rf", "rf", "min", "pair", "smallest receptive field, per axis (h, w)"),
    Metric("max_rf", "rf", "max", "pair", "largest receptive field, per axis (h, w)"),
    Metric("min_output_stride", "output_stride", "min", "pair", "smallest effective stride, per axis"),
    Metric("max_output_stride", "output_stride", "max", "pair", "largest effective stride, per axis"),
    Metric("max_peak_memory", "peak_memory", "max", "bytes", "inference peak of live tensors (dtype)"),
    Metric("max_train_memory", "train_memory", "max", "bytes",
           "weights, gradients, optimizer state and saved activations (train_batch, dtype, optimizer, mixed)"),
    Metric("max_latency_bound", "latency_bound", "max", "duration",
           "roofline lower bound on latency on device (dtype), e.g. 5ms"),
)}
#: The options of the memory and latency limits: how they are measured.
OPTION_KEYS: tuple[str, ...] = ("dtype", "optimizer", "train_batch", "mixed", "device")
#: ``rf_at``: the layer or named block where ``rf`` and ``output_stride`` are measured (default: the output).
RF_AT = "rf_at"
#: ``outputs``: limits per named output, ``{p3: {min_rf: 100}, p5: {max_rf: 900}}``.
OUTPUTS = "outputs"
#: The limits an output takes.
OUTPUT_KEYS: tuple[str, ...] = ("min_rf", "max_rf", "min_output_stride", "max_output_stride")
BUDGET_KEYS: tuple[str, ...] = (*METRICS, RF_AT, *OPTION_KEYS)
#: Keys of one entry of a budgets file: a budget plus per-alternative budgets.
RULE_KEYS: tuple[str, ...] = (*BUDGET_KEYS, OUTPUTS, "alternatives")


class OutputRef(NamedTuple):
    """The output a limit is for: its name, the key path of its name and where it is written (None: CLI)."""

    name: str
    path: KeyPath = ()
    location: Location | None = None


@dataclass(frozen=True)
class Setting:
    """One budget entry: its key, parsed value, where it came from and where it is written (None: CLI);
    ``output``: the named output it limits (None: the model)."""

    key: str
    value: int | tuple[int, int] | str | Fraction | bool
    source: Source
    location: Location | None = None
    output: OutputRef | None = None

    @property
    def budget_key(self) -> str:
        """Its key in a :data:`Budget`: the key, or ``outputs.NAME.KEY`` for an output's limit."""
        return self.key if self.output is None else output_key(self.output.name, self.key)


def output_key(name: str, key: str) -> str:
    """The key of an output's limit in a :data:`Budget` (later budgets override it key by key, as any other)."""
    return f"{OUTPUTS}.{name}.{key}"


Budget = dict[str, Setting]


class OptionError(ValueError):
    """A command-line limit could not be parsed."""

    def __init__(self, key: str, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.key = key
        self.message = message
        self.hint = hint


def _option(key: str, value: Any) -> str | int | bool:
    """The value of a measuring option (:data:`OPTION_KEYS`)."""
    from convcalc.kinds.steps import BYTES
    from convcalc.metrics.memory import OPTIMIZERS

    if key == "mixed":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise UnitError(f"expected true or false, found {describe(value)}")
    if key == "train_batch":
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise UnitError(f"expected a batch size >= 1, found {describe(value)}")
        return value
    if not isinstance(value, str) or not value:
        raise UnitError(f"expected a name, found {describe(value)}")
    choices = {"dtype": tuple(BYTES), "optimizer": OPTIMIZERS}.get(key)
    if choices is not None and value not in choices:
        raise UnitError(f"unknown {key} {value!r}", "one of " + ", ".join(choices))
    return value


def parse_value(key: str, value: Any) -> int | tuple[int, int] | str | Fraction | bool:
    """A budget value, exactly: counts and bytes take SI / binary suffixes, RF limits an int or ``[h, w]``,
    durations a unit (``5ms``); options (:data:`OPTION_KEYS`) their own values.

    Raises :class:`UnitError` (a ``ValueError``) when the value is not acceptable.
    """
    if key == RF_AT:
        if not isinstance(value, str | int) or isinstance(value, bool) or str(value) == "":
            raise UnitError(f"expected a layer or block name, found {describe(value)}")
        return str(value)
    if key in OPTION_KEYS:
        return _option(key, value)
    kind = METRICS[key].kind
    if kind == "duration":
        if isinstance(value, str):
            return parse_duration(value)
        raise UnitError(f"expected a duration such as 5ms, found {describe(value)}", "durations take a unit: "
                                                                                   "s, ms, us or ns")
    if isinstance(value, bool) or value is None:
        raise UnitError(f"expected {'a size such as 512MiB' if kind == 'bytes' else 'a number'}, "
                        f"found {describe(value)}")
    if kind == "pair":
        if isinstance(value, list):
            if len(value) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in value):
                shown = value if len(value) <= 4 and all(isinstance(v, int | str) for v in value) else describe(value)
                raise UnitError(f"expected [h, w] with two integers >= 1, found {shown}")
            return value[0], value[1]
        if isinstance(value, int):
            if value < 1:
                raise UnitError(f"expected an integer >= 1, found {value}")
            return value, value
        if isinstance(value, str):
            return parse_pair(value)
        raise UnitError(f"expected an integer or [h, w], found {describe(value)}", "e.g. 200 or [200, 100]")
    if isinstance(value, float):
        if not value.is_integer():
            raise UnitError(f"{value!r} is not a whole number", "write it as a string, e.g. \"1.5G\"")
        value = int(value)
    if isinstance(value, int):
        if value < 0:
            raise UnitError(f"expected a count >= 0, found {value}")
        return value
    if isinstance(value, str):
        return parse_bytes(value) if kind == "bytes" else parse_count(value)
    raise UnitError(f"expected a number such as 5M, found {describe(value)}")


def parse_budget(raw: Any, path: KeyPath, doc: Document, source: Source, errors: Collector,
                 allowed: tuple[str, ...] = BUDGET_KEYS) -> Budget:
    """The budget mapping at ``path`` of ``doc``; every problem is a located diagnostic in ``errors``."""
    out: Budget = {}
    if raw is None:
        return out
    if not isinstance(raw, dict):
        errors.add(Diagnostic(doc.loc(path), path, f"expected a budget (a mapping such as {{max_params: 5M}}), "
                                                   f"found {describe(raw)}"))
        return out
    for key, value in raw.items():
        kpath = path + (key,)
        if key not in allowed and key != OUTPUTS:
            errors.add(Diagnostic(doc.loc(kpath), kpath, f"unknown budget key {key!r}",
                                  did_you_mean(key, (*allowed, OUTPUTS))))
            continue
        if key == OUTPUTS:
            _parse_outputs(value, kpath, doc, source, errors, out)
            continue
        if key not in BUDGET_KEYS:
            continue  # handled by the caller (``alternatives`` of a budgets file)
        try:
            out[key] = Setting(key, parse_value(key, value), source, doc.loc(kpath))
        except UnitError as exc:
            errors.add(Diagnostic(doc.loc(kpath), kpath, exc.message, exc.hint))
    return out


def _parse_outputs(raw: Any, path: KeyPath, doc: Document, source: Source, errors: Collector, out: Budget) -> None:
    """``outputs: {NAME: {min_rf: …}}`` into ``out`` (the names are checked against the model's outputs when
    it is checked: :func:`convcalc.ci.limits.unknown_outputs`)."""
    if not isinstance(raw, dict):
        errors.add(Diagnostic(doc.loc(path), path, "expected a mapping from output names to their limits, such as "
                                                   f"{{p3: {{min_rf: 100}}}}, found {describe(raw)}"))
        return
    for name, limits in raw.items():
        npath = path + (name,)
        if not isinstance(limits, dict):
            errors.add(Diagnostic(doc.loc(npath), npath, f"expected the limits of output {str(name)!r} (a mapping "
                                                         f"such as {{min_rf: 100}}), found {describe(limits)}"))
            continue
        ref = OutputRef(str(name), npath, doc.loc(npath))
        for key, value in limits.items():
            kpath = npath + (key,)
            if key not in OUTPUT_KEYS:
                hint = did_you_mean(str(key), OUTPUT_KEYS)
                if key in METRICS or key == RF_AT:
                    hint = f"{key} limits the whole model: put it beside `outputs:`; an output takes " + \
                        ", ".join(OUTPUT_KEYS)
                errors.add(Diagnostic(doc.loc(kpath), kpath, f"unknown limit {key!r} for an output", hint))
                continue
            try:
                s = Setting(key, parse_value(key, value), source, doc.loc(kpath), ref)
            except UnitError as exc:
                errors.add(Diagnostic(doc.loc(kpath), kpath, exc.message, exc.hint))
                continue
            out[s.budget_key] = s


def parse_cli(values: Mapping[str, str | Sequence[str] | None]) -> Budget:
    """Limits given on the command line (``{"max_params": "5M", "min_rf": ["200", "p3=100x80"], ...}``; None =
    not given). The limits of :data:`OUTPUT_KEYS` take a list: ``N`` or ``HxW`` for the model, ``NAME=N`` or
    ``NAME=HxW`` for one output (repeatable; the last value of each wins)."""
    out: Budget = {}
    for key, given in values.items():
        for value in [given] if isinstance(given, str) or given is None else given:
            if value is None:
                continue
            ref = None
            if key in OUTPUT_KEYS and "=" in value:
                name, _, value = value.partition("=")
                if not name.strip():
                    raise OptionError(key, f"expected NAME=N or NAME=HxW, found {'=' + value!r}",
                                      "e.g. p3=100 (an output's name, then its limit)")
                ref = OutputRef(name.strip())
            try:
                s = Setting(key, parse_value(key, value), "cli", None, ref)
            except UnitError as exc:
                raise OptionError(key, exc.message, exc.hint) from None
            out[s.budget_key] = s
    return out


def budget_schema() -> dict[str, Any]:
    """JSON Schema of a ``budget:`` mapping (for :func:`convcalc.outputs.schema.spec_schema`). Values are checked
    exactly by :func:`parse_value`; the schema gives editors the keys and the value shapes."""
    number = r"^\s*[0-9][0-9_,]*(\.[0-9]*)?([eE][+-]?[0-9]+)?\s*"
    count = {"anyOf": [{"type": "integer", "minimum": 0}, {"type": "string", "pattern": number + r"[kKMGTP]?\s*$"}]}
    size = {"anyOf": [{"type": "integer", "minimum": 0},
                      {"type": "string", "pattern": number + r"(B|[kKMGTP]i?B?)?\s*$"}]}
    pair = {"anyOf": [{"type": "integer", "minimum": 1},
                      {"type": "array", "items": {"type": "integer", "minimum": 1}, "minItems": 2, "maxItems": 2},
                      {"type": "string", "pattern": r"^\s*[0-9]+(\s*[x×,]\s*[0-9]+)?\s*$"}]}
    duration = {"type": "string", "pattern": number + r"(s|ms|us|µs|ns)\s*$"}
    shapes: dict[str, dict[str, Any]] = {"count": count, "bytes": size, "pair": pair, "duration": duration}
    props: dict[str, Any] = {k: shapes[m.kind] | {"description": m.help} for k, m in METRICS.items()}
    props[RF_AT] = {"type": "string", "description": "layer or named block where rf and output_stride are measured"}
    from convcalc.kinds.steps import BYTES
    from convcalc.metrics.memory import OPTIMIZERS

    props["dtype"] = {"enum": list(BYTES), "description": "dtype of the memory and latency limits (fp32)"}
    props["optimizer"] = {"enum": list(OPTIMIZERS), "description": "optimizer of max_train_memory (adamw)"}
    props["train_batch"] = {"type": "integer", "minimum": 1, "description": "batch of max_train_memory"}
    props["mixed"] = {"type": "boolean", "description": "mixed precision for max_train_memory"}
    props["device"] = {"type": "string", "description": "device profile of max_latency_bound"}
    per_output = {"type": "object", "additionalProperties": False, "properties": {k: props[k] for k in OUTPUT_KEYS}}
    props[OUTPUTS] = {"type": "object", "additionalProperties": per_output,
                      "description": "limits of single named outputs: {p3: {min_rf: 100}}"}
    return {"type": "object", "additionalProperties": False, "properties": props}


def budgets_file_schema() -> dict[str, Any]:
    """JSON Schema of a budgets file (``convcalc schema --budgets``): patterns to budgets, each with
    optional per-alternative budgets."""
    budget = budget_schema()
    rule = {"type": "object", "additionalProperties": False,
            "properties": {**budget["properties"],
                           "alternatives": {"type": "object", "additionalProperties": budget,
                                            "description": "budgets of single alternatives, by name"}}}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "convcalc budgets file",
        "description": "Spec paths or globs, relative to this file's directory, mapped to budgets. Later entries "
                       "override earlier ones key by key; across sources (spec, budgets files, command line) the "
                       "strictest limit applies.",
        "type": "object", "additionalProperties": False, "required": ["budgets"],
        "properties": {
            "convcalc": {"const": 1, "description": "format version"},
            "budgets": {"type": "object", "additionalProperties": rule,
                        "description": "pattern → budget; `**` crosses directories, a pattern without `/` matches "
                                       "file names anywhere below this file, `zoo:NAME` names a bundled model"},
        },
    }
