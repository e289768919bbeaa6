"""The start-up shortcuts give exactly the output of the plain paths they replace.

- the CLI's direct call (convcalc.cli.run) versus Typer parsing the same command line;
- render.dumps versus json.dumps(indent=2);
- Rich tables with up-front column widths (piped output) versus Rich measuring every cell.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console
from rich.measure import Measurement

from convcalc import Report, analyze_document, analyze_file, compare
from convcalc.lang.sources import open_source, zoo_names
from convcalc.outputs.render import comparison_json, dumps, report_dict
from convcalc.outputs.richview import rich_table
from convcalc.outputs.views import compare_table, rf_table, show_table

ROOT = Path(__file__).resolve().parent.parent
TYPER_ONLY = "import sys; from convcalc.cli import app; app(prog_name='convcalc')"


def _cli(argv: list[str], direct: bool) -> tuple[int, str, str]:
    cmd = [sys.executable, "-m", "convcalc", *argv] if direct else [sys.executable, "-c", TYPER_ONLY, *argv]
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=120)
    return p.returncode, p.stdout, p.stderr


@pytest.mark.parametrize("argv", [
    ["show", "resnet50", "-f", "json"],
    ["show", "resnet18", "--format=csv", "--exact"],
    ["show", "specs/seed/stack-5x5.yaml"],
    ["rf", "mobilenet_v2", "-f", "markdown"],
    ["compare", "resnet18", "resnet50", "--format", "json"],
    ["check", "specs/seed/stack-5x5.yaml", "--max-params", "1K", "-f", "json"],  # exit 1
    ["check", "specs/seed/stack-5x5.yaml", "--max-params", "lots"],              # usage error from the body
    ["show", "resnet5O"],                                                        # not found: exit 2
    ["show", "resnet50", "--depth", "2", "-f", "json"],
    ["show", "specs/seed/dilated.yaml", "--alternative=5x5", "--depth=1", "--exact"],
    ["rf", "specs/seed/dilated.yaml", "--map", "conv3", "--alternative", "3x3 dilation 1,2,5 (hybrid)"],
    ["rf", "specs/seed/dilated.yaml", "--map", "conv3"],                           # a note on stderr
    ["show", "resnet50", "--depth", "0"],                                        # usage error from the body
    ["rf", "resnet50", "--alternative", "resnet5"],                              # no such alternative: exit 2
    ["show", "resnet50", "-f", "xml"],                                           # falls back to Typer
    ["show", "resnet50", "extra"],
    ["show"],
])
def test_direct_call_matches_typer(argv: list[str]) -> None:
    assert _cli(argv, direct=True) == _cli(argv, direct=False)


def test_direct_call_skips_typer_validation() -> None:
    """The point of the direct call: Typer's per-parameter pydantic validators are never built."""
    code = ("import sys\nfrom convcalc.cli import run\ntry:\n    run(sys.argv[1:])\nfinally:\n"
            "    sys.stderr.write(str('pydantic' in sys.modules))")
    for argv in (["show", "resnet50", "-f", "json"], ["rf", "resnet50"], ["compare", "resnet50", "resnet18"],
                 ["check", "resnet50", "--max-params", "30M", "-f", "json"], ["show", "resnet50", "--depth", "1"],
                 ["rf", "specs/seed/dilated.yaml", "--map", "conv1", "--alternative", "5x5"]):
        p = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, cwd=ROOT,
                           timeout=120)
        assert p.stderr.endswith("False"), (argv, p.stderr[-500:])


def test_json_writer_is_json_dumps() -> None:
    reports = [r for name in zoo_names() if name not in LONG_TABLES for r in _zoo(name)]
    for r in reports:
        d = report_dict(r)
        assert dumps(d) == json.dumps(d, indent=2, ensure_ascii=False) + "\n"
    c = comparison_json(compare(reports))
    assert c == json.dumps(json.loads(c), indent=2, ensure_ascii=False) + "\n"
    odd = {"a": [1, 2.5, None, True, False, "é\n\"", {}, [], (3,)], "nan": float("nan"), "inf": [float("inf")],
           "big": 10**40, "neg": -0.0}
    assert dumps(odd) == json.dumps(odd, indent=2, ensure_ascii=False) + "\n"
    assert dumps({1: "non-str key"}) == json.dumps({1: "non-str key"}, indent=2) + "\n"  # handed to json


def _zoo(name: str) -> list[Report]:
    return analyze_document(open_source(name))


def _printed(table: object, fit: bool) -> str:
    buf = io.StringIO()
    console = Console(file=buf)
    renderable = rich_table(table, fit=fit)  # type: ignore[arg-type]
    width = Measurement.get(console, console.options.update_width(100_000), renderable).maximum
    Console(width=max(80, width), file=buf).print(renderable)
    return buf.getvalue()


#: the larger members of the transformer families (their tables are the smallest member's, longer)
LONG_TABLES = frozenset({"vit_b_32", "vit_l_16", "vit_l_32", "vit_h_14", "swin_s", "swin_b", "swin_v2_s", "swin_v2_b",
                         *(f"yolo{v}{s}{t}" for v in ("v8", "11") for s in "smlx" for t in ("", "-cls"))})


def test_fitted_rich_tables_print_the_same() -> None:
    reports = [r for name in zoo_names() if name not in LONG_TABLES for r in _zoo(name)]
    tables = [compare_table(compare(reports))]
    for i, r in enumerate(reports):  # every model's show table; rf and --exact of every other (same code paths)
        tables += [show_table(r)] + ([show_table(r, True), rf_table(r)] if i % 2 == 0 else [])
    for spec in sorted((ROOT / "specs" / "seed").glob("*.yaml")):
        tables += [rf_table(r) for r in analyze_file(spec)]
    for t in tables:
        assert _printed(t, fit=True) == _printed(t, fit=False), t.title
