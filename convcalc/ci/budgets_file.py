"""Budgets files: a YAML mapping from spec paths or globs to budgets, governing a folder; and where
``convcalc check`` finds them. Pure: no Typer, no Rich, no printing.

A budgets file maps patterns, relative to the file's own directory, to budgets. ``**`` crosses
directories, ``*`` and ``?`` do not; a pattern without ``/`` matches file names anywhere below the
file's directory; ``zoo:resnet50`` names a bundled model. Within one file, when several patterns match a
spec, later entries override earlier ones key by key (the file reads top to bottom, like .gitattributes).

Discovery: a spec file is governed by every file named ``budgets.yaml`` (or ``budgets.yml``) in its own
directory and in each parent directory up to the repository root (the first directory, walking up, that
holds ``.git``). Outside a repository the walk stops at the current directory when the spec is below it,
otherwise it looks in the spec's own directory only. A budgets file found this way, or found while
checking a directory, governs only the specs below its own directory; one named with ``--budgets``
governs every spec its patterns match.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from convcalc.ci.budget import RULE_KEYS, Budget, parse_budget
from convcalc.ci.collect import SPEC_SUFFIXES
from convcalc.ci.globs import PathPattern
from convcalc.errors import Collector, ConvcalcError, Diagnostic, Location, SpecError
from convcalc.lang.expr_values import describe
from convcalc.lang.spec import did_you_mean
from convcalc.lang.yaml_source import Document

#: Names of the budgets files that discovery looks for, nearest first in each directory.
BUDGETS_NAMES = ("budgets.yaml", "budgets.yml")
BUDGETS_FILE_KEYS = ("convcalc", "budgets")


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
        self._pattern = PathPattern(self.pattern)

    def matches(self, candidates: Sequence[str]) -> bool:
        return any(self._pattern.matches(c) for c in candidates)


@dataclass
class BudgetsFile:
    """A parsed budgets file: its rules in file order, and the problems found in it.

    ``scoped``: it governs only the specs below its own directory (found by discovery or in a checked
    directory), not every spec its patterns match (named with ``--budgets``).
    """

    file: str
    base: Path
    rules: list[Rule]
    errors: ConvcalcError | None = None
    scoped: bool = False

    def candidates(self, spec_file: str) -> list[str]:
        """Names a pattern may match: the path relative to this file's directory, the path as given, and
        for zoo models ``zoo:name`` and ``name``. Empty when a scoped file does not govern the spec."""
        if spec_file.startswith("zoo:"):
            name = spec_file[4:].removesuffix(".yaml")
            return [f"zoo:{name}", name]
        p = Path(spec_file)
        rel = os.path.relpath(p.resolve(), self.base.resolve()) if p.exists() else spec_file
        if self.scoped and (not p.exists() or rel.startswith("..")):
            return []
        return list(dict.fromkeys([Path(rel).as_posix(), p.as_posix()]))

    def budget_for(self, spec_file: str, model: str) -> Budget:
        """The merged budget this file gives a model (later rules override earlier ones)."""
        out: Budget = {}
        cands = self.candidates(spec_file)
        for rule in self.rules:
            if cands and rule.matches(cands):
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
            rule.matched = rule.matched or bool(cands and rule.matches(cands))

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


def parse_budgets_file(doc: Document, scoped: bool = False) -> BudgetsFile:
    """Parse a budgets file. Valid entries are kept; problems are in ``.errors`` (never raised)."""
    errors = Collector()
    base = doc.base_dir if doc.base_dir is not None else Path(".")
    bf = BudgetsFile(doc.file, base, [], scoped=scoped)
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
            path = ("budgets", pattern)
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


def search_stop(start: Path) -> Path:
    """The last directory the budgets search looks in, walking up from ``start`` (see the module doc)."""
    chain = [start, *start.parents]
    for d in chain:
        if (d / ".git").exists():
            return d
    cwd = Path.cwd().resolve()
    return cwd if cwd in chain else start


def discover(spec_file: str) -> list[Path]:
    """The budgets files that govern a spec file, nearest first (see the module doc)."""
    p = Path(spec_file)
    if spec_file.startswith("zoo:") or spec_file == "-" or not p.is_file():
        return []
    here = p.resolve().parent
    stop = search_stop(here)
    found = []
    for d in [here, *here.parents]:
        found += [d / name for name in BUDGETS_NAMES if (d / name).is_file()]
        if d == stop:
            break
    return found


def shown_path(path: Path) -> str:
    """A discovered file as the user would type it: relative to the current directory when below it."""
    try:
        return path.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return path.as_posix()
