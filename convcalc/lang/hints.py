"""Hints for the common mistakes in any spec text: a near-miss key, keys indented one level too little,
tabs, an input size written as text, a path of branches that is not a list, a directory for a file.
(The names of layer kinds other tools use are in :mod:`convcalc.kinds.aliases`.) Plain functions of plain
data, no I/O but :func:`directory_hint` listing a directory.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Collection, Mapping
from typing import Any


def did_you_mean(word: str, options: Any) -> str:
    """A 'did you mean' hint for a misspelled key or kind, or a list of the valid ones."""
    opts = sorted(str(o) for o in options)
    close = difflib.get_close_matches(word, opts, n=1, cutoff=0.6)
    if close:
        return f"did you mean {close[0]!r}?"
    if len(opts) <= 12:
        return "expected one of: " + ", ".join(opts)
    return ""


def misplaced(m: Mapping[str, Any], arguments: Mapping[str, Collection[str]],
              own: Collection[str] = ()) -> tuple[str, list[str]] | None:
    """A key of ``m`` with no value (null) beside keys that are its arguments (YAML read them one level too
    high): that key and the keys to move under it. ``own``: the keys that belong beside it (these stay, and
    then only its arguments move)."""
    for key, value in m.items():
        allowed = arguments.get(key)
        if value is not None or not allowed:
            continue
        moved = [k for k in m if k != key and k not in own and (k in allowed or not own)]
        if any(k in allowed for k in moved):
            return key, moved
    return None


def indent_hint(found: tuple[str, list[str]]) -> str:
    """``indent `out`, `kernel` under `conv:` (by two more spaces)``."""
    key, moved = found
    return f"indent {', '.join(f'`{k}`' for k in moved)} under `{key}:` (by two more spaces)"


def paths_hint(path: tuple[str | int, ...], found: Any) -> str:
    """The hint for a path of a branches block that is not a list of layers."""
    if len(path) < 2 or path[-2] != "paths":
        return ""
    example = "e.g. paths: [[conv: {out: 64, kernel: 1}], [relu]]"
    if isinstance(found, str) and found:
        return f"each path is a list of layers: write [{found}] for a path of one layer, e.g. " \
               f"paths: [[{found}], [conv: {{out: 64, kernel: 1}}]]"
    if isinstance(found, dict) and len(found) == 1:
        return f"each path is a list of layers: write [{next(iter(found))}: {{...}}] for a path of one layer, {example}"
    return f"each path is a list of layers, {example}"


_PAIR_TEXT = re.compile(r"\[?([0-9]{1,30})(?: *[x×X*,] *| +)([0-9]{1,30})\]?")
_INT_TEXT = re.compile(r"[0-9]{1,30}")


def size_text_hint(value: object, key: str = "size") -> str:
    """``224x224`` (text) -> ``write size: [224, 224]``; ``'224'`` -> the number without quotes; else ''."""
    if not isinstance(value, str) or len(value) > 80:
        return ""
    text = value.strip()
    m = _PAIR_TEXT.fullmatch(text)
    if m:
        return f"write {key}: [{int(m[1])}, {int(m[2])}] (height, width)"
    return f"write {key}: {int(text)} (a number, without quotes)" if _INT_TEXT.fullmatch(text) else ""


_LINE_BREAK = re.compile(r"\r\n|[\r\n\x85\u2028\u2029]")


def _tab_column(row: str) -> int:
    """1-based column of the first tab in the indentation of ``row``, or 0."""
    indent = row[: len(row) - len(row.lstrip(" \t"))]
    return indent.index("\t") + 1 if "\t" in indent else 0


def tab_indentation(text: str, line: int, problem: str) -> tuple[int, int, str] | None:
    """Line, column and hint of the tab that caused a YAML error on ``line`` (1-based): a tab in that line's
    indentation, or (when the error is about a tab) in the nearest line above. None if no tab is to blame."""
    rows = _LINE_BREAK.split(text)
    tabbed = [n for n, row in enumerate(rows, 1) if _tab_column(row)]
    here = [n for n in tabbed if n == line] or [n for n in tabbed if n < line and "tab" in problem][-1:]
    if not here:
        return None
    n = here[0]
    hint = "indent with spaces"
    if len(tabbed) > 1:
        shown = ", ".join(map(str, tabbed[:-1])) + f" and {tabbed[-1]}" if len(tabbed) <= 8 else \
            ", ".join(map(str, tabbed[:8])) + f" and {len(tabbed) - 8} more"
        hint += f" (lines {shown} are indented with tabs)"
    return n, _tab_column(rows[n - 1]), hint


def _spec_files(directory: str) -> list[str]:
    """The spec files directly in ``directory`` (names, sorted, hidden ones and budgets files skipped)."""
    try:
        return sorted(e.name for e in os.scandir(directory)
                      if e.name.endswith((".yaml", ".yml")) and not e.name.startswith(".") and e.is_file()
                      and e.name not in ("budgets.yaml", "budgets.yml"))
    except OSError:
        return []


def _looks_like_spec(path: str) -> bool:
    """Whether a YAML file has a spec's ``layers:`` or ``alternatives:`` at its top level (not, say, a device
    profile); reads at most 64 KiB."""
    import re

    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            head = fh.read(65536)
    except OSError:
        return False
    return re.search(r"^(layers|alternatives):", head, re.M) is not None


def directory_hint(arg: str) -> str:
    """The hint for a directory given where one spec file is expected: name one file in it (or in the first
    directory below it that has some), or compare them all with a glob."""
    base = arg.rstrip("/\\") or arg
    names = _spec_files(arg)
    if not names:  # e.g. specs/: the first directory below with spec files (a bounded look)
        for n, (dirpath, dirnames, _) in enumerate(os.walk(arg)):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            if n > 200:
                break
            names = _spec_files(dirpath)
            if names and _looks_like_spec(os.path.join(dirpath, names[0])):
                base = dirpath.rstrip("/\\")
                break
            names = []
    if not names:
        return "name a spec file (this directory has no *.yaml or *.yml files)"
    ext = ".yaml" if any(n.endswith(".yaml") for n in names) else ".yml"
    return f"show and rf take one spec file, e.g. {base}/{names[0]}; compare takes several: " \
           f"`convcalc compare {base}/*{ext}`"
