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
        self.reserved = set(reserved)
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



def declared(items: Any, inside: bool = False) -> set[str]:
    """User-given names that land directly in a scope (looking through unnamed blocks).

    With ``inside``, the single item is the block that owns the scope: look into it whatever its name.
    """
    out: set[str] = set()
    if not isinstance(items, list):
        return out
    for item in items:
        if not isinstance(item, dict) or len(item) != 1:
            continue
        ((kind, args),) = item.items()
        if not isinstance(args, dict):
            continue
        if isinstance(args.get("name"), str) and not inside:
            out.add(args["name"])
        elif kind in TRANSPARENT:
            for key in ("body", "shortcut", "projection"):
                out |= declared(args.get(key))
            paths = args.get("paths")
            for path in paths if isinstance(paths, list) else []:
                out |= declared(path)
    return out
