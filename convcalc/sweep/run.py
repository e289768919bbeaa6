"""Run a sweep: every configuration of every spec, one row per model (alternative) and configuration. Pure,
typed, exact: no Typer, no Rich, no printing.

Each spec is read once; each configuration is expanded from the loaded document (``parse_spec`` with the
configuration's :class:`~convcalc.lang.spec.Settings`), analysed, measured (the fp32 inference peak of live
tensors, :func:`convcalc.metrics.memory.inference_peak_bytes`) and checked against the spec's budgets
and the given budgets files, exactly as ``convcalc check`` checks them (:func:`convcalc.ci.gate.check_document`).
A configuration that cannot be analysed (a kernel larger than its input at 32 px, a value a parameter does not
take) is a row with its reason, and the sweep goes on.

A sweep is a map of :func:`run_config` over configurations: to run one on an engine of your own, map it
yourself, e.g. ::

    from concurrent.futures import ProcessPoolExecutor, as_completed
    from functools import partial
    from convcalc.sweep import grid, parse_axes, run_config

    configs = grid(parse_axes(["width=0.5:1.5:0.125"], size="128:320:32"))
    with ProcessPoolExecutor() as pool:
        rows = [r for rs in pool.map(partial(run_config, "mobilenet_v2"), configs, chunksize=16) for r in rs]
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from convcalc.ci.budget import Budget
from convcalc.ci.budgets_file import BudgetsFile, discover, parse_budgets_file, shown_path
from convcalc.ci.gate import ModelResult, check_document
from convcalc.ci.limits import Outcome, field_at
from convcalc.errors import ConvcalcError, UsageError, format_path
from convcalc.gcpause import paused_gc
from convcalc.lang.sources import open_source
from convcalc.lang.yaml_source import Document
from convcalc.metrics.analysis import Field
from convcalc.metrics.memory import inference_peak_bytes
from convcalc.sweep.axes import Config

Num = int | Fraction


@dataclass(frozen=True)
class Verdict:
    """One budget limit on one configuration: its label (``max_params``, ``min_rf[h]``), the limit, the
    measured value and whether it holds."""

    label: str
    key: str
    limit: Num
    actual: Num
    passed: bool

    @classmethod
    def of(cls, o: Outcome) -> Verdict:
        return cls(o.label, o.key, o.limit, o.actual, o.passed)


@dataclass(frozen=True)
class Output:
    """One output of a model in one configuration: name, shape (c, h, w), receptive field and stride."""

    name: str
    shape: tuple[int, int, int]
    rf: tuple[Num, Num]
    stride: tuple[Num, Num]


@dataclass(frozen=True)
class SweepRow:
    """One model (alternative) of one spec in one configuration: its figures, or why it could not be analysed
    (``error``; every figure is then None). Figures are at the configuration's batch: ``activations`` is the
    elements of every layer output summed, ``peak_memory`` the fp32 inference peak of live tensors in bytes;
    ``rf`` and ``stride`` are the first output's (all of them in ``outputs``), or the layer's or named block's
    ``rf_at`` names (a budget's ``rf_at``, ``--rf-at``), as ``check`` measures them."""

    source: str
    model: str
    config: Config
    params: int | None = None
    macs: int | None = None
    flops: int | None = None
    activations: int | None = None
    peak_memory: int | None = None
    rf: tuple[Num, Num] | None = None
    stride: tuple[Num, Num] | None = None
    outputs: tuple[Output, ...] = ()
    verdicts: tuple[Verdict, ...] = ()
    #: why it could not be analysed, in one line (the first problem, and how many more)
    error: str | None = None
    #: the whole message: every problem with its ``file:line:col``, key path and hint
    detail: str | None = None
    #: the layer or named block where ``rf`` and ``stride`` are measured (None: the first output)
    rf_at: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def status(self) -> str:
        """``error``, ``fail`` (a budget exceeded), ``pass`` (every budget holds) or ``no_budget``."""
        if self.error is not None:
            return "error"
        if not self.verdicts:
            return "no_budget"
        return "pass" if all(v.passed for v in self.verdicts) else "fail"


def _pair(f: Field, which: str) -> tuple[Num, Num]:
    v = f.size if which == "size" else f.stride
    return v[0], v[1]


def _row(source: str, config: Config, m: ModelResult, peak: int) -> SweepRow:
    r = m.report
    outs = tuple(Output(o.name, o.shape, _pair(o.rf, "size"), _pair(o.rf, "stride")) for o in r.outputs)
    at = field_at(r, m.rf_at) if m.rf_at is not None else r.rf
    assert at is not None  # (check_document reports an rf_at that names nothing)
    return SweepRow(source, m.name, config, r.params, r.macs, r.flops, r.activations, peak,
                    _pair(at, "size"), _pair(at, "stride"), outs, tuple(Verdict.of(o) for o in m.outcomes),
                    rf_at=m.rf_at)


def reason(exc: ConvcalcError) -> str:
    """A failure in one line: the first problem (where, what), and how many more there are."""
    d = exc.diagnostics[0]
    text = (f"{format_path(d.path)}: " if d.path else "") + d.message
    more = exc.total - 1
    return text + (f" (and {more} more)" if more > 0 else "")


@dataclass(frozen=True)
class Target:
    """A spec to sweep: its document, loaded once, and the budgets files that govern it."""

    source: str
    doc: Document
    budgets: tuple[BudgetsFile, ...] = ()


def load_target(source: str, budgets: Sequence[str] = (), find_budgets: bool = True) -> Target:
    """Read a spec (a file or a zoo name) and its budgets files: the ones named, and (``find_budgets``) the
    ``budgets.yaml`` files next to it and above it, as ``convcalc check`` finds them. Raises
    :class:`~convcalc.errors.ConvcalcError` when the spec or a budgets file cannot be read."""
    doc = open_source(source)
    paths = [Path(b) for b in budgets] + (discover(doc.file) if find_budgets else [])
    files = []
    for i, p in enumerate(paths):
        bf = parse_budgets_file(open_source(shown_path(p)), scoped=i >= len(budgets))
        if bf.errors is not None:
            raise bf.errors
        files.append(bf)
    return Target(source, doc, tuple(files))


def evaluate(target: Target, config: Config, cli: Budget | None = None) -> list[SweepRow]:
    """Analyse every model of one spec in one configuration (a row with its reason where it cannot be). The
    cycle collector waits until the rows are made: by then reference counting has freed the configuration's
    graphs and reports (they hold no cycle), so the collector never walks them."""
    with paused_gc():
        return _evaluate(target, config, cli)


def _evaluate(target: Target, config: Config, cli: Budget | None) -> list[SweepRow]:
    result = check_document(target.doc, target.budgets, cli, config.settings)
    if result.error is not None and not result.models:
        if isinstance(result.error, UsageError) and not result.error.diagnostics[0].location.line:
            raise result.error  # not the configuration's fault: an option cannot be modelled
        return [_failed(target, config, result.error)]
    rows = [_row(target.source, config, m, inference_peak_bytes(m.graph)) for m in result.models if m.graph]
    if result.error is not None:  # some models could be analysed, others not
        rows.append(_failed(target, config, result.error))
    return rows


def _failed(target: Target, config: Config, exc: ConvcalcError) -> SweepRow:
    return SweepRow(target.source, _name(target.doc), config, error=reason(exc), detail=exc.render())


def _name(doc: Document) -> str:
    name = doc.data.get("name") if isinstance(doc.data, dict) else None
    return str(name) if isinstance(name, str) else Path(doc.file).stem


@functools.lru_cache(maxsize=8)
def _cached_target(source: str, budgets: tuple[str, ...], find_budgets: bool) -> Target:
    return load_target(source, budgets, find_budgets)


def run_config(source: str, config: Config, budgets: tuple[str, ...] = (), find_budgets: bool = True) -> list[SweepRow]:
    """One configuration of one spec, the spec read once per process (a picklable function to map over an
    engine of your own: see the module docstring)."""
    return evaluate(_cached_target(source, budgets, find_budgets), config)


_TARGETS: Sequence[Target] = ()
_BUDGET: Budget | None = None


def _init(targets: Sequence[Target], budget: Budget | None) -> None:
    """A worker process's targets and command-line limits, sent once."""
    global _TARGETS, _BUDGET
    _TARGETS, _BUDGET = targets, budget


def _chunk(target: int, configs: Sequence[Config]) -> list[SweepRow]:
    return [r for c in configs for r in evaluate(_TARGETS[target], c, _BUDGET)]


Progress = Callable[[int, int], None]


def run_sweep(targets: Sequence[Target], configs: Sequence[Config], jobs: int = 1,
              progress: Progress | None = None, budget: Budget | None = None) -> list[SweepRow]:
    """Every configuration of every target, rows in order (target, then configuration). ``jobs`` > 1 runs
    chunks of configurations in that many processes (each target sent to each once); ``progress(done,
    total)`` is called as configurations finish; ``budget``: limits of the command line's, on every model
    (:func:`convcalc.ci.budget.parse_cli`)."""
    total = len(targets) * len(configs)
    done = 0
    if jobs <= 1 or total <= 1:
        rows: list[SweepRow] = []
        for t in targets:
            for c in configs:
                rows += evaluate(t, c, budget)
                done += 1
                if progress is not None:
                    progress(done, total)
        return rows
    size = max(1, min(32, len(configs) // (jobs * 8)))
    chunks = [(i, configs[k:k + size]) for i in range(len(targets)) for k in range(0, len(configs), size)]
    with ProcessPoolExecutor(max_workers=jobs, initializer=_init, initargs=(tuple(targets), budget)) as pool:
        futures = {pool.submit(_chunk, i, cs): n for n, (i, cs) in enumerate(chunks)}
        results: dict[int, list[SweepRow]] = {}
        for f in as_completed(futures):
            n = futures[f]
            results[n] = f.result()
            done += len(chunks[n][1])
            if progress is not None:
                progress(done, total)
    return [r for n in range(len(chunks)) for r in results[n]]
