"""YAML text -> plain Python data plus an index from key path to source location.

Only the safe YAML tags (null, bool, int, float, str, seq, map) are accepted; anything else (for
example ``!!python/object``) is an error, never constructed. Duplicate keys are an error naming both
lines; every duplicate key and unsupported tag of a file is reported in one pass. File size, nesting
depth, the number of values, alias expansion and integer size are bounded so hostile input fails fast:
nesting and aliases are checked on the YAML event stream *before* anything is composed (PyYAML's
composer recurses, and an alias bomb is refused from the anchor sizes without expanding anything).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from convcalc.errors import Collector, Diagnostic, KeyPath, Location, SpecError
from convcalc.gcpause import paused_gc
from convcalc.lang.hints import tab_indentation

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
#: Most values that aliases (``*name``) may add to a document by repeating their anchors.
MAX_ALIAS_VALUES = 100_000
#: Integers in a spec (and every size convcalc derives from them) stay below 10 ** MAX_INT_DIGITS.
MAX_INT_DIGITS = 30
MAX_INT = 10**MAX_INT_DIGITS - 1

_SCALAR_TAGS = {
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:str",
}
_CONSTRUCTOR = SafeConstructor()
_STR_TAG = "tag:yaml.org,2002:str"


@dataclass
class Document:
    """Plain data of one YAML file and where each value came from."""

    file: str
    data: Any
    #: (line, column), 1-based, of every value by key path; :meth:`loc` makes the Location (tuples are cheaper
    #: to build and to keep for the ~4 values per layer of a long spec)
    locations: dict[KeyPath, tuple[int, int]] = field(default_factory=dict)
    base_dir: Path | None = None
    #: the variant of a family file asked for (a zoo name such as ``efficientnet_b3``), or ""
    variant: str = ""
    #: the format the file was written in ("" for convcalc's own; "darknet" for a .cfg read by lang.darknet)
    source_format: str = ""
    #: warnings about the file as a whole (an importer's: the scale it assumed), shown with the graph's warnings
    notes: list[str] = field(default_factory=list)
    #: problems found while converting (duplicate keys, unsupported tags); raised together by load_text
    problems: Collector = field(default_factory=Collector, repr=False, compare=False)

    def loc(self, path: KeyPath) -> Location:
        """The location of the value at ``path``, or of its nearest located ancestor."""
        while path not in self.locations and path:
            path = path[:-1]
        found = self.locations.get(path)
        return Location(self.file, *found) if found is not None else Location(self.file, 1, 1)


def _fail(file: str, line: int, col: int, message: str, hint: str = "") -> SpecError:
    return SpecError([Diagnostic(Location(file, line, col), (), message, hint)])


class EmptyDocument(SpecError):
    """The file holds no YAML document (nothing, or only comments)."""


def _empty(file: str) -> EmptyDocument:
    return EmptyDocument([Diagnostic(Location(file, 1, 1), (), "the file is empty",
                                     "a spec needs at least `input:` and `layers:`")])


def load_text(text: str, file: str = "<string>", base_dir: Path | None = None) -> Document:
    """Parse YAML text into a :class:`Document`. Raises :class:`SpecError` on any problem."""
    with paused_gc():  # the composed node tree is large and acyclic: one pause for compose and convert
        return _load_text(text, file, base_dir)


def _load_text(text: str, file: str, base_dir: Path | None) -> Document:
    if len(text.encode("utf-8", "surrogatepass")) > MAX_FILE_BYTES:
        raise _fail(file, 1, 1, f"file is larger than the limit of {MAX_FILE_BYTES} bytes")
    if not text.strip():
        raise _empty(file)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        line = text.count("\n", 0, exc.start) + 1
        col = exc.start - (text.rfind("\n", 0, exc.start) + 1) + 1
        raise _fail(file, line, col, "is not valid Unicode text (a lone surrogate)") from None
    try:
        _prescan(text, file)
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        tab = tab_indentation(text, line, str(exc.problem))
        if tab is not None:
            raise _fail(file, tab[0], tab[1], "YAML does not allow tabs for indentation", tab[2]) from None
        raise _fail(file, line, col, f"not valid YAML: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise _fail(file, 1, 1, f"not valid YAML: {exc}") from None
    except RecursionError:
        raise _fail(file, 1, 1, f"nesting is deeper than the limit of {MAX_DEPTH}") from None
    if node is None:
        raise _empty(file)
    doc = Document(file=file, data=None, base_dir=base_dir)
    budget = [MAX_NODES]
    doc.data = _convert(node, (), doc, 0, budget)
    doc.problems.raise_if_any(SpecError)
    return doc


def _prescan(text: str, file: str) -> None:
    """Check nesting depth, value count and alias expansion on the event stream, before composing.

    Stops at the first event past a limit, so a 100,000-deep ``[[[[…`` or a billion-laughs document
    costs a few hundred events. Each anchor's size (values, aliases inside counted expanded) is kept,
    so an alias adds its anchor's size without expanding anything.
    """
    sizes: dict[str, int] = {}  # anchor -> how many values it expands to
    stack: list[tuple[str | None, int]] = []  # open collections: (anchor, total before it)
    total = 0
    added = 0  # values added by aliases
    flow: list[bool] = []  # style of each open collection (block nesting has no brackets in the text)
    for ev in _events(text, file, flow):
        if isinstance(ev, yaml.ScalarEvent):
            n = 1
            if ev.anchor is not None:
                sizes[ev.anchor] = 1
        elif isinstance(ev, yaml.CollectionStartEvent):
            stack.append((ev.anchor, total))
            flow.append(bool(ev.flow_style))
            if len(stack) > MAX_DEPTH:
                raise _fail(file, *_pos(ev), f"nesting is deeper than the limit of {MAX_DEPTH}",
                            "lists and mappings inside each other; a spec needs far fewer levels")
            n = 1
        elif isinstance(ev, yaml.CollectionEndEvent):
            anchor, before = stack.pop()
            flow.pop()
            if anchor is not None:
                sizes[anchor] = total - before
            continue
        elif isinstance(ev, yaml.AliasEvent):
            line, col = _pos(ev)
            if any(anchor == ev.anchor for anchor, _ in stack):
                raise _fail(file, line, col, f"alias *{ev.anchor} refers to a value that contains it",
                            "a value cannot include itself")
            n = sizes.get(ev.anchor or "", 1)  # an undefined alias is reported by the composer
            added += n - 1
            if added > MAX_ALIAS_VALUES:
                raise _fail(file, line, col,
                            f"aliases expand the document by more than {MAX_ALIAS_VALUES} values (the limit)",
                            "each alias (*name) copies its anchor's whole value; use a named block "
                            "(blocks:) or a repeat instead")
        else:
            continue
        total += n
        if total > MAX_NODES:
            raise _fail(file, *_pos(ev), f"the document has more than {MAX_NODES} values (the limit)")


def _events(text: str, file: str, flow: list[bool]) -> Iterator[yaml.Event]:
    """The YAML event stream. Newer libyaml (PyYAML >= 6.0.4) scans ahead and stops deep flow nesting
    itself; that is reported as convcalc's own nesting limit, at the same place on every version
    (``flow``: the styles of the collections open so far)."""
    try:
        yield from yaml.parse(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        if "nesting depth" not in str(exc.problem):
            raise
        line, col = _deep_bracket(text, MAX_DEPTH - flow.count(False))
        raise _fail(file, line, col, f"nesting is deeper than the limit of {MAX_DEPTH}",
                    "lists and mappings inside each other; a spec needs far fewer levels") from None


def _deep_bracket(text: str, limit: int) -> tuple[int, int]:
    """Line and column of the first flow bracket opened past ``limit`` (outside quotes and comments)."""
    depth = 0
    for n, line in enumerate(text.splitlines(), 1):
        quote = ""
        for c, ch in enumerate(line, 1):
            if quote:
                quote = "" if ch == quote else quote
            elif ch in "'\"":
                quote = ch
            elif ch == "#" and (c == 1 or line[c - 2] in " \t"):
                break
            elif ch in "[{":
                depth += 1
                if depth > limit:
                    return n, c
            elif ch in "]}":
                depth -= 1
    return 1, 1


def _pos(ev: yaml.Event) -> tuple[int, int]:
    m = ev.start_mark
    return (m.line + 1, m.column + 1) if m is not None else (1, 1)


def load_file(path: str | Path) -> Document:
    """Read and parse a spec file (UTF-8)."""
    return load_bytes(read_limited(path), str(path), Path(path).parent)


def read_limited(path: str | Path) -> bytes:
    """A spec file's bytes, refused beyond :data:`MAX_FILE_BYTES` (and every reading problem, located)."""
    p = Path(path)
    name = str(path)
    try:
        size = p.stat().st_size
        if size > MAX_FILE_BYTES:
            raise _fail(name, 1, 1, f"file is {size} bytes, larger than the limit of {MAX_FILE_BYTES}")
        with p.open("rb") as f:  # read at most one byte past the limit (a device or pipe has no size)
            raw = f.read(MAX_FILE_BYTES + 1)
        if len(raw) > MAX_FILE_BYTES:
            raise _fail(name, 1, 1, f"file is larger than the limit of {MAX_FILE_BYTES} bytes")
    except IsADirectoryError:
        raise _fail(name, 1, 1, "is a directory, not a spec file") from None
    except FileNotFoundError:
        raise _fail(name, 1, 1, "no such file") from None
    except OSError as exc:
        raise _fail(name, 1, 1, f"cannot read the file: {exc.strerror or exc}") from None
    except ValueError:  # a NUL byte in the name
        raise _fail(name, 1, 1, "is not a valid file name") from None
    return raw


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
    if path not in doc.locations:
        m = node.start_mark
        doc.locations[path] = (m.line + 1, m.column + 1)
    if isinstance(node, ScalarNode):
        if node.tag not in _SCALAR_TAGS:
            return _unsupported(doc, node, path)
        # call the tag's constructor directly: construct_object would also cache every node in the
        # shared constructor for ever (a leak across files) and costs several times more per scalar
        if node.tag == _STR_TAG:
            return node.value
        return _scalar(doc, node, path)
    if isinstance(node, SequenceNode):
        if node.tag != "tag:yaml.org,2002:seq":
            return _unsupported(doc, node, path)
        return [_convert(item, path + (i,), doc, depth + 1, budget) for i, item in enumerate(node.value)]
    if isinstance(node, MappingNode):
        if node.tag != "tag:yaml.org,2002:map":
            return _unsupported(doc, node, path)
        out: dict[Any, Any] = {}
        seen: dict[Any, tuple[int, int]] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                what = "a merge key (<<)" if isinstance(key_node, ScalarNode) else \
                    f"a {'list' if isinstance(key_node, SequenceNode) else 'mapping'}"
                doc.problems.add(Diagnostic(_loc(doc, key_node), path,
                                            f"expected a plain key name, found {what}",
                                            "merge keys (<<) and complex keys (? …) are not supported"))
                continue
            key = _convert(key_node, path, doc, depth + 1, budget)
            if not isinstance(key, str):
                key = str(key)
            here = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            if key in seen:
                line, col = seen[key]
                where = f"line {line}" if line != here[0] else f"line {line}, column {col}"
                doc.problems.add(Diagnostic(_loc(doc, key_node), path + (key,),
                                            f"duplicate key {key!r} (first defined on {where})",
                                            "YAML keeps only the last value; remove one"))
            else:
                seen[key] = here
            sub = path + (key,)
            m = value_node.start_mark
            doc.locations[sub] = (m.line + 1, m.column + 1)
            out[key] = _convert(value_node, sub, doc, depth + 1, budget)
        return out
    raise SpecError([Diagnostic(_loc(doc, node), path, "unsupported YAML node")])  # pragma: no cover


def _unsupported(doc: Document, node: Node, path: KeyPath) -> None:
    """An unsafe or unknown tag (``!!python/object``, ``!!set``, ``!foo``): reported, never constructed."""
    doc.problems.add(Diagnostic(_loc(doc, node), path, f"unsupported YAML tag {node.tag!r}",
                                "only plain values, lists and mappings are allowed"))


_TAG_WORDS = {"int": "an integer", "float": "a number", "bool": "true or false", "null": "null"}


def _scalar(doc: Document, node: ScalarNode, path: KeyPath) -> Any:
    """Construct a null, bool, int or float; integers must stay below 10 ** MAX_INT_DIGITS."""
    text = node.value if len(node.value) <= 40 else f"{node.value[:20]}… ({len(node.value)} characters)"
    digits = node.value.lstrip("+-").replace("_", "")
    try:
        value = _CONSTRUCTOR.yaml_constructors[node.tag](_CONSTRUCTOR, node)
    except (ValueError, KeyError, TypeError, AttributeError):
        # an explicit tag on a bad value (!!int abc), or more digits than Python converts to an int
        if not (node.tag == "tag:yaml.org,2002:int" and digits.isdigit()):
            word = _TAG_WORDS.get(node.tag.rsplit(":", 1)[-1], node.tag)
            doc.problems.add(Diagnostic(_loc(doc, node), path, f"expected {word}, found {text!r}"))
            return None
        value = MAX_INT + 1
    if isinstance(value, int) and not isinstance(value, bool) and not -MAX_INT <= value <= MAX_INT:
        doc.problems.add(Diagnostic(_loc(doc, node), path,
                                    f"expected an integer of at most {MAX_INT_DIGITS} digits, found {text}",
                                    "convcalc counts exactly, but no network needs numbers this large"))
        return None
    return value
