"""Pause CPython's cyclic garbage collector while convcalc builds large acyclic structures.

Loading and analysing a spec allocates many small objects (YAML nodes, locations, graph nodes, rows)
and no reference cycles. The generational collector would traverse them again and again as they
accumulate: 2-3× the run time of a 100,000-layer chain. Reference counting still frees everything;
only the cycle detector waits until the outermost ``with paused_gc():`` ends. Re-entrant.
"""

from __future__ import annotations

import gc


class paused_gc:  # used like a function: ``with paused_gc():``
    """Context manager: disable the cyclic GC inside, restore its previous state after."""

    __slots__ = ("_was_enabled",)

    def __enter__(self) -> None:
        self._was_enabled = gc.isenabled()
        if self._was_enabled:
            gc.disable()

    def __exit__(self, *exc: object) -> None:
        if self._was_enabled:
            gc.enable()
