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


def resolve_each(name: str, prefix: str, known: dict[str, int]) -> tuple[list[int] | None, str, str]:
    """The nodes ``NAME/*`` refers to in a merge's ``from:``: the output of each iteration of the repeat ``NAME``
    (iteration k's output is ``NAME/k`` itself or its last layer, ``NAME/k/…``), in order, the block found in the
    scopes as :func:`resolve` finds a name (then as the ending of exactly one earlier full name)."""
    parts = prefix.rstrip("/").split("/") if prefix else []
    candidates = ["/".join([*parts[:depth], name]) for depth in range(len(parts), -1, -1)]
    ends = ending_with(name, known)
    for full in [*candidates, *(ends if len(ends) == 1 else [])]:
        if full not in known:
            continue
        last: dict[int, int] = {}
        head = full + "/"
        for n, idx in known.items():
            if n.startswith(head):
                segment = n[len(head):].split("/", 1)[0]
                if segment.isdigit():
                    last[int(segment)] = max(last.get(int(segment), -1), idx)
        if 0 in last:
            return [last[k] for k in range(len(last)) if k in last], "", ""
        return None, f"{name!r} has no iterations to take with {name}/*", \
            f"{name}/* is the output of each iteration of a repeat named {name!r}, in order"
    node, message, hint = resolve(name, prefix, known)
    if node is None:
        return None, message, hint
    return None, f"{name!r} has no iterations to take with {name}/*", \
        f"{name}/* is the output of each iteration of a repeat named {name!r}, in order"
