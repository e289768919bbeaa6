from __future__ import annotations

import csv
import os
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from convcalc import Report, analyze_text

if TYPE_CHECKING:
    from convcalc.lang.spec import Settings

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
#: torchvision's figures for the zoo's families (tests/data/README.md says how they were measured)
MODERN = list(csv.DictReader((ROOT / "tests" / "data" / "torchvision-modern.csv").open()))


def import_torch() -> Any:
    """torch, or a skip of the test (module) that needs it with how to install it; with
    CONVCALC_REQUIRE_TORCH=1 (CI) a missing torch is an error, never a silent skip."""
    if os.environ.get("CONVCALC_REQUIRE_TORCH") == "1":
        import torch

        return torch
    return pytest.importorskip(
        "torch", reason="the PyTorch cross-checks need torch: install PyTorch's CPU build, then "
                        "`python -m pip install '.[crosscheck]'` (README, Tests); CI requires them")


@pytest.fixture
def one_torch_thread() -> Iterator[None]:
    """One intra-op thread for the PyTorch cross-checks: the tensors are small, and OpenMP threads that wait
    for each other cost far more than they gain, badly so on a busy machine (16× slower with 2 threads on a
    loaded 2-core box). Use: ``pytestmark = [pytest.mark.torch, pytest.mark.usefixtures("one_torch_thread")]``."""
    torch = import_torch()
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def reference_rows(models: Collection[str]) -> list[dict[str, str]]:
    """The rows of tests/data/torchvision-modern.csv for these models."""
    return [r for r in MODERN if r["model"] in models]


def zoo_report(name: str, settings: Settings | None = None) -> Report:
    """The report of a zoo model (or spec file) that has one model."""
    from convcalc.lang.sources import open_source
    from convcalc.metrics.analysis import analyze_document

    (report,) = analyze_document(open_source(name), settings)
    return report


def is_native(row: dict[str, str]) -> bool:
    """A reference row at the input size of the model's weights."""
    return "off-native size" not in row["notes"]


def check_reference_row(row: dict[str, str]) -> Report:
    """The zoo model of a reference row equals it: name, input, params (and the weights' num_params where
    the row has it), MACs and a 1000-class output. The row at the weights' size is checked at the spec's own
    default input (no --size), the others with --size."""
    from convcalc.lang.spec import Settings

    h, w = int(row["input_h"]), int(row["input_w"])
    report = zoo_report(row["model"]) if is_native(row) else zoo_report(row["model"], Settings(size=(h, w)))
    assert report.name == row["model"]
    assert report.input_shape == (3, h, w)
    assert report.params == int(row["params"])
    if row["num_params_meta"]:
        assert report.params == int(row["num_params_meta"])
    assert report.macs == int(row["macs"])
    assert report.output_shape == (1000, 1, 1)
    return report


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
