"""Pictures (convcalc[plot]): every figure renders to PNG and SVG, deterministically; on 300- and 700-layer models no
two texts overlap and every panel has its axis labels; a footprint's heatmap holds its exact counts; the CLI writes
a PNG, refuses other suffixes, and without matplotlib says how to install it in one line (exit 2)."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from convcalc.cli import app
from tests.conftest import ROOT, zoo_report

pytestmark = pytest.mark.plot

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def mpl() -> Any:
    """matplotlib, or a skip saying how to install it; with CONVCALC_REQUIRE_PLOT=1 (CI) a missing one fails."""
    if os.environ.get("CONVCALC_REQUIRE_PLOT") == "1":
        import matplotlib

        return matplotlib
    return pytest.importorskip("matplotlib", reason="the pictures need matplotlib: python -m pip install "
                                                    "'.[plot]' (CI requires them: CONVCALC_REQUIRE_PLOT=1)")


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk."""
    assert data[:8] == PNG and data[12:16] == b"IHDR"
    w, h = struct.unpack(">II", data[16:24])
    return w, h


def drawn_texts(fig: Any) -> list[Any]:
    """Every non-empty visible text the figure draws: tick labels of the ticks in view, titles, axis labels, legends,
    annotations (measured independently of convcalc's own declutter)."""
    from matplotlib.text import Text

    fig.canvas.draw()
    tick_labels: set[int] = set()
    out = []
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            lo, hi = sorted(axis.get_view_interval())
            for tick in [*axis.get_major_ticks(), *axis.get_minor_ticks()]:
                tick_labels.update({id(tick.label1), id(tick.label2)})
                if lo - 1e-9 * (hi - lo) <= tick.get_loc() <= hi + 1e-9 * (hi - lo):
                    out += [t for t in (tick.label1, tick.label2) if t.get_visible()]
    out += [t for t in fig.findobj(Text) if id(t) not in tick_labels and t.get_visible()]
    return [t for t in out if t.get_text().strip() and (t.axes is None or t.axes.get_visible())]


def overlaps(fig: Any) -> list[tuple[str, str]]:
    renderer = fig.canvas.get_renderer()
    texts = drawn_texts(fig)
    boxes = [t.get_window_extent(renderer) for t in texts]
    bad = []
    for i in range(len(boxes)):
        for j in range(i + 1, len(boxes)):
            a, b = boxes[i], boxes[j]
            if a.x0 < b.x1 - 0.5 and b.x0 < a.x1 - 0.5 and a.y0 < b.y1 - 0.5 and b.y0 < a.y1 - 0.5:
                bad.append((texts[i].get_text(), texts[j].get_text()))
    return bad


@pytest.fixture(scope="module")
def big(mpl: Any) -> Iterator[list[tuple[str, Any]]]:
    """The figures of two large models: YOLOv8x (357 layers, 23 top-level blocks, 3 outputs), DenseNet-201 (707)."""
    from convcalc.outputs import plot

    figures = []
    for name in ("yolov8x", "densenet201"):
        r = zoo_report(name)
        assert len(r.layers) > 300
        figures += [(f"{name} layers", plot.layers_figure(r)), (f"{name} rf", plot.rf_figure(r))]
    yield figures


def test_large_models_no_text_overlaps_and_every_axis_is_labelled(big: list[tuple[str, Any]]) -> None:
    for what, fig in big:
        assert overlaps(fig) == [], what
        for ax in fig.axes:
            assert ax.get_xlabel() and ax.get_ylabel(), what
            # no per-layer tick labels: a few index ticks
            shown = [t for t in drawn_texts(fig) if t in ax.get_xticklabels()]
            assert 0 < len(shown) <= 20, what
        names = {t.get_text() for t in drawn_texts(fig)}
        assert any(n.startswith("MACs (") for n in names) or "receptive field (input px)" in names, what


def test_large_models_name_blocks_and_largest_layers(big: list[tuple[str, Any]]) -> None:
    texts = {what: [t.get_text() for t in drawn_texts(fig)] for what, fig in big}
    assert "MACs (G)" in texts["yolov8x layers"] and "params (M)" in texts["yolov8x layers"]
    assert "model.22" in texts["yolov8x layers"]  # the head, a top-level block
    assert any(t.startswith("model.22/0/cv3/0/conv: 5.90G") for t in texts["yolov8x layers"])  # the largest layer
    assert sum(t.startswith("output model.22/") for t in texts["yolov8x rf"]) == 3
    assert "denseblock3" in texts["densenet201 layers"]  # depth 2: `features` holds 700 of the 707 layers
    assert "MACs (M)" in texts["densenet201 layers"]


