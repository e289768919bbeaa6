"""The folders show the architecture, and imports go one way (docs/architecture.md)."""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parent.parent / "convcalc"

#: Layers, lowest first: a module may import only from its own layer and the ones before it.
LAYERS = [
    {"convcalc.errors", "convcalc.units", "convcalc.gcpause", "convcalc.zoo", "convcalc"},
    {"convcalc.lang.yaml_source", "convcalc.lang.expr", "convcalc.lang.expr_values", "convcalc.lang.expr_functions",
     "convcalc.lang.hints"},
    {"convcalc.kinds"},
    {"convcalc.lang"},
    {"convcalc.graph"},
    {"convcalc.metrics"},
    {"convcalc.ci"},
    {"convcalc.sweep"},
    {"convcalc.outputs", "convcalc.torch_export"},
    {"convcalc.cli", "convcalc.__main__"},
]
#: Documented exceptions: the graph runs the metric passes on what it built (and asks the receptive-field
#: pass whether a residual body changed the stride).
ALLOWED = {("convcalc.graph", "convcalc.metrics.cost"), ("convcalc.graph", "convcalc.metrics.receptive")}


def layer_of(module: str) -> int:
    best, found = -1, 0
    for i, names in enumerate(LAYERS):
        for n in names:
            if (module == n or module.startswith(n + ".")) and len(n) > best:
                best, found = len(n), i
    return found


def imports(path: Path) -> set[str]:
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("convcalc") \
                and node.level == 0:
            out.add(node.module)
            out.update(f"{node.module}.{a.name}" for a in node.names
                       if (PKG.parent / (node.module + "." + a.name).replace(".", "/")).with_suffix(".py").exists())
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("convcalc"))
    return out


def module_name(path: Path) -> str:
    rel = path.relative_to(PKG.parent).with_suffix("")
    parts = list(rel.parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_imports_go_one_way() -> None:
    wrong = []
    for path in PKG.rglob("*.py"):
        me = module_name(path)
        if me == "convcalc":  # the package's facade: lazy re-exports of the library's entry points
            continue
        for target in imports(path):
            if layer_of(target) > layer_of(me) and not any(me.startswith(a) and target.startswith(b)
                                                           for a, b in ALLOWED):
                wrong.append(f"{me} imports {target}")
    assert not wrong, "\n".join(sorted(wrong))


def test_the_folders_are_the_parts() -> None:
    folders = {p.name for p in PKG.iterdir() if p.is_dir() and not p.name.startswith("__")}
    assert {"lang", "kinds", "graph", "metrics", "ci", "sweep", "outputs", "cli", "zoo"} <= folders
    flat = {p.name for p in PKG.glob("*.py")}
    assert flat <= {"__init__.py", "__main__.py", "errors.py", "units.py", "gcpause.py", "torch_export.py"}
