"""Where the walk is (:class:`Ctx`): the variables, the chain of named-block calls, the flags and the file."""

from __future__ import annotations

from typing import Any, NamedTuple

from convcalc.errors import Location
from convcalc.lang.yaml_source import Document


class Ctx(NamedTuple):
    """Where the walk is: variables, the chain of named-block calls, training-only and side flags."""

    env: dict[str, Any]
    calls: tuple[tuple[str, Location], ...] = ()
    training_only: bool = False
    side: bool = False
    #: the file being walked, when not the spec's own (the body of an included named block)
    doc: Document | None = None

    def via(self) -> str:
        """``via bottleneck at spec.yaml:12:5; …`` for a problem inside named-block calls, or ''."""
        calls = self.calls
        if not calls:
            return ""
        said = _VIAS.get(id(calls))
        if said is not None and said[0] is calls:
            return said[1]
        vias = [f"via {name} at {loc}" for name, loc in reversed(calls)]
        if len(vias) > 6:  # a runaway chain of calls: the innermost and the outermost ones
            vias = vias[:3] + [f"… {len(vias) - 5} more …"] + vias[-2:]
        text = "; ".join(vias)
        if len(_VIAS) >= 4096:
            _VIAS.clear()
        _VIAS[id(calls)] = (calls, text)
        return text


#: the text of each chain of calls, by the chain's identity: every node walked under one call shares its chain
#: (kept here beside its text, so that its id is not another's while it is here)
_VIAS: dict[int, tuple[tuple[tuple[str, Location], ...], str]] = {}