def test_every_figure_renders_to_png_and_svg_deterministically(mpl: Any, tmp_path: Path) -> None:
    from convcalc.lang.sources import open_source
    from convcalc.metrics.analysis import graphs_of
    from convcalc.metrics.footprint import footprints
    from convcalc.outputs import plot
    from convcalc.sweep import grid, load_target, parse_axes, run_sweep

    r = zoo_report("resnet18")
    (model, fp), = footprints(graphs_of(open_source("specs/seed/dilated.yaml")), "repeat1/2/conv1")
    axes = parse_axes(["width=0.5,1.0"], size="160:224:32")
    rows = run_sweep([load_target("mobilenet_v2")], grid(axes))
    makers = {"layers": lambda: plot.layers_figure(r), "rf": lambda: plot.rf_figure(r),
              "footprint": lambda: plot.footprint_figure(model, fp, (32, 32)),
              "sweep": lambda: plot.sweep_figure(rows, axes)}
    sizes = {"layers": (1200, 650), "rf": (1200, 650), "footprint": (750, 700), "sweep": (1480, 760)}
    for name, make in makers.items():
        plot.save(make(), tmp_path / f"{name}.png")
        plot.save(make(), tmp_path / f"{name}.SVG")
        assert png_size((tmp_path / f"{name}.png").read_bytes()) == sizes[name], name
        svg = (tmp_path / f"{name}.SVG").read_text(encoding="utf-8")
        assert svg.startswith("<?xml") and "<svg" in svg and "<text" not in svg  # text drawn as paths
        inline = plot.svg_text(make())
        assert inline.startswith("<svg") and "<!DOCTYPE" not in inline and "<?xml" not in inline
        assert inline == plot.svg_text(make()) == svg[svg.index("<svg"):], name  # the same bytes every time
        assert (tmp_path / f"{name}.png").read_bytes() == _png_bytes(plot, make(), tmp_path / "again.png"), name


def _png_bytes(plot: Any, fig: Any, path: Path) -> bytes:
    plot.save(fig, path)
    return path.read_bytes()


def test_save_refuses_other_suffixes(mpl: Any, tmp_path: Path) -> None:
    from convcalc.outputs import plot
    from convcalc.outputs.plot_check import PictureError

    fig = plot.rf_figure(zoo_report("alexnet"))
    for name in ("out.txt", "out.pdf", "out"):
        with pytest.raises(PictureError) as info:
            plot.save(fig, tmp_path / name)
        assert isinstance(info.value, ValueError) and "expected a .png or .svg file" in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_footprint_heatmap_holds_the_exact_counts(mpl: Any) -> None:
    """Three 3×3 convolutions with dilation 2: a 13×13 window with 120 holes, counts up to 49."""
    from convcalc.lang.sources import open_source
    from convcalc.metrics.analysis import graphs_of
    from convcalc.metrics.footprint import footprints
    from convcalc.outputs import plot

    (model, fp), = footprints(graphs_of(open_source("specs/seed/dilated.yaml")), "repeat1/2/conv1")
    assert fp.map is not None
    fig = plot.footprint_figure(model, fp, (32, 32))
    ax = fig.axes[0]
    (image,) = ax.images
    data = image.get_array()
    assert data.dtype.kind == "i" and data.tolist() == [list(row) for row in fp.map]
    assert sum(row.count(0) for row in data.tolist()) == 120 and int(data.max()) == 49
    assert image.get_extent() == [8.5, 21.5, 21.5, 8.5]  # columns 9..21, rows 9..21 in input pixels
    assert tuple(image.cmap(image.norm(0))) == (1.0, 1.0, 1.0, 1.0)  # a hole is white
    assert tuple(image.cmap(image.norm(1))) != (1.0, 1.0, 1.0, 1.0)  # one path is not
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("input column (px)", "input row (px)")
    assert fig.axes[1].get_ylabel().startswith("paths from the input pixel")  # the colour bar
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["ERF50 5×5", "ERF95 13×13", "input edge (32×32)"]
    assert overlaps(fig) == []


def test_footprint_too_large_for_a_map_shows_the_counts_per_axis(mpl: Any) -> None:
    from convcalc.lang.sources import open_source
    from convcalc.metrics.analysis import graphs_of
    from convcalc.metrics.footprint import footprints
    from convcalc.outputs import plot

    (model, fp), = footprints(graphs_of(open_source("resnet18")), "fc")
    assert fp.map is None
    fig = plot.footprint_figure(model, fp)
    assert [ax.get_xlabel() for ax in fig.axes] == ["input row (px)", "input column (px)"]
    assert [ax.get_xlim() for ax in fig.axes] == [(-217.5, 409.5)] * 2  # RF 627 from -217
    assert overlaps(fig) == []


