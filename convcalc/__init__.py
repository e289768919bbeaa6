"""convcalc: exact parameter, MAC and receptive-field arithmetic for convolutional networks.

Library use (Typer is never imported)::

    from convcalc import analyze_file, compare
    reports = analyze_file("specs/seed/stack-5x5.yaml")
    print([r.params for r in reports])

The names below are imported on first use, so ``import convcalc`` (and the start of every CLI command)
stays cheap until the library is needed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    **dict.fromkeys(("BlockRow", "Comparison", "Field", "LayerRow", "Report", "analyze", "analyze_document",
                     "analyze_file", "analyze_text", "compare"), "convcalc.metrics.analysis"),
    "Cost": "convcalc.kinds.core",
    **dict.fromkeys(("ConvcalcError", "Diagnostic", "Location", "SpecError", "UsageError"), "convcalc.errors"),
    **dict.fromkeys(("Settings", "Spec", "load_spec", "load_spec_text"), "convcalc.lang.spec"),
}

__all__ = [
    "BlockRow", "Comparison", "ConvcalcError", "Cost", "Diagnostic", "Field", "LayerRow", "Location", "Report",
    "Settings", "Spec", "SpecError", "UsageError", "__version__", "analyze", "analyze_document", "analyze_file",
    "analyze_text", "compare", "load_spec", "load_spec_text",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'convcalc' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


if TYPE_CHECKING:
    from convcalc.errors import ConvcalcError, Diagnostic, Location, SpecError, UsageError
    from convcalc.kinds.core import Cost
    from convcalc.lang.spec import Settings, Spec, load_spec, load_spec_text
    from convcalc.metrics.analysis import (
        BlockRow,
        Comparison,
        Field,
        LayerRow,
        Report,
        analyze,
        analyze_document,
        analyze_file,
        analyze_text,
        compare,
    )
