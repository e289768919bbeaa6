"""``include:``: block libraries from other files, loaded safely.

A spec (or an included file) lists relative paths: ``include: [blocks/mbconv.yaml]``. Each path is resolved
against the directory of the file that names it and must stay inside the directory tree of the spec being
read (no absolute paths, no ``..`` past it, no symbolic link out of it). A file included twice is read
once; a cycle is an error naming the chain. Every problem is located in the file where it is. Included
files hold named blocks (``blocks:``) and may include others; nothing else.
"""

from __future__ import annotations

from pathlib import Path

from convcalc.errors import Collector, ConvcalcError, Diagnostic, KeyPath
from convcalc.lang.expr_values import describe
from convcalc.lang.hints import did_you_mean
from convcalc.lang.yaml_source import Document, load_file

#: The keys an included file may have.
INCLUDED_KEYS = ("convcalc", "description", "include", "blocks")
#: Most files one spec may include, directly or not.
MAX_INCLUDES = 100


def included(doc: Document, errors: Collector) -> list[Document]:
    """Every file ``doc`` includes, directly or through others, in the order first named."""
    data = doc.data if isinstance(doc.data, dict) else {}
    if "include" not in data:
        return []
    if doc.base_dir is None:
        errors.add(Diagnostic(doc.loc(("include",)), ("include",), "include: needs a spec file to be relative to",
                              "a bundled model or a spec read from text cannot include files"))
        return []
    root = doc.base_dir.resolve()
    out: list[Document] = []
    seen: set[Path] = set()
    _visit(doc, root, (_real(doc),), seen, out, errors)
    return out


def _real(doc: Document) -> Path:
    return Path(doc.file).resolve()


def _err(doc: Document, path: KeyPath, message: str, hint: str, errors: Collector) -> None:
    errors.add(Diagnostic(doc.loc(path), path, message, hint))


def _visit(doc: Document, root: Path, stack: tuple[Path, ...], seen: set[Path], out: list[Document],
           errors: Collector) -> None:
    if not isinstance(doc.data, dict) or "include" not in doc.data:
        return
    raw = doc.data["include"]
    items = raw if isinstance(raw, list) else [raw]
    for i, item in enumerate(items):
        path: KeyPath = ("include", i) if isinstance(raw, list) else ("include",)
        if not isinstance(item, str) or not item.strip():
            _err(doc, path, f"expected a relative path to a YAML file, found {describe(item)}",
                 "e.g. include: [blocks/mbconv.yaml]", errors)
            continue
        if Path(item).is_absolute():
            _err(doc, path, f"expected a relative path, found the absolute path {item!r}",
                 "include files from the spec's own directory tree", errors)
            continue
        assert doc.base_dir is not None
        target = (doc.base_dir / item).resolve()
        if not target.is_relative_to(root):
            _err(doc, path, f"{item!r} is outside the spec's directory {str(root)!r}",
                 "include only files inside the spec's directory tree (no '..' past it, no link out of it)", errors)
            continue
        if target in stack:
            chain = " → ".join(p.name for p in (*stack[stack.index(target):], target))
            _err(doc, path, f"include cycle: {chain}", "remove one of these includes", errors)
            continue
        if target in seen:
            continue
        if len(seen) >= MAX_INCLUDES:
            _err(doc, path, f"more than {MAX_INCLUDES} included files (the limit)", "", errors)
            return
        seen.add(target)
        try:
            inc = load_file(doc.base_dir / item)  # named as the user would write it; checked as resolved
        except ConvcalcError as exc:
            for d in exc.diagnostics:
                errors.add(d)
            continue
        if not isinstance(inc.data, dict):
            _err(inc, (), f"expected an included file of named blocks (a mapping), found {describe(inc.data)}",
                 "an included file has `blocks:` (and may `include:` others)", errors)
            continue
        for key in inc.data:
            if key not in INCLUDED_KEYS:
                _err(inc, (key,), f"unknown key {key!r} in an included file", did_you_mean(str(key), INCLUDED_KEYS)
                     or "an included file holds named blocks (`blocks:`) and may include others", errors)
        out.append(inc)
        _visit(inc, root, (*stack, target), seen, out, errors)
