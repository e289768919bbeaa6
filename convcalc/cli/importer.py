"""``convcalc import``: another format's model as a convcalc spec. Registers on the app."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from convcalc.cli import SetOpt, _guard, _settings, app


@app.command("import")
def import_(
    source: str = typer.Argument(..., metavar="FILE", help="An Ultralytics model YAML or a Darknet .cfg."),
    set_: list[str] | None = SetOpt,
    output: Path | None = typer.Option(None, "--output", "-o", help="Write the spec to this file (default: stdout)."),
) -> None:
    """Write the convcalc spec of an Ultralytics model YAML (--set scale=s, --set nc=N) or a Darknet .cfg, with
    named blocks for the modules (C2f, SPPF, Detect, …); every command gives it the numbers of the original."""
    from convcalc.lang.importers import import_text

    settings = _settings(set_, None, None)
    text = _guard(lambda: import_text(source, settings.values))
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        sys.stderr.write(f"wrote {output}\n")
