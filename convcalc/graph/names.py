"""Finding a layer or block by the name a user typed: the full ``/``-separated path, or its last segments."""

from __future__ import annotations

from collections.abc import Iterable

from convcalc.lang.hints import did_you_mean


def ending_with(name: str, names: Iterable[str]) -> list[str]:
    """The full names whose last segments are ``name`` (``P4`` → ``fpn3/P4``), in their order."""
    tail = "/" + name.strip("/")
    return list(dict.fromkeys(n for n in names if n.endswith(tail)))


def name_hint(name: str, names: Iterable[str]) -> str:
    """A hint for a name that is not a full layer or block name: the full names it ends, else the closest."""
    options = list(names)
    full = ending_with(name, options)
    if len(full) == 1:
        return f"did you mean {full[0]!r}? (names are full paths)"
    if full:
        shown = ", ".join(repr(n) for n in full[:6]) + (", …" if len(full) > 6 else "")
        return f"names are full paths; {len(full)} end in {name!r}: {shown}"
    return did_you_mean(name, options)


def resolve(name: str, prefix: str, known: dict[str, int]) -> tuple[int | None, str, str]:
    """The node a ``from:`` name refers to, seen from the scope ``prefix`` (``"decoder/up3/"``).

    In this order: the name inside the innermost enclosing scope, then each scope further out (so ``enc3``
    inside ``decoder`` finds ``decoder/enc3`` before a top-level ``enc3``), then any earlier layer or block
    whose full path ends with ``/name`` if exactly one does. Returns (node, "", "") or (None, message, hint).
    """
    parts = prefix.rstrip("/").split("/") if prefix else []
    for depth in range(len(parts), -1, -1):
        full = "/".join([*parts[:depth], name])
        if full in known:
            return known[full], "", ""
    ends = ending_with(name, known)
    if len(ends) == 1:
        return known[ends[0]], "", ""
    if ends:
        shown = ", ".join(repr(n) for n in ends[:8]) + (", …" if len(ends) > 8 else "")
        return None, f"the name {name!r} is ambiguous here: {len(ends)} earlier layers end with it", \
            f"write the full path, one of {shown}"
    short = sorted({n.rsplit("/", 1)[-1] for n in known if not n.rsplit("/", 1)[-1].isdigit()} | set(known))
    return None, f"no earlier layer or block named {name!r}", \
        did_you_mean(name, short) or "`from:` names a layer or block defined above this one"
