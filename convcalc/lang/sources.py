"""Where a spec comes from: a file path (a convcalc spec, an Ultralytics model YAML, a Darknet ``.cfg``), or the
name of a model in the bundled zoo."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from convcalc.errors import Diagnostic, Location, SpecError, UsageError
from convcalc.lang.darknet import looks_like_darknet
from convcalc.lang.hints import did_you_mean, directory_hint
from convcalc.lang.yaml_source import Document, load_bytes, read_limited


def zoo_names() -> list[str]:
    """Names of the bundled zoo models: each plain file, and each variant of a family file."""
    from convcalc.zoo import VARIANTS

    root = resources.files("convcalc") / "zoo"
    files = {p.name[:-5] for p in root.iterdir() if p.name.endswith(".yaml")}
    return sorted((files - set(VARIANTS.values())) | set(VARIANTS))


def zoo_document(name: str) -> Document:
    """Load a bundled zoo model by name (a variant of a family file: that file, with the variant chosen)."""
    from convcalc.zoo import VARIANTS

    stem = VARIANTS.get(name, name)
    data = (resources.files("convcalc") / "zoo" / f"{stem}.yaml").read_bytes()
    doc = load_bytes(data, f"zoo:{name}.yaml")  # named by the zoo name, as budgets files match it
    if stem != name:
        doc.variant = name
    return doc


def load_path(path: Path) -> Document:
    """A spec file, or a Darknet ``.cfg`` (by its suffix, or by its content: ``[net]`` first), as a Document."""
    raw = read_limited(path)
    head = raw[:4096].decode("utf-8", "replace")
    if path.suffix.lower() == ".cfg" or not head.lstrip().startswith("{") and looks_like_darknet(head):
        from convcalc.lang.darknet import darknet_bytes

        return darknet_bytes(raw, str(path), path.parent)
    return load_bytes(raw, str(path), path.parent)


def open_source(arg: str) -> Document:
    """A spec file path, or a zoo model name (``resnet50``)."""
    path = Path(arg)
    try:
        exists = path.exists()
        directory = exists and path.is_dir()
    except (OSError, ValueError):  # a name too long for the file system, or a NUL byte: load_file says so
        exists, directory = True, False
    if directory:
        raise SpecError([Diagnostic(Location(arg, 1, 1), (), "is a directory, not a spec file", directory_hint(arg))])
    if exists or arg.endswith((".yaml", ".yml", ".cfg")) or "/" in arg:
        return load_path(path)
    from convcalc.zoo import FAMILIES, VARIANTS

    if arg in VARIANTS or arg not in FAMILIES and (resources.files("convcalc") / "zoo" / f"{arg}.yaml").is_file():
        return zoo_document(arg)
    names = zoo_names()

    if arg in FAMILIES:
        hint = f"{arg} is a family of the zoo: name one of {', '.join(FAMILIES[arg])}"
    else:
        hint = did_you_mean(arg, names) or "run `convcalc zoo` for the bundled models"
    raise UsageError([Diagnostic(Location(arg, 1, 1), (), "no such file, and no zoo model of that name", hint)])
