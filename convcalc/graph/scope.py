"""Names within the graph: one scope per named block; user names are reserved up front so that automatic
names (``conv1``, ``conv2``, …) never take them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

#: Blocks that add no name segment unless named: their layers' names land in the enclosing scope.
TRANSPARENT = ("sequence", "residual", "branches", "side")


class Scope:
    """Names within one named block: user names are reserved up front, automatic ones skip them."""

    def __init__(self, prefix: str, reserved: Iterable[str]) -> None:
        self.prefix = prefix
        self.taken: set[str] = set()
        self.reserved = frozenset(reserved)
        self.counters: dict[str, int] = {}

    def auto(self, kind: str) -> str:
        n = self.counters.get(kind, 0)
        while True:
            n += 1
            name = f"{kind}_{n}" if kind[-1].isdigit() else f"{kind}{n}"
            if name not in self.taken and name not in self.reserved:
                break
        self.counters[kind] = n
        self.taken.add(name)
        return self.prefix + name

    def claim(self, name: str) -> str | None:
        if name in self.taken:
            return None
        self.taken.add(name)
        return self.prefix + name



def declared(items: Any) -> frozenset[str]:
    """User-given names that land directly in the scope of a layer list (looking through unnamed blocks).

    Remembered by the list's identity (a named block's body or a repeat's is walked once per call or
    iteration; the list is kept beside its names, so its id is not another's while it is remembered)."""
    if not isinstance(items, list):
        return frozenset()
    known = _DECLARED.get(id(items))
    if known is not None and known[0] is items:
        return known[1]
    out: set[str] = set()
    for item in items:
        if not isinstance(item, dict) or len(item) != 1:
            continue
        ((kind, args),) = item.items()
        if not isinstance(args, dict):
            continue
        if isinstance(args.get("name"), str):
            out.add(args["name"])
        elif kind in TRANSPARENT:
            out |= _through(args)
    names = frozenset(out)
    if len(_DECLARED) >= 4096:
        _DECLARED.clear()
    _DECLARED[id(items)] = (items, names)
    return names


def declared_in(kind: str, args: dict[str, Any]) -> frozenset[str]:
    """User-given names that land directly in the scope of a block (``kind: args``) that owns the scope: its
    own name is the scope's, so look into it whatever its name."""
    return _through(args) if kind in TRANSPARENT else frozenset()


def _through(args: dict[str, Any]) -> frozenset[str]:
    """The names a transparent block's layer lists (body, shortcut, projection, paths) declare."""
    out: set[str] = set()
    for key in ("body", "shortcut", "projection"):
        out |= declared(args.get(key))
    paths = args.get("paths")
    for path in paths if isinstance(paths, list) else []:
        out |= declared(path)
    return frozenset(out)


#: the names of each layer list, by the list's identity (the list kept beside them)
_DECLARED: dict[int, tuple[list[Any], frozenset[str]]] = {}
