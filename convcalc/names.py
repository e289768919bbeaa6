"""Finding a layer or block by the name a user typed: the full ``/``-separated path, or its last segments."""

from __future__ import annotations

from collections.abc import Iterable

from convcalc.spec import did_you_mean


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
