"""The check behind ``convcalc check``: which limits apply to each model, and whether they hold. Pure,
typed, exact: no Typer, no Rich, no printing.

Limits come from the spec (``budget:`` at the top level for every alternative, overridden key by key by
an alternative's own), from budgets files (see :mod:`convcalc.ci.budgets_file`; within one file later
entries override earlier ones) and from the command line. Across these sources **every limit must
hold**: for each key (and axis) the strictest value applies, whichever source gave it, so no source can
loosen another's limit. The looser limits that were set aside are kept with each outcome, and a
command-line limit that is set aside this way is a warning (it was asked for and does not apply).
``rf_at`` is not a limit: the last source that gives it wins (command line, then budgets files, then
the spec), with a warning when sources disagree.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Literal

from convcalc.ci.budget import OPTION_KEYS, RF_AT, Budget, Setting, parse_budget
from convcalc.ci.budgets_file import (
    BUDGETS_NAMES,
    BudgetsFile,
    discover,
    governed,
    is_budgets_document,
    parse_budgets_file,
    shown_path,
)
from convcalc.ci.collect import Model, analyze_models, expand, load, not_a_spec, source_key
from convcalc.ci.limits import Outcome, evaluate, fields_at, origin, unknown_outputs
from convcalc.errors import Collector, ConvcalcError, Diagnostic, Location, SpecError, UsageError
from convcalc.graph import Graph
from convcalc.graph.names import name_hint
from convcalc.lang.spec import Settings, Spec
from convcalc.lang.yaml_source import Document, EmptyDocument
from convcalc.metrics.analysis import Report
from convcalc.metrics.memory import MemoryOptions, memory_of

Num = int | Fraction


@dataclass(frozen=True)
class ModelResult:
    """Every limit checked on one model (alternative) of a spec."""

    name: str
    report: Report
    outcomes: tuple[Outcome, ...]
    rf_at: str | None = None
    #: the expanded graph (for further passes: a sweep's memory column)
    graph: Graph | None = field(default=None, compare=False, repr=False)
    #: the memory and latency metrics the budgets limit, as measured for them
    measured: Mapping[str, Num] = field(default_factory=dict, compare=False)

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
    warnings: tuple[Diagnostic, ...] = ()

    @property
    def status(self) -> Literal["pass", "fail", "no_budget", "error"]:
        if self.error is not None:
            return "error"
        statuses = {m.status for m in self.models}
        return "fail" if "fail" in statuses else "pass" if "pass" in statuses else "no_budget"


@dataclass
class CheckRun:
    """The result of one ``convcalc check``: every spec, every budgets file, skipped files and warnings."""

    specs: list[SpecResult]
    budget_files: list[BudgetsFile] = field(default_factory=list)
    warnings: list[Diagnostic] = field(default_factory=list)
    require_budget: bool = False
    #: YAML files found in directories or by globs that are not convcalc specs: (file, reason)
    skipped: list[tuple[str, str]] = field(default_factory=list)

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
            "skipped": len(self.skipped),
        }


def _anchor(spec: Spec, model: Model) -> Location:
    """Where a command-line limit points in a spec: the model's ``budget:``, the spec's, else the model."""
    doc = spec.doc
    if model.spec.budget is not None:
        return doc.loc(model.spec.budget_path)
    if spec.budget is not None:
        return doc.loc(("budget",))
    return doc.loc(model.spec.path[:-1])


def _loosened(outcomes: Iterable[Outcome]) -> list[Diagnostic]:
    """A command-line limit that a stricter one overrules: asked for, and not applied."""
    out = []
    for o in outcomes:
        for s in o.set_aside:
            if s.source == "cli":
                flag = origin(s)
                out.append(Diagnostic(o.location, (o.label,), f"{flag} {_shown(o.value_of(s))} is looser than "
                                      f"the {_shown(o.limit)} set here, so it does not apply",
                                      "every limit from every source must hold: the strictest one applies"))
    return out


def _shown(v: int | Fraction) -> str:
    """A limit in a message: an exact integer with separators, a duration in s/ms/µs/ns."""
    from convcalc.units import human_seconds

    return f"{v:,}" if isinstance(v, int) else human_seconds(v, True)


def _rf_at(budgets: Sequence[Budget], anchor: Location) -> tuple[Setting | None, list[Diagnostic]]:
    """The ``rf_at`` that applies (the last source's) and a warning when sources disagree."""
    given = [b[RF_AT] for b in budgets if RF_AT in b]
    if not given:
        return None, []
    used = given[-1]
    others = [s for s in given if s.value != used.value]
    if not others:
        return used, []
    shown = ", ".join(f"{origin(s)}: {s.value!r}" for s in others)
    return used, [Diagnostic(used.location or anchor, ("budget", RF_AT),
                             f"rf_at {used.value!r} from {origin(used)} is used; also given: {shown}",
                             "rf and output_stride limits are all measured at the one rf_at")]


def _options(budgets: Sequence[Budget]) -> dict[str, Setting]:
    """The measuring options that apply (:data:`~convcalc.ci.budget.OPTION_KEYS`): the last source's."""
    out: dict[str, Setting] = {}
    for b in budgets:
        out.update({k: b[k] for k in OPTION_KEYS if k in b})
    return out


def _measured(model: Model, budgets: Sequence[Budget], anchor: Location) -> dict[str, Num]:
    """The memory and latency metrics the budgets limit, measured with their options (nothing is computed for
    a metric no budget limits). Raises :class:`ConvcalcError` (a usage error) for options that cannot be
    modelled or a device that cannot be loaded, located at the option."""
    keys = {k for b in budgets for k in b}
    opts = _options(budgets)
    out: dict[str, Num] = {}
    dtype = str(opts["dtype"].value) if "dtype" in opts else "fp32"
    graph = model.graph
    assert graph is not None
    if "max_peak_memory" in keys:
        out["peak_memory"] = memory_of(graph, MemoryOptions(dtype)).inference_peak_bytes
    if "max_train_memory" in keys:
        given = opts["train_batch"].value if "train_batch" in opts else graph.batch
        assert isinstance(given, int)
        batch = given
        optimizer = str(opts["optimizer"].value) if "optimizer" in opts else "adamw"
        mixed = bool(opts["mixed"].value) if "mixed" in opts else False
        saved, graph.batch = graph.batch, batch
        try:
            out["train_memory"] = memory_of(graph, MemoryOptions(dtype, True, optimizer, mixed)).train_total_bytes
        finally:
            graph.batch = saved
    if "max_latency_bound" in keys:
        if "device" not in opts:
            where = next(b["max_latency_bound"] for b in budgets if "max_latency_bound" in b)
            raise UsageError([Diagnostic(where.location or anchor, ("budget", "max_latency_bound"),
                                         "max_latency_bound needs a device", "add `device: nvidia-a100-sxm4-80gb` "
                                         "(a bundled profile or a YAML file) beside it, or --device")])
        from convcalc.lang.device import load_device
        from convcalc.metrics.roofline import roofline

        out["latency_bound"] = roofline(model.report, load_device(str(opts["device"].value)), dtype).bound_s
    return out


def check_document(doc: Document, files: Sequence[BudgetsFile] = (), cli: Budget | None = None,
                   settings: Settings | None = None) -> SpecResult:
    """Check one spec document against its own budgets, the budgets files' and the command line's."""
    spec_budgets: list[Budget] = []

    def parse_budgets(spec: Spec, errors: Collector) -> None:
        top = parse_budget(spec.budget, ("budget",), doc, "spec", errors)
        for m in spec.models:
            own = parse_budget(m.budget, m.budget_path, doc, "spec", errors) if m.budget_path != ("budget",) else {}
            spec_budgets.append({**top, **own})

    try:
        spec, models = analyze_models(doc, parse_budgets, settings)
    except ConvcalcError as exc:
        return SpecResult(doc.file, error=exc)
    except (RecursionError, MemoryError) as exc:  # a safety net: the loader's limits should stop these first
        return SpecResult(doc.file, error=SpecError([Diagnostic(
            doc.loc(()), (), f"the spec is too large or too deeply nested to analyse ({type(exc).__name__})")]))
    results = []
    problems = Collector()
    warnings: list[Diagnostic] = []
    for model, own in zip(models, spec_budgets, strict=True):
        budgets = [own, *(f.budget_for(doc.file, model.spec.name) for f in files), cli or {}]
        anchor = _anchor(spec, model)
        rf_at, disagree = _rf_at(budgets, anchor)
        warnings += disagree
        name = str(rf_at.value) if rf_at is not None else None
        fields = fields_at(model.report, name)
        if fields is None:
            assert rf_at is not None
            names = [row.name for row in model.report.layers] + [b.name for b in model.report.blocks]
            where = "--rf-at" if rf_at.source == "cli" else "rf_at"
            problems.add(Diagnostic(rf_at.location or anchor, ("budget", RF_AT),
                                    f"{where}: model {model.spec.name!r} has no layer or block named {name!r}",
                                    name_hint(str(name), names)))
            continue
        missing = unknown_outputs(model.report, model.spec.name, budgets, anchor)
        if missing:
            for d in missing:
                problems.add(d)
            continue
        try:
            measured = _measured(model, budgets, anchor)
        except ConvcalcError as exc:
            for d in exc.diagnostics:
                problems.add(d)
            continue
        outcomes = evaluate(model.report, budgets, anchor, fields, measured)
        warnings += _loosened(outcomes)
        results.append(ModelResult(model.spec.name, model.report, outcomes, name, model.graph, measured))
    unique = tuple(dict.fromkeys(warnings))
    if problems:
        return SpecResult(doc.file, tuple(results), SpecError(problems.items, problems.count), unique)
    return SpecResult(doc.file, tuple(results), warnings=unique)


def _inside(path: Path, dirs: Iterable[Path]) -> bool:
    return any(path == d or d in path.parents for d in dirs)


def check(inputs: Sequence[str], budgets: Iterable[str] = (), cli: Budget | None = None,
          require_budget: bool = False, exclude: Sequence[str] = (), find_budgets: bool = True,
          settings: Settings | None = None) -> CheckRun:
    """Check specs (files, directories, globs, zoo names) against their budgets; every spec is checked even
    when others fail.

    ``budgets`` are budgets files, applied to every spec their patterns match; so is a budgets file named
    among the inputs (a YAML file with a top-level ``budgets:`` and no layers), whose specs are checked
    with the inputs. Without inputs, the specs the ``budgets`` files name are checked. ``find_budgets``:
    each spec file is also governed by the ``budgets.yaml`` files found next to it and above it, and by
    those found in checked directories (see :mod:`convcalc.ci.budgets_file`). YAML files found in directories
    or by globs that are not specs are skipped; ``exclude`` patterns leave files out. ``settings``: the
    command line's --set, --size and --batch, applied to every spec.
    """
    explicit: dict[str, BudgetsFile] = {source_key(name): _budgets_file(name) for name in budgets}
    found: dict[str, BudgetsFile] = {}  # named among the inputs, found in directories, or discovered
    docs: dict[str, tuple[str, Document | ConvcalcError]] = {}
    run = CheckRun([], require_budget=require_budget)
    chooses = set(explicit) if not inputs else set()  # budgets files that chose the specs to check

    def add_budgets(key: str, bf: BudgetsFile) -> None:
        found[key] = bf
        for spec_file in governed(bf):
            add(spec_file)

    def add(name: str, error: ConvcalcError | None = None, scanned: bool = False) -> None:
        key = source_key(name)
        if key in explicit or key in found or key in docs:
            return
        loaded = error or _load(name)
        if isinstance(loaded, Document) and is_budgets_document(loaded):
            if scanned and Path(name).name not in BUDGETS_NAMES:
                run.warnings.append(Diagnostic(
                    loaded.loc(()), ("budgets",), "a budgets file found in a checked directory: a check of a single "
                    "spec (as pre-commit runs) does not look for it", f"name it {BUDGETS_NAMES[0]}, or pass it with "
                    "--budgets"))
            if not scanned:
                chooses.add(key)
            add_budgets(key, parse_budgets_file(loaded, scoped=scanned))
        elif scanned and isinstance(loaded, EmptyDocument):
            run.skipped.append((name, "empty"))
        elif isinstance(loaded, Document) and scanned and (why := not_a_spec(loaded)) is not None:
            run.skipped.append((name, why))
        else:
            docs[key] = (name, loaded)

    sources = expand(inputs, exclude)
    for src in sources:
        add(src.name, src.error, src.scanned)
    if not inputs:
        for bf in explicit.values():
            for spec_file in governed(bf):
                add(spec_file)
    if find_budgets:
        for name, _ in list(docs.values()):
            for path in discover(name):
                key = source_key(str(path))
                if key not in explicit and key not in found:
                    d = _load(shown_path(path))
                    found[key] = (parse_budgets_file(d, scoped=True) if isinstance(d, Document)
                                  else BudgetsFile(shown_path(path), path.parent, [], d, scoped=True))
    # the ones found first, so that the ones named with --budgets decide ties and rf_at
    run.budget_files = [*found.values(), *explicit.values()]
    for name, d in docs.values():
        if isinstance(d, Document):
            result = check_document(d, run.budget_files, cli, settings)
            run.specs.append(result)
            run.warnings += result.warnings
        else:
            run.specs.append(SpecResult(name, error=d))
        for f in run.budget_files:
            f.mark(name)
    # an unmatched pattern is a warning only where a whole directory was checked (or the budgets file
    # itself chose the specs): a check of single files (pre-commit) sees only some of them
    dirs = [Path(a).resolve() for a in inputs if Path(a).is_dir()]
    for key, f in [*found.items(), *explicit.items()]:
        whole = key in chooses or (bool(dirs) and not f.scoped) or _inside(f.base.resolve(), dirs)
        if f.errors is None and whole:
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
