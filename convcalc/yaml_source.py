"""YAML text -> plain Python data plus an index from key path to source location.

Only the safe YAML tags (null, bool, int, float, str, seq, map) are accepted; anything else (for
example ``!!python/object``) is an error, never constructed. Duplicate keys are an error naming both
lines. Alias expansion, nesting depth and file size are bounded so hostile input fails fast.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from convcalc.errors import Diagnostic, KeyPath, Location, SpecError

try:  # libyaml's C parser keeps marks (line numbers) and is several times faster
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

#: Largest spec file accepted, in bytes.
MAX_FILE_BYTES = 4 * 1024 * 1024
#: Deepest nesting of mappings and lists accepted.
MAX_DEPTH = 200
#: Most YAML nodes one document may expand to (after aliases are followed).
MAX_NODES = 1_000_000

_SCALAR_TAGS = {
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:str",
}
_CONSTRUCTOR = SafeConstructor()


@dataclass
class Document:
    """Plain data of one YAML file and where each value came from."""

    file: str
    data: Any
    locations: dict[KeyPath, Location] = field(default_factory=dict)
    base_dir: Path | None = None

    def loc(self, path: KeyPath) -> Location:
        """The location of the value at ``path``, or of its nearest located ancestor."""
        while path not in self.locations and path:
            path = path[:-1]
        return self.locations.get(path, Location(self.file, 1, 1))


def _fail(file: str, line: int, col: int, message: str, hint: str = "") -> SpecError:
    return SpecError([Diagnostic(Location(file, line, col), (), message, hint)])


def load_text(text: str, file: str = "<string>", base_dir: Path | None = None) -> Document:
    """Parse YAML text into a :class:`Document`. Raises :class:`SpecError` on any problem."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_FILE_BYTES:
        raise _fail(file, 1, 1, f"file is larger than the limit of {MAX_FILE_BYTES} bytes")
    if not text.strip():
        raise _fail(file, 1, 1, "the file is empty", "a spec needs at least `input:` and `layers:`")
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise _fail(file, line, col, f"not valid YAML: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise _fail(file, 1, 1, f"not valid YAML: {exc}") from None
    except RecursionError:
        raise _fail(file, 1, 1, f"nesting is deeper than the limit of {MAX_DEPTH}") from None
    if node is None:
        raise _fail(file, 1, 1, "the file is empty", "a spec needs at least `input:` and `layers:`")
    doc = Document(file=file, data=None, base_dir=base_dir)
    budget = [MAX_NODES]
    doc.data = _convert(node, (), doc, 0, budget)
    return doc


def load_file(path: str | Path) -> Document:
    """Read and parse a spec file (UTF-8)."""
    p = Path(path)
    name = str(path)
    try:
        size = p.stat().st_size
        if size > MAX_FILE_BYTES:
            raise _fail(name, 1, 1, f"file is {size} bytes, larger than the limit of {MAX_FILE_BYTES}")
        raw = p.read_bytes()
    except IsADirectoryError:
        raise _fail(name, 1, 1, "is a directory, not a spec file") from None
    except FileNotFoundError:
        raise _fail(name, 1, 1, "no such file") from None
    except OSError as exc:
        raise _fail(name, 1, 1, f"cannot read the file: {exc.strerror}") from None
    return load_bytes(raw, name, p.parent)


def load_bytes(raw: bytes, name: str, base_dir: Path | None = None) -> Document:
    """Decode UTF-8 bytes (binary and non-UTF-8 input is an error) and parse them."""
    if b"\x00" in raw:
        raise _fail(name, 1, 1, "is a binary file, not a YAML spec")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise _fail(name, line, col, "is not UTF-8 text", "save the file as UTF-8") from None
    return load_text(text, name, base_dir)


def _loc(doc: Document, node: Node) -> Location:
    return Location(doc.file, node.start_mark.line + 1, node.start_mark.column + 1)


def _convert(node: Node, path: KeyPath, doc: Document, depth: int, budget: list[int]) -> Any:
    budget[0] -= 1
    if budget[0] < 0:
        raise SpecError([Diagnostic(_loc(doc, node), path,
                                    f"the document expands to more than {MAX_NODES} values",
                                    "aliases (*name) that refer to large anchors multiply; write it out")])
    if depth > MAX_DEPTH:
        raise SpecError([Diagnostic(_loc(doc, node), path,
                                    f"nesting is deeper than the limit of {MAX_DEPTH}")])
    doc.locations.setdefault(path, _loc(doc, node))
    if isinstance(node, ScalarNode):
        if node.tag not in _SCALAR_TAGS:
            raise SpecError([Diagnostic(_loc(doc, node), path, f"unsupported YAML tag {node.tag!r}",
                                        "only plain values, lists and mappings are allowed")])
        return _CONSTRUCTOR.construct_object(node, deep=True)
    if isinstance(node, SequenceNode):
        if node.tag != "tag:yaml.org,2002:seq":
            raise SpecError([Diagnostic(_loc(doc, node), path, f"unsupported YAML tag {node.tag!r}")])
        return [_convert(item, path + (i,), doc, depth + 1, budget) for i, item in enumerate(node.value)]
    if isinstance(node, MappingNode):
        if node.tag != "tag:yaml.org,2002:map":
            raise SpecError([Diagnostic(_loc(doc, node), path, f"unsupported YAML tag {node.tag!r}")])
        out: dict[Any, Any] = {}
        seen: dict[Any, int] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                raise SpecError([Diagnostic(_loc(doc, key_node), path,
                                            "mapping keys must be plain names",
                                            "merge keys (<<) and complex keys are not supported")])
            key = _convert(key_node, path, doc, depth + 1, budget)
            if not isinstance(key, str):
                key = str(key)
            if key in seen:
                raise SpecError([Diagnostic(_loc(doc, key_node), path + (key,),
                                            f"duplicate key {key!r} (first defined on line {seen[key]})",
                                            "YAML keeps only the last value; remove one")])
            seen[key] = key_node.start_mark.line + 1
            doc.locations[path + (key,)] = _loc(doc, value_node)
            out[key] = _convert(value_node, path + (key,), doc, depth + 1, budget)
        return out
    raise SpecError([Diagnostic(_loc(doc, node), path, "unsupported YAML node")])  # pragma: no cover
