"""Other formats a spec can come in, turned into convcalc's own: ``convcalc import`` (Ultralytics model YAMLs,
:mod:`convcalc.lang.ultralytics`; Darknet ``.cfg`` files, :mod:`convcalc.lang.darknet`). Every command reads them
directly too (``open_source`` and ``parse_spec`` recognise them by their content); ``import`` writes the
equivalent convcalc spec, which gives identical numbers, for a user to edit from then on."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from convcalc.errors import Diagnostic, Location, UsageError
from convcalc.lang.sources import open_source
from convcalc.lang.ultralytics import is_ultralytics, ultralytics_spec_text


def import_text(source: str, settings: Mapping[str, Any]) -> str:
    """The convcalc spec (YAML text) of an Ultralytics model YAML (at ``settings``' scale and nc) or a Darknet
    ``.cfg``; a convcalc spec is a usage error (there is nothing to import)."""
    doc = open_source(source)
    if is_ultralytics(doc.data):
        return ultralytics_spec_text(doc, dict(settings))[0]
    if doc.source_format == "darknet":
        if settings:
            raise UsageError([Diagnostic(Location(source, 1, 1), (), "a Darknet .cfg takes no --set",
                                         "its size is [net]'s width and height (--size on the analysis commands)")])
        header = f"# {doc.file}: the Darknet .cfg read by convcalc (Darknet's rules); regenerate with convcalc import\n"
        return header + yaml.safe_dump(doc.data, sort_keys=False, default_flow_style=None, width=120)
    raise UsageError([Diagnostic(Location(source, 1, 1), (), "is already a convcalc spec: nothing to import",
                                 "convcalc import reads Ultralytics model YAMLs (backbone:, head:) and Darknet .cfg")])
