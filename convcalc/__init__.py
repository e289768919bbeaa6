"""convcalc: exact parameter, MAC and receptive-field arithmetic for convolutional networks.

Library use (Typer is never imported)::

    from convcalc import analyze_file, compare
    reports = analyze_file("specs/seed/stack-5x5.yaml")
    print([r.params for r in reports])
"""

from convcalc.analysis import (
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
from convcalc.costs import Cost
from convcalc.errors import ConvcalcError, Diagnostic, Location, SpecError, UsageError
from convcalc.spec import Spec, load_spec, load_spec_text

__version__ = "0.1.0"

__all__ = [
    "BlockRow", "Comparison", "ConvcalcError", "Cost", "Diagnostic", "Field", "LayerRow", "Location", "Report",
    "Spec", "SpecError", "UsageError", "__version__", "analyze", "analyze_document", "analyze_file",
    "analyze_text", "compare", "load_spec", "load_spec_text",
]
