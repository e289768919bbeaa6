"""``show --bars``: each row's share of the MACs as a bar of 10 cells in eighths (exact widths), in the table and
Markdown only, optional on a narrow terminal (after activations and type)."""

from __future__ import annotations

import json

import pytest
from rich.cells import cell_len
from typer.testing import CliRunner

from convcalc.cli import app
from convcalc.outputs.fit import fit_table, overhead
from convcalc.outputs.views import BAR_CELLS, depth_table, share_bar, show_table
from tests.conftest import ROOT, zoo_report

FULL = "█"


@pytest.mark.parametrize("part,total,bar", [
    (1, 2, FULL * 5 + " " * 5),            # 50%: 5 of 10 cells
    (1, 1, FULL * 10),                     # all of it
    (0, 7, " " * 10),                      # none
    (9, 10, FULL * 9 + " "),               # 90%
    (1, 80, "▏" + " " * 9),                # one eighth of a cell
    (3, 16, FULL + "▉" + " " * 8),         # 15 eighths
    (7, 16, FULL * 4 + "▍" + " " * 5),     # 35 eighths
    (1, 160, "▏" + " " * 9),               # half an eighth rounds up
    (1, 161, " " * 10),                    # less than half rounds down
    (5, 0, " " * 10),                      # a model without MACs
])
def test_bar_widths_are_exact(part: int, total: int, bar: str) -> None:
    assert share_bar(part, total) == bar
    assert len(share_bar(part, total)) == BAR_CELLS


def test_every_eighth_has_its_block() -> None:
    assert [share_bar(k, 80)[0] for k in range(1, 9)] == list("▏▎▍▌▋▊▉█")
    assert share_bar(1, 2, cells=1) == "▌"


def test_show_table_bars_column() -> None:
    """Two stacked 3×3 convolutions: 8,100 and 900 of 9,000 MACs, 9 and 1 cells."""
    from convcalc.metrics.analysis import analyze_file

    r = analyze_file(ROOT / "specs/seed/stack-5x5.yaml")[1]
    t = show_table(r, bars=True)
    assert t.columns == ("layer", "type", "output", "params", "MACs", "MACs %", "share", "activations")
    assert [(row[0], row[5], row[6]) for row in t.rows] == [
        ("conv1", "90.0%", FULL * 9 + " "), ("relu1", "0.0%", " " * 10), ("conv2", "10.0%", FULL + " " * 9),
        ("relu2", "0.0%", " " * 10)]
    assert t.footer is not None and t.footer[6] == ""
    assert t.numeric == frozenset({3, 4, 5, 7}) and t.optional == (7, 1, 6)
    plain = show_table(r)
    assert [row[:6] + row[7:] for row in t.rows] == [row for row in plain.rows]


def test_depth_table_bars() -> None:
    r = zoo_report("resnet18")
    t = depth_table(r, 1, bars=True)
    assert t.columns[-1] == "share"
    rows = {row[0]: row[-1] for row in t.rows}
    # layer1: 462,422,016 of 1,814,073,344 MACs = 20.39 eighths -> 2 cells and a half cell (20 eighths)
    assert rows["layer1"] == FULL * 2 + "▌" + " " * 7
    assert rows["fc"] == " " * 10


def test_bars_fit_80_columns() -> None:
    """ResNet-50 at 80 columns: activations and type go first, the bars stay (in SI units)."""
    r = zoo_report("resnet50")
    f = fit_table(show_table(r, bars=True), 80, cell_len)
    assert f.table.columns == ("layer", "output", "params", "MACs", "MACs %", "share")
    assert sum(f.widths) + overhead(len(f.widths)) <= 80
    assert f.table.rows[0] == ("conv1", "64×112×112", "9408", "118M", "2.9%", "▎" + " " * 9)
    exact = fit_table(show_table(r, True, bars=True), 80, cell_len)
    assert "share" not in exact.table.columns  # with full integers the bars are the last to go
    assert exact.table.notes[-1].startswith("narrow terminal: left out type, share, activations")


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_cli_bars_in_table_and_markdown_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    spec = ["show", "specs/seed/stack-5x5.yaml", "--alternative", "two 3x3"]
    code, out, err = run(*spec, "--bars")
    assert code == 0 and err == ""
    assert "│ conv1 │ conv │ 10×3×3 │    900 │ 8100 │  90.0% │ █████████  │          90 │" in out
    assert "share: the MACs as a bar, 10 cells = 100% of the total" in out
    code, md, _ = run(*spec, "--bars", "--format", "markdown")
    assert code == 0 and "| conv2 | conv | 10×1×1 | 900 | 900 | 10.0% | █          | 10 |" in md
    for fmt in ("json", "csv"):
        with_bars, without = run(*spec, "--bars", "--format", fmt)[1], run(*spec, "--format", fmt)[1]
        assert with_bars == without and "█" not in with_bars, fmt
    assert json.loads(run(*spec, "--bars", "--format", "json")[1])["models"][0]["macs"] == 9000
    code, out, _ = run("show", "resnet18", "--depth", "1", "--bars")
    assert code == 0 and "██▌" in out
