"""Many specs in one process: expand files, directories, globs and zoo names; analyse each spec keeping
what the CI commands need besides the reports (the typed spec, and where each layer is defined).

Pure library code: no Typer, no Rich, no printing.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from convcalc.errors import Collector, ConvcalcError, Diagnostic, Location, SpecError, UsageError
from convcalc.gcpause import paused_gc
from convcalc.graph import Graph, build_graph
from convcalc.lang.sources import open_source
from convcalc.lang.spec import ModelSpec, Settings, Spec, parse_spec
from convcalc.lang.yaml_source import Document, load_text
from convcalc.metrics.analysis import Report, report_of

#: File name endings of spec files found in a directory.
SPEC_SUFFIXES = (".yaml", ".yml")
_GLOB_CHARS = frozenset("*?[")


#: Top-level keys of which a spec has at least one. A YAML file found in a directory (or by a glob) that
#: has none of them, or is not a mapping, is not a convcalc spec and is skipped with its reason.
SPEC_KEYS = ("input", "layers", "alternatives", "blocks")


@dataclass(frozen=True)
class Source:
    """One spec to process: a file path or zoo name as shown to the user, or why it cannot be found.

    ``scanned``: found in a directory or by a glob (so it may be some other YAML file), not named.
    """

    name: str
    error: ConvcalcError | None = None
    scanned: bool = False


def not_a_spec(doc: Document) -> str | None:
    """Why a YAML document found in a directory is not a convcalc spec, or None when it may be one."""
    d = doc.data
    if not isinstance(d, dict):
        return f"a YAML {'list' if isinstance(d, list) else 'scalar'}, not a mapping"
    if not any(k in d for k in SPEC_KEYS):
        return "no `input:`, `layers:`, `alternatives:` or `blocks:` key"
    return None


def _usage(arg: str, message: str, hint: str = "") -> UsageError:
    return UsageError([Diagnostic(Location(arg, 1, 1), (), message, hint)])


def _in_directory(root: Path) -> list[Path]:
    """Every ``*.yaml`` / ``*.yml`` below ``root``, sorted, skipping hidden files and directories."""
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        found.extend(Path(dirpath) / f for f in sorted(filenames)
                     if f.endswith(SPEC_SUFFIXES) and not f.startswith("."))
    return found


def source_key(name: str) -> str:
    """Identity of a source for de-duplication: the absolute path, or the zoo name."""
    return os.path.normcase(os.path.abspath(name)) if not name.startswith("zoo:") else name


def expand(args: Sequence[str], exclude: Sequence[str] = ()) -> list[Source]:
    """Spec sources in argument order: a directory means every spec file below it (sorted), a glob
    (``specs/**/*.yaml``) its matches, anything else a file or a zoo model name. Duplicates are dropped,
    and so is every path that an ``exclude`` pattern matches (see :mod:`convcalc.ci.globs`)."""
    from convcalc.ci.globs import PathPattern

    out: list[Source] = []
    seen: set[str] = set()
    excluded = [PathPattern(e, anywhere=True) for e in exclude]

    def add(name: str, scanned: bool) -> None:
        key = source_key(name)
        if key not in seen and not any(e.matches(name) for e in excluded):
            seen.add(key)
            out.append(Source(name, scanned=scanned))

    for arg in args:
        path = Path(arg)
        if path.is_dir():
            files = _in_directory(path)
            if not files:
                out.append(Source(arg, _usage(arg, "no *.yaml or *.yml files in this directory")))
            for f in files:
                add(f.as_posix(), True)
        elif not path.exists() and _GLOB_CHARS & set(arg):
            matches = sorted(m for m in glob.glob(arg, recursive=True) if Path(m).is_file())
            if not matches:
                out.append(Source(arg, _usage(arg, "the pattern matches no file")))
            for m in matches:
                add(Path(m).as_posix(), True)
        else:
            add(arg, False)
    return out


def load(source: str, stdin: str | None = None) -> Document:
    """The document of a spec file or zoo name, or of ``stdin`` text for ``-`` (raises :class:`ConvcalcError`)."""
    if source == "-":
        if stdin is None:
            raise _usage("-", "no standard input to read the spec from")
        return load_text(stdin, "<stdin>")
    return open_source(source)


@dataclass(frozen=True)
class Model:
    """One analysed alternative with its spec entry and the source location of each layer."""

    spec: ModelSpec
    report: Report
    locations: dict[str, Location]
    #: the expanded graph (the memory and latency limits run their passes on it)
    graph: Graph | None = None


def analyze_models(doc: Document, extra: Callable[[Spec, Collector], None] | None = None,
                   settings: Settings | None = None) -> tuple[Spec, list[Model]]:
    """Parse and analyse every alternative of ``doc``; ``extra`` may add its own diagnostics (budgets) to
    the same pass; ``settings``: the command line's --set, --size, --batch. Raises :class:`SpecError` with
    every problem found."""
    with paused_gc():  # many small objects, none in a reference cycle (convcalc.gcpause), as analyze()
        errors = Collector()
        spec = parse_spec(doc, errors, settings)
        graphs = [build_graph(spec, m, errors) for m in spec.models]
        if extra is not None:
            extra(spec, errors)
        errors.raise_if_any(SpecError)
        models = []
        for m, g in zip(spec.models, graphs, strict=True):
            assert g is not None  # no errors were collected
            models.append(Model(m, report_of(g, spec.file), {n.name: n.location for n in g.nodes}, g))
        return spec, models
