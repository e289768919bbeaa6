"""``convcalc diff`` over many specs at once: two directories (files paired by their path below each), or
the specs under some paths against their versions at a git ref (a whole pull request). A file on one side
only is added or removed; YAML files that are not specs (budgets files, data configs) are left out. Pure:
no Typer, no Rich; git is run as a subprocess (``git ls-tree`` and ``git show``), nothing is written.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Sequence
from fractions import Fraction
from pathlib import Path

from convcalc.ci.budgets_file import is_budgets_document
from convcalc.ci.collect import SPEC_SUFFIXES, expand, not_a_spec
from convcalc.ci.diff import NOTHING, DiffRun, DiffSet, diff, diff_documents
from convcalc.errors import ConvcalcError, Diagnostic, Location, UsageError
from convcalc.lang.sources import load_path
from convcalc.lang.spec import Settings
from convcalc.lang.yaml_source import Document, EmptyDocument, load_bytes

Loader = Callable[[], Document | None]


def _is_spec(doc: Document | None) -> bool:
    return doc is not None and not is_budgets_document(doc) and not_a_spec(doc) is None


def _pair(base_name: str, head_name: str, base: Loader | None, head: Loader | None,
          fail_above: Fraction | None, settings: Settings | None = None) -> DiffRun | None:
    """One file's diff, None when neither side is a spec; a side that cannot be read is the file's error."""
    try:
        b = base() if base else None
        h = head() if head else None
    except EmptyDocument:
        b = h = None
    except ConvcalcError as exc:
        return DiffRun(base_name, head_name, (), fail_above, base is not None, head is not None, exc)
    if not (_is_spec(b) or _is_spec(h)):
        return None
    try:
        return diff_documents(b if _is_spec(b) else None, h if _is_spec(h) else None, fail_above,
                              (base_name, head_name), settings)
    except ConvcalcError as exc:
        return DiffRun(base_name, head_name, (), fail_above, b is not None, h is not None, exc)


def _load(path: Path) -> Loader:
    def load() -> Document | None:
        try:
            return load_path(path)
        except EmptyDocument:
            return None
    return load


def diff_directories(base: str, head: str, fail_above: Fraction | None = None,
                     settings: Settings | None = None) -> DiffSet:
    """Every spec below two directories, paired by its path relative to each."""
    def specs(root: str) -> dict[str, Path]:
        return {Path(s.name).relative_to(root).as_posix(): Path(s.name) for s in expand([root]) if s.error is None}

    b, h = specs(base), specs(head)
    files = []
    for rel in sorted(b.keys() | h.keys()):
        bp, hp = b.get(rel), h.get(rel)
        d = _pair(bp.as_posix() if bp else NOTHING, hp.as_posix() if hp else NOTHING,
                  _load(bp) if bp else None, _load(hp) if hp else None, fail_above, settings)
        if d is not None:
            files.append(d)
    return DiffSet(base, head, tuple(files), fail_above)


def _git(args: Sequence[str], ref: str) -> bytes:
    try:
        done = subprocess.run(["git", *args], capture_output=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise _ref_error(ref, f"cannot run git: {exc}") from None
    if done.returncode != 0:
        raise _ref_error(ref, done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:][0]
                         if done.stderr.strip() else f"git {args[0]} failed")
    return done.stdout


def _ref_error(ref: str, message: str) -> UsageError:
    return UsageError([Diagnostic(Location("--base-ref", 0, 0), (), f"{ref}: {message}",
                                  "give a commit, branch or tag that git knows here, e.g. origin/main "
                                  "(run `git fetch` first in a shallow CI checkout)")])


def diff_against_ref(ref: str, paths: Sequence[str] = (".",), fail_above: Fraction | None = None,
                     settings: Settings | None = None) -> DiffSet:
    """Every spec under ``paths`` (files or directories, as in the work tree) against its version at git
    ``ref``: changed, added (not at ``ref``) or removed (at ``ref``, not in the work tree)."""
    paths = list(paths) or ["."]
    try:
        _git(["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], ref)
    except UsageError:
        inside = subprocess.run(["git", "rev-parse", "--is-inside-work-tree"], capture_output=True, check=False)
        raise _ref_error(ref, "not a commit, branch or tag of this repository" if inside.returncode == 0
                         else "not inside a git repository") from None
    listed = _git(["ls-tree", "-r", "--name-only", "-z", ref, "--", *paths], ref).decode("utf-8", "surrogateescape")
    at_ref = {Path(p).as_posix() for p in listed.split("\0") if p.endswith(SPEC_SUFFIXES)}
    here = {Path(s.name).as_posix() for s in expand(paths) if s.error is None and Path(s.name).is_file()}
    files = []
    for rel in sorted(at_ref | here):
        def old(rel: str = rel) -> Document | None:
            return load_bytes(_git(["show", f"{ref}:./{rel}"], ref), f"{ref}:{rel}")
        d = _pair(f"{ref}:{rel}" if rel in at_ref else NOTHING, rel if rel in here else NOTHING,
                  old if rel in at_ref else None, _load(Path(rel)) if rel in here else None, fail_above, settings)
        if d is not None:
            files.append(d)
    return DiffSet(ref, "the work tree", tuple(files), fail_above)


def diff_sources(base: str, head: str, fail_above: Fraction | None = None, stdin: str | None = None,
                 settings: Settings | None = None) -> DiffSet:
    """``convcalc diff BASE HEAD``: two spec sources (files, zoo names, ``-``, ``/dev/null``), or two
    directories."""
    if Path(base).is_dir() and Path(head).is_dir():
        return diff_directories(base, head, fail_above, settings)
    for side in (base, head):
        if Path(side).is_dir():
            raise UsageError([Diagnostic(Location(side, 1, 1), (), "a directory, and the other side is not one",
                                         "diff two files, two directories, or use --base-ref REF with paths")])
    one = diff(base, head, fail_above, stdin, settings)
    return DiffSet(one.base, one.head, (one,), fail_above)