def test_sweep_figure_panels_lines_and_budgets(mpl: Any) -> None:
    from convcalc.outputs import plot
    from convcalc.sweep import Verdict, grid, load_target, parse_axes, run_sweep

    axes = parse_axes(["width=0.5,1.0"], size="160:224:32")
    rows = run_sweep([load_target("mobilenet_v2")], grid(axes))
    assert len(rows) == 6 and all(r.ok for r in rows)
    limit = 250_000_000
    rows = [replace(r, verdicts=(Verdict("max_macs", "max_macs", limit, r.macs or 0, (r.macs or 0) <= limit),))
            for r in rows]
    rows.append(replace(rows[0], macs=None, params=None, flops=None, activations=None, peak_memory=None,
                        verdicts=(), error="a configuration that could not be analysed"))
    fig = plot.sweep_figure(rows, axes)
    panels = fig.axes
    assert [ax.get_ylabel() for ax in panels] == ["params (M)", "MACs (M)", "FLOPs (M)", "activations (elements) (M)",
                                                  "peak memory, fp32 inference (MiB)"]
    assert {ax.get_xlabel() for ax in panels} == {"width"}
    for ax in panels:
        solid = [ln for ln in ax.get_lines() if ln.get_linestyle() == "-"]
        assert len(solid) == 3  # one line per input size
        assert all(list(ln.get_xdata()) == [0.5, 1.0] for ln in solid)  # the failed row is left out
    dashed = [ln for ln in panels[1].get_lines() if ln.get_linestyle() == "--"]
    assert [list(ln.get_ydata()) for ln in dashed] == [[250.0, 250.0]]  # max_macs, in M
    assert all(not [ln for ln in ax.get_lines() if ln.get_linestyle() == "--"] for ax in panels if ax is not panels[1])
    texts = [t.get_text() for t in drawn_texts(fig)]
    assert "max_macs 250M" in texts and {"size=160", "size=192", "size=224"} <= set(texts)
    assert overlaps(fig) == []


def test_layer_names_are_shown_as_written(mpl: Any, tmp_path: Path) -> None:
    """A ``$`` in a layer name is no mathtext (which could not even parse some names)."""
    from convcalc import analyze_text
    from convcalc.outputs import plot

    (r,) = analyze_text("input: {channels: 3, size: 16}\nlayers:\n  - conv: {name: 'a$b$c', out: 4, kernel: 3}\n"
                        "  - conv: {name: '$\\frac{', out: 4, kernel: 3}\n")
    for make in (plot.layers_figure, plot.rf_figure):
        fig = make(r)
        plot.save(fig, tmp_path / "x.png")
        texts = [t.get_text() for t in drawn_texts(fig)]
        assert "a$b$c" in texts and "$\\frac{" in texts


def hide_matplotlib(monkeypatch: pytest.MonkeyPatch) -> None:
    """As if matplotlib were not installed: ``import matplotlib`` raises ImportError (and convcalc's picture
    modules, imported by earlier tests, are forgotten)."""
    import convcalc.outputs

    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith(("matplotlib.", "convcalc.outputs.plot"))]:
        monkeypatch.delitem(sys.modules, name)
        if name.startswith("convcalc.outputs."):
            monkeypatch.delattr(convcalc.outputs, name.rsplit(".", 1)[1], raising=False)
    monkeypatch.setitem(sys.modules, "matplotlib", None)


def run_cli(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


def test_cli_show_and_rf_write_pictures(mpl: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    out = tmp_path / "out.png"
    result = run_cli("show", "resnet18", "--plot", str(out))
    assert result.exit_code == 0, result.output
    assert "layer1/0/conv1" in result.stdout and result.stderr == f"wrote {out}\n"
    data = out.read_bytes()
    assert data[:8] == PNG and png_size(data) == (1200, 650) and len(data) > 20_000
    result = run_cli("rf", "specs/seed/dilated.yaml", "--plot", str(tmp_path / "rf.svg"))
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.glob("rf-*.svg")) == [f"rf-{k}.svg" for k in range(1, 6)]
    assert "wrote " + str(tmp_path / "rf-5.svg") + " (3x3 dilation 1,2,5 (hybrid))" in result.stderr
    result = run_cli("rf", "specs/seed/dilated.yaml", "--map", "conv1", "--plot", str(tmp_path / "map.png"))
    assert result.exit_code == 0, result.output
    assert png_size((tmp_path / "map-1.png").read_bytes()) == (750, 700)


@pytest.mark.parametrize("command", [["show", "resnet18"], ["rf", "resnet18"], ["rf", "resnet18", "--map", "fc"]])
def test_cli_refuses_a_picture_that_is_not_png_or_svg(command: list[str], tmp_path: Path) -> None:
    out = tmp_path / "out.txt"
    result = run_cli(*command, "--plot", str(out))
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr == f"--plot: expected a .png or .svg file, found '.txt' in {str(out)!r}\n"
    assert not out.exists()


def test_cli_without_matplotlib_says_how_to_install_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hide_matplotlib(monkeypatch)  # import matplotlib → ImportError
    out = tmp_path / "out.png"
    result = run_cli("show", "resnet18", "--plot", str(out))
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr == "--plot: pictures need matplotlib: python -m pip install 'convcalc[plot]'\n"
    assert not out.exists()


def test_nothing_imports_matplotlib_without_plot() -> None:
    code = ("import sys\nimport convcalc\nfrom convcalc.cli import run\nrun(['show', 'resnet18'])\n"
            "run(['rf', 'specs/seed/stack-5x5.yaml'])\n"
            "sys.stderr.write(str(sorted(m for m in sys.modules if m.startswith(('matplotlib', 'numpy', "
            "'convcalc.outputs.plot')))))\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert p.returncode == 0, p.stderr
    assert p.stderr == "[]"
