from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from convcalc import Report, analyze_text

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"


def one(text: str) -> Report:
    """Analyse a single-model spec given as YAML text."""
    reports = analyze_text(text, "test.yaml")
    assert len(reports) == 1
    return reports[0]


def chain(inp: str, *layers: str, defaults: str = "{bias: false}") -> Report:
    """A model from an input (``C, H, W``) and layer lines (YAML flow items)."""
    c, h, w = (int(x) for x in inp.split(","))
    body = "\n".join(f"  - {layer}" for layer in layers)
    return one(f"input: {{channels: {c}, height: {h}, width: {w}}}\ndefaults: {defaults}\nlayers:\n{body}\n")


def invoke(args: list[str], cwd: Path = ROOT, stdin: str | None = None) -> Any:
    """Run the CLI (Typer's runner) in ``cwd``, as a user typing ``convcalc ARGS`` there."""
    import os

    from typer.testing import CliRunner

    from convcalc.cli import app

    old = os.getcwd()
    os.chdir(cwd)
    try:
        return CliRunner().invoke(app, args, input=stdin)
    finally:
        os.chdir(old)


@pytest.fixture
def root() -> Path:
    return ROOT
