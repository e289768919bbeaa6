"""Budgets and their check: pure, typed, exact. No Typer, no Rich, no printing.

A budget is a mapping of limits (``max_params: 5M``, ``min_rf: [200, 100]``, …). Budgets come from three
places, and for each key the more specific place wins: the command line over a budgets file over the
spec. In the spec, ``budget:`` at the top level applies to every alternative and an alternative's own
``budget:`` overrides it key by key. A budgets file maps spec paths or globs (relative to the budgets
file's directory) to budgets; when several patterns match, later entries override earlier ones.

Metrics (per model, batch applied, inference pass):

- ``params``, ``macs``, ``flops``: as in ``convcalc show`` (FLOPs = 2·MACs + adds + muls + divs).
- ``activations``: elements of every layer output summed (what a training step keeps for the backward
  pass); ``activation_bytes`` = activations × 4 (float32).
- ``peak_activation``: elements of the largest single layer output; ``peak_activation_bytes`` × 4.
- ``rf``: receptive-field size per axis (h, w) at the model output, or at ``rf_at`` (a layer or named
  block); ``output_stride``: the effective stride (jump) there.
"""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

from convcalc.analysis import Field, Report
from convcalc.collect import SPEC_SUFFIXES, Model, analyze_models, expand, load, source_key
from convcalc.errors import Collector, ConvcalcError, Diagnostic, KeyPath, Location, SpecError
from convcalc.layers import describe
from convcalc.spec import Spec, did_you_mean
from convcalc.units import UnitError, parse_bytes, parse_count, parse_pair
from convcalc.yaml_source import Document

Num = int | Fraction
Source = Literal["spec", "budgets", "cli"]
Bound = Literal["max", "min"]
Kind = Literal["count", "bytes", "pair"]

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
)}
#: ``rf_at``: the layer or named block where ``rf`` and ``output_stride`` are measured (default: the output).
RF_AT = "rf_at"
BUDGET_KEYS: tuple[str, ...] = (*METRICS, RF_AT)
#: Keys of one entry of a budgets file: a budget plus per-alternative budgets.
RULE_KEYS: tuple[str, ...] = (*BUDGET_KEYS, "alternatives")
BUDGETS_FILE_KEYS = ("convcalc", "budgets")


@dataclass(frozen=True)
class Setting:
    """One budget entry: its key, parsed value, where it came from and where it is written (None: CLI)."""

    key: str
    value: int | tuple[int, int] | str
    source: Source
    location: Location | None = None


Budget = dict[str, Setting]


