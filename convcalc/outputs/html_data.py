"""What the report page shows, gathered once (:func:`collect`): every model of every spec with its report, memory,
the footprint of each output's centre unit and its budgets' verdicts; the page itself is
:func:`convcalc.outputs.html_report.report_page`. Pure: no printing; a spec that cannot be read is kept with its
message."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cached_property

from convcalc.ci.gate import check_document
from convcalc.ci.limits import Outcome
from convcalc.errors import ConvcalcError
from convcalc.lang.sources import open_source
from convcalc.lang.spec import Settings
from convcalc.metrics.analysis import Comparison, Report, compare
from convcalc.metrics.footprint import Footprint, footprint
from convcalc.metrics.memory import MemoryOptions, memory_of


@dataclass(frozen=True)
class ModelPage:
    """One model of the page: its report (with the fp32 inference memory), the spec it came from (as given), the
    footprint of each output's centre unit (output name, footprint), and its budgets' verdicts (none: no budget)."""

    report: Report
    source: str
    footprints: tuple[tuple[str, Footprint], ...] = ()
    outcomes: tuple[Outcome, ...] = ()


@dataclass(frozen=True)
class Page:
    """Everything on one report page: the specs asked for, their models, the specs that could not be read
    (source, message), warnings, and the command line's settings."""

    sources: tuple[str, ...]
    models: tuple[ModelPage, ...]
    errors: tuple[tuple[str, str], ...] = ()
    warnings: tuple[str, ...] = ()
    settings: Settings | None = None

    @cached_property
    def comparison(self) -> Comparison | None:
        """The models side by side (ratios against the first), or None without any."""
        return compare([m.report for m in self.models]) if self.models else None

    def label(self, k: int) -> str:
        """The display name of model ``k`` (qualified where two share a name, as ``compare`` shows it)."""
        c = self.comparison
        assert c is not None
        return c.labels[k]


def collect(sources: Sequence[str], settings: Settings | None = None) -> Page:
    """Read, analyse and check each spec (a file or a zoo name) against its own budgets, with the command line's
    ``settings`` (``--set``, ``--size``, ``--batch``); the specs that cannot be read are listed with their message."""
    models: list[ModelPage] = []
    errors: list[tuple[str, str]] = []
    warnings: list[str] = []
    for source in sources:
        try:
            doc = open_source(source)
        except ConvcalcError as exc:
            errors.append((source, exc.render()))
            continue
        result = check_document(doc, (), None, settings)
        if result.error is not None:
            errors.append((source, result.error.render()))
        warnings += [d.render() for d in result.warnings]
        for m in result.models:
            report = m.report
            warnings += [f"{report.name}: {w}" for w in report.warnings]
            fps: list[tuple[str, Footprint]] = []
            if m.graph is not None:
                report = replace(report, memory=memory_of(m.graph, MemoryOptions()))
                fps = [(o.name, footprint(m.graph, o.name)) for o in report.outputs]
            models.append(ModelPage(report, source, tuple(fps), m.outcomes))
    return Page(tuple(sources), tuple(models), tuple(errors), tuple(dict.fromkeys(warnings)), settings)