class OptionError(ValueError):
    """A command-line limit could not be parsed."""

    def __init__(self, key: str, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.key = key
        self.message = message
        self.hint = hint


def parse_value(key: str, value: Any) -> int | tuple[int, int] | str:
    """A budget value, exactly: counts and bytes take SI / binary suffixes, RF limits an int or ``[h, w]``.

    Raises :class:`UnitError` (a ``ValueError``) when the value is not acceptable.
    """
    if key == RF_AT:
        if not isinstance(value, str | int) or isinstance(value, bool) or str(value) == "":
            raise UnitError(f"expected a layer or block name, found {describe(value)}")
        return str(value)
    kind = METRICS[key].kind
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
        if key not in allowed:
            errors.add(Diagnostic(doc.loc(kpath), kpath, f"unknown budget key {key!r}", did_you_mean(key, allowed)))
            continue
        if key not in BUDGET_KEYS:
            continue  # handled by the caller (``alternatives`` of a budgets file)
        try:
            out[key] = Setting(key, parse_value(key, value), source, doc.loc(kpath))
        except UnitError as exc:
            errors.add(Diagnostic(doc.loc(kpath), kpath, exc.message, exc.hint))
    return out


def parse_cli(values: Mapping[str, str | None]) -> Budget:
    """Limits given on the command line (``{"max_params": "5M", ...}``; None = not given)."""
    out: Budget = {}
    for key, value in values.items():
        if value is None:
            continue
        try:
            out[key] = Setting(key, parse_value(key, value), "cli")
        except UnitError as exc:
            raise OptionError(key, exc.message, exc.hint) from None
    return out


# --- budgets files ---------------------------------------------------------------------------------------------


def _glob_regex(pattern: str) -> re.Pattern[str]:
    """``**`` crosses directories, ``*`` and ``?`` do not, ``[abc]`` is a class."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[" and "]" in pattern[i + 2:]:
            end = pattern.index("]", i + 2)
            body = pattern[i + 1:end]
            out.append("[" + ("^" + re.escape(body[1:]) if body.startswith("!") else re.escape(body)) + "]")
            i = end + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


@dataclass
class Rule:
    """One entry of a budgets file: a pattern, its budget and per-alternative budgets."""

    pattern: str
    location: Location
    budget: Budget
    alternatives: dict[str, tuple[Budget, Location]]
    matched: bool = False
    used_alternatives: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        p = self.pattern.removeprefix("./")
        if p.endswith("/"):
            p += "**"
        self._basename_only = "/" not in p
        self._regex = _glob_regex(p)

    def matches(self, candidates: Sequence[str]) -> bool:
        for c in candidates:
            if self._regex.match(c.rsplit("/", 1)[-1] if self._basename_only else c):
                return True
        return False


@dataclass
class BudgetsFile:
    """A parsed budgets file: its rules in file order, and the problems found in it."""

    file: str
    base: Path
    rules: list[Rule]
    errors: ConvcalcError | None = None

    def candidates(self, spec_file: str) -> list[str]:
        """Names a pattern may match: the path relative to this file's directory, the path as given, and
        for zoo models ``zoo:name`` and ``name``."""
        if spec_file.startswith("zoo:"):
            name = spec_file[4:].removesuffix(".yaml")
            return [f"zoo:{name}", name]
        p = Path(spec_file)
        rel = os.path.relpath(p.resolve(), self.base.resolve()) if p.exists() else spec_file
        return list(dict.fromkeys([Path(rel).as_posix(), p.as_posix()]))

    def budget_for(self, spec_file: str, model: str) -> Budget:
        """The merged budget this file gives a model (later rules override earlier ones)."""
        out: Budget = {}
        cands = self.candidates(spec_file)
        for rule in self.rules:
            if rule.matches(cands):
                rule.matched = True
                out.update(rule.budget)
                if model in rule.alternatives:
                    rule.used_alternatives.add(model)
                    out.update(rule.alternatives[model][0])
        return out

    def mark(self, spec_file: str) -> None:
        """Note that a spec was checked (a pattern matching only unreadable specs is not unused)."""
        cands = self.candidates(spec_file)
        for rule in self.rules:
            rule.matched = rule.matched or rule.matches(cands)

    def warnings(self) -> list[Diagnostic]:
        """Patterns that matched no spec, and alternatives that matched no model (probably typos)."""
        out = []
        for rule in self.rules:
            if not rule.matched:
                out.append(Diagnostic(rule.location, ("budgets", rule.pattern), "the pattern matches no checked spec",
                                      "patterns are relative to the budgets file's directory"))
                continue
            for name, (_, loc) in rule.alternatives.items():
                if name not in rule.used_alternatives:
                    out.append(Diagnostic(loc, ("budgets", rule.pattern, "alternatives", name),
                                          f"no checked model is named {name!r}"))
        return out


def is_budgets_document(doc: Document) -> bool:
    """A budgets file has a top-level ``budgets:`` mapping and no layers."""
    d = doc.data
    return isinstance(d, dict) and "budgets" in d and "layers" not in d and "alternatives" not in d


def parse_budgets_file(doc: Document) -> BudgetsFile:
    """Parse a budgets file. Valid entries are kept; problems are in ``.errors`` (never raised)."""
    errors = Collector()
    base = doc.base_dir if doc.base_dir is not None else Path(".")
    bf = BudgetsFile(doc.file, base, [])
    top = doc.data
    if not isinstance(top, dict) or "budgets" not in top:
        errors.add(Diagnostic(doc.loc(()), (), "expected a budgets file: a mapping with `budgets:`",
                              "budgets: {\"seed/*.yaml\": {max_params: 5M}}"))
    else:
        for k in top:
            if k not in BUDGETS_FILE_KEYS:
                errors.add(Diagnostic(doc.loc((k,)), (k,), f"unknown key {k!r}", did_you_mean(k, BUDGETS_FILE_KEYS)))
        if "convcalc" in top and top["convcalc"] != 1:
            errors.add(Diagnostic(doc.loc(("convcalc",)), ("convcalc",),
                                  f"unsupported format version {describe(top['convcalc'])}", "only version 1 exists"))
        entries = top["budgets"]
        if not isinstance(entries, dict):
            errors.add(Diagnostic(doc.loc(("budgets",)), ("budgets",),
                                  f"expected a mapping from spec paths or globs to budgets, found {describe(entries)}"))
            entries = {}
        for pattern, raw in entries.items():
            path: KeyPath = ("budgets", pattern)
            budget = parse_budget(raw, path, doc, "budgets", errors, RULE_KEYS)
            alts: dict[str, tuple[Budget, Location]] = {}
            if isinstance(raw, dict) and "alternatives" in raw:
                araw = raw["alternatives"]
                if not isinstance(araw, dict):
                    errors.add(Diagnostic(doc.loc(path + ("alternatives",)), path + ("alternatives",),
                                          "expected a mapping from alternative names to budgets, "
                                          f"found {describe(araw)}"))
                else:
                    for name, b in araw.items():
                        apath = path + ("alternatives", name)
                        alts[str(name)] = (parse_budget(b, apath, doc, "budgets", errors), doc.loc(apath))
            bf.rules.append(Rule(str(pattern), doc.loc(path), budget, alts))
    if errors:
        bf.errors = SpecError(errors.items, errors.count)
    return bf


# --- the check -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """One limit checked on one model (one axis for per-axis limits)."""

    key: str
    axis: str | None
    limit: Num
    actual: Num
    source: Source
    location: Location

    @property
    def metric(self) -> Metric:
        return METRICS[self.key]

    @property
    def label(self) -> str:
        """``max_params``, or ``min_rf[h]`` for one axis."""
        return self.key + (f"[{self.axis}]" if self.axis else "")

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


@dataclass(frozen=True)
class ModelResult:
    """Every limit checked on one model (alternative) of a spec."""

    name: str
    report: Report
    outcomes: tuple[Outcome, ...]
    rf_at: str | None = None

    @property
    def status(self) -> Literal["pass", "fail", "no_budget"]:
        if not self.outcomes:
            return "no_budget"
        return "pass" if all(o.passed for o in self.outcomes) else "fail"

    @property
    def violations(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.passed]


@dataclass(frozen=True)
class SpecResult:
    """One spec file (or zoo name): its models' results, or why it could not be checked."""

    file: str
    models: tuple[ModelResult, ...] = ()
    error: ConvcalcError | None = None

    @property
    def status(self) -> Literal["pass", "fail", "no_budget", "error"]:
        if self.error is not None:
            return "error"
        statuses = {m.status for m in self.models}
        return "fail" if "fail" in statuses else "pass" if "pass" in statuses else "no_budget"


@dataclass
class CheckRun:
    """The result of one ``convcalc check``: every spec, every budgets file, and warnings."""

    specs: list[SpecResult]
    budget_files: list[BudgetsFile] = field(default_factory=list)
    warnings: list[Diagnostic] = field(default_factory=list)
    require_budget: bool = False

    @property
    def models(self) -> list[tuple[SpecResult, ModelResult]]:
        return [(s, m) for s in self.specs for m in s.models]

    @property
    def errors(self) -> list[tuple[str, ConvcalcError]]:
        """Files that could not be read or checked (specs and budgets files)."""
        out = [(b.file, b.errors) for b in self.budget_files if b.errors is not None]
        return out + [(s.file, s.error) for s in self.specs if s.error is not None]

    def unbudgeted_fails(self, m: ModelResult) -> bool:
        return self.require_budget and m.status == "no_budget"

    @property
    def exit_code(self) -> int:
        """0 every limit holds, 1 a limit is exceeded (or a model has none with ``require_budget``), 2 a
        spec or budgets file could not be read or checked."""
        if self.errors:
            return 2
        if any(m.status == "fail" or self.unbudgeted_fails(m) for _, m in self.models):
            return 1
        return 0

    def counts(self) -> dict[str, int]:
        outcomes = [o for _, m in self.models for o in m.outcomes]
        return {
            "specs": len(self.specs),
            "models": len(self.models),
            "checks": len(outcomes),
            "passed": sum(o.passed for o in outcomes),
            "failed": sum(not o.passed for o in outcomes),
            "errors": len(self.errors),
            "unbudgeted": sum(m.status == "no_budget" for _, m in self.models),
        }


def metric_value(r: Report, metric: str, rf: Field) -> Num | tuple[Num, Num]:
    """The actual value of a metric on a report (``rf`` and ``output_stride`` measured on ``rf``)."""
    values: dict[str, Num | tuple[Num, Num]] = {
        "params": r.params, "macs": r.macs, "flops": r.flops,
        "activations": r.activations, "activation_bytes": r.activations * BYTES_PER_ELEMENT,
        "peak_activation": r.peak_activation, "peak_activation_bytes": r.peak_activation * BYTES_PER_ELEMENT,
        "rf": rf.size, "output_stride": rf.stride,
    }
    return values[metric]


def field_at(r: Report, name: str | None) -> Field | None:
    """The receptive field at the model output, or at a layer or named block."""
    if name is None:
        return r.rf
    for row in r.layers:
        if row.name == name:
            return row.rf
    for b in r.blocks:
        if b.name == name:
            return b.rf
    return None


def evaluate(r: Report, budget: Budget, anchor: Location, rf_field: Field) -> tuple[Outcome, ...]:
    """Check every limit of ``budget`` on ``r`` (CLI limits are located at ``anchor``)."""
    out = []
    for key in METRICS:
        s = budget.get(key)
        if s is None:
            continue
        actual = metric_value(r, METRICS[key].metric, rf_field)
        loc = s.location or anchor
        if isinstance(actual, tuple):
            assert isinstance(s.value, tuple)
            out += [Outcome(key, axis, s.value[i], actual[i], s.source, loc) for i, axis in enumerate("hw")]
        else:
            assert isinstance(s.value, int)
            out.append(Outcome(key, None, s.value, actual, s.source, loc))
    return tuple(out)


def _anchor(spec: Spec, model: Model) -> Location:
    """Where a command-line limit points in a spec: the model's ``budget:``, the spec's, else the model."""
    doc = spec.doc
    if model.spec.budget is not None:
        return doc.loc(model.spec.budget_path)
    if spec.budget is not None:
        return doc.loc(("budget",))
    return doc.loc(model.spec.path[:-1])


def check_document(doc: Document, files: Sequence[BudgetsFile] = (), cli: Budget | None = None) -> SpecResult:
    """Check one spec document against its own budgets, the budgets files' and the command line's."""
    spec_budgets: list[Budget] = []

    def parse_budgets(spec: Spec, errors: Collector) -> None:
        top = parse_budget(spec.budget, ("budget",), doc, "spec", errors)
        for m in spec.models:
            own = parse_budget(m.budget, m.budget_path, doc, "spec", errors) if m.budget_path != ("budget",) else {}
            spec_budgets.append({**top, **own})

    try:
        spec, models = analyze_models(doc, parse_budgets)
    except ConvcalcError as exc:
        return SpecResult(doc.file, error=exc)
    except (RecursionError, MemoryError) as exc:  # a safety net: the loader's limits should stop these first
        return SpecResult(doc.file, error=SpecError([Diagnostic(
            doc.loc(()), (), f"the spec is too large or too deeply nested to analyse ({type(exc).__name__})")]))
    results = []
    problems = Collector()
    for model, own in zip(models, spec_budgets, strict=True):
        budget = dict(own)
        for f in files:
            budget.update(f.budget_for(doc.file, model.spec.name))
        budget.update(cli or {})
        anchor = _anchor(spec, model)
        rf_at = budget.get(RF_AT)
        name = str(rf_at.value) if rf_at is not None else None
        rf_field = field_at(model.report, name)
        if rf_field is None:
            assert rf_at is not None
            names = [row.name for row in model.report.layers] + [b.name for b in model.report.blocks]
            where = "--rf-at" if rf_at.source == "cli" else "rf_at"
            problems.add(Diagnostic(rf_at.location or anchor, ("budget", RF_AT),
                                    f"{where}: model {model.spec.name!r} has no layer or block named {name!r}",
                                    did_you_mean(str(name), names)))
            continue
        results.append(ModelResult(model.spec.name, model.report, evaluate(model.report, budget, anchor, rf_field),
                                   name))
    if problems:
        return SpecResult(doc.file, tuple(results), SpecError(problems.items, problems.count))
    return SpecResult(doc.file, tuple(results))


def governed(bf: BudgetsFile) -> list[str]:
    """The spec files (and ``zoo:`` models) a budgets file's patterns name, in file order."""
    out: list[str] = []
    for rule in bf.rules:
        p = rule.pattern.removeprefix("./")
        if p.startswith("zoo:"):
            if not set(p) & set("*?["):
                out.append(p[4:])
            continue
        p = p + "**" if p.endswith("/") else p
        p = p if "/" in p else "**/" + p
        for m in sorted(glob.glob(p, root_dir=bf.base, recursive=True)):
            path = bf.base / m
            if m.endswith(SPEC_SUFFIXES) and path.is_file():
                out.append(path.as_posix())
    return out


def check(inputs: Sequence[str], budgets: Iterable[str] = (), cli: Budget | None = None,
          require_budget: bool = False) -> CheckRun:
    """Check specs (files, directories, globs, zoo names) against their budgets; every spec is checked even
    when others fail.

    ``budgets`` are budgets files. A budgets file among the inputs (a YAML file with a top-level
    ``budgets:`` and no layers, also when found in a directory) is applied too, and the specs it names are
    checked with the inputs. Without inputs, the specs the ``budgets`` files name are checked.
    """
    explicit = {source_key(name): name for name in budgets}
    files = {key: _budgets_file(name) for key, name in explicit.items()}
    found: dict[str, BudgetsFile] = {}
    docs: dict[str, tuple[str, Document | ConvcalcError]] = {}

    def add(name: str, error: ConvcalcError | None = None) -> None:
        key = source_key(name)
        if key in explicit or key in found or key in docs:
            return
        loaded = error or _load(name)
        if isinstance(loaded, Document) and is_budgets_document(loaded):
            found[key] = bf = parse_budgets_file(loaded)
            for spec_file in governed(bf):
                add(spec_file)
        else:
            docs[key] = (name, loaded)

    for src in expand(inputs):
        add(src.name, src.error)
    if not inputs:
        for bf in files.values():
            for spec_file in governed(bf):
                add(spec_file)
    # budgets files found among the inputs first, so that the ones named with --budgets override them
    ordered = [*found.values(), *files.values()]
    run = CheckRun([], ordered, require_budget=require_budget)
    for name, d in docs.values():
        if isinstance(d, Document):
            run.specs.append(check_document(d, ordered, cli))
        else:
            run.specs.append(SpecResult(name, error=d))
        for f in ordered:
            f.mark(name)
    for f in ordered:
        if f.errors is None:
            run.warnings += f.warnings()
    return run


def _budgets_file(name: str) -> BudgetsFile:
    d = _load(name)
    return parse_budgets_file(d) if isinstance(d, Document) else BudgetsFile(name, Path("."), [], d)


def _load(name: str) -> Document | ConvcalcError:
    try:
        return load(name)
    except ConvcalcError as exc:
        return exc


def budget_schema() -> dict[str, Any]:
    """JSON Schema of a ``budget:`` mapping (for :func:`convcalc.schema.spec_schema`). Values are checked
    exactly by :func:`parse_value`; the schema gives editors the keys and the value shapes."""
    number = r"^\s*[0-9][0-9_,]*(\.[0-9]*)?([eE][+-]?[0-9]+)?\s*"
    count = {"anyOf": [{"type": "integer", "minimum": 0}, {"type": "string", "pattern": number + r"[kKMGTP]?\s*$"}]}
    size = {"anyOf": [{"type": "integer", "minimum": 0},
                      {"type": "string", "pattern": number + r"(B|[kKMGTP]i?B?)?\s*$"}]}
    pair = {"anyOf": [{"type": "integer", "minimum": 1},
                      {"type": "array", "items": {"type": "integer", "minimum": 1}, "minItems": 2, "maxItems": 2},
                      {"type": "string", "pattern": r"^\s*[0-9]+(\s*[x×,]\s*[0-9]+)?\s*$"}]}
    props: dict[str, Any] = {k: {"count": count, "bytes": size, "pair": pair}[m.kind] | {"description": m.help}
                             for k, m in METRICS.items()}
    props[RF_AT] = {"type": "string", "description": "layer or named block where rf and output_stride are measured"}
    return {"type": "object", "additionalProperties": False, "properties": props}
