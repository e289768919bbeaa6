"""``convcalc report``: one self-contained page (no URL at all), the comparison, per model a sortable layer table with
exact numbers, the footprint of each output's centre unit, the budgets' verdicts, the conventions; every string of a
spec escaped; without matplotlib a note instead of the charts and everything else still there."""

from __future__ import annotations

import base64
import os
import re
import sys
import zlib
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from convcalc.cli import app
from tests.conftest import ROOT

EVIL_NAME = "<script>alert(1)</script>"
EVIL_ATTR = '"><img src=x onerror=alert(1)>'
EVIL_LAYER = "<svg onload=alert(1)>"  # a layer name cannot hold '/', so not the </script> one
EVIL_SPEC = f"""name: '{EVIL_NAME}'
description: '{EVIL_ATTR}'
input: {{channels: 3, size: 16}}
budget: {{max_params: 100}}
layers:
  - conv: {{name: '{EVIL_LAYER}', out: 4, kernel: 3}}
  - relu: {{name: '{EVIL_ATTR}'}}
  - conv: {{name: 'a$b$c', out: 2, kernel: 3}}
"""


def evil_spec(tmp_path: Path) -> Path:
    path = tmp_path / 'x"><i>y.yaml'
    path.write_text(EVIL_SPEC, encoding="utf-8")
    return path


def hide_matplotlib(monkeypatch: pytest.MonkeyPatch) -> None:
    """As if matplotlib were not installed: ``import matplotlib`` raises ImportError (and convcalc's picture
    modules, imported by earlier tests, are forgotten)."""
    import convcalc.outputs

    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith(("matplotlib.", "convcalc.outputs.plot"))]:
        monkeypatch.delitem(sys.modules, name)
        if name.startswith("convcalc.outputs."):
            monkeypatch.delattr(convcalc.outputs, name.rsplit(".", 1)[1], raising=False)
    monkeypatch.setitem(sys.modules, "matplotlib", None)


def run(*args: str) -> Any:
    return CliRunner().invoke(app, ["report", *args])


class Tables(HTMLParser):
    """The page's tables: per table id, its rows of (text, data-v) cells, and every tag seen."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[tuple[str, str | None]]]] = {}
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self._table: str | None = None
        self._in_body = False
        self._cell: list[str] | None = None
        self._v: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag == "table":
            self._table = a.get("id") or f"table{len(self.tables)}"
            self.tables[self._table] = []
        elif tag == "tbody":
            self._in_body = True
        elif tag == "tr" and self._in_body and self._table:
            self.tables[self._table].append([])
        elif tag == "td" and self._in_body:
            self._cell, self._v = [], a.get("data-v")

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._cell is not None and self._table:
            self.tables[self._table][-1].append(("".join(self._cell), self._v))
            self._cell = None
        elif tag == "tbody":
            self._in_body = False

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def parse(page: str) -> Tables:
    p = Tables()
    p.feed(page)
    return p


def no_urls(page: str) -> None:
    assert "http://" not in page and "https://" not in page
    links = [v or "" for _, a in parse(page).tags for k, v in a.items() if k in ("src", "href", "xlink:href")]
    assert links and all(v.startswith(("data:", "#")) for v in links)
    assert "@import" not in page and not re.search(r"url\((?!#)", page)


def png_pixels(data: bytes) -> list[list[tuple[int, int, int]]]:
    """The pixels of an 8-bit RGB PNG without filters (as convcalc writes them)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    w, h = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    pos, idat = 8, b""
    while pos < len(data):
        n = int.from_bytes(data[pos:pos + 4], "big")
        if data[pos + 4:pos + 8] == b"IDAT":
            idat += data[pos + 8:pos + 8 + n]
        pos += 12 + n
    raw = zlib.decompress(idat)
    rows = []
    for y in range(h):
        line = raw[y * (3 * w + 1):(y + 1) * (3 * w + 1)]
        assert line[0] == 0
        rows.append([tuple(line[1 + 3 * x:4 + 3 * x]) for x in range(w)])
    return rows  # type: ignore[return-value]


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The page of ResNet-18, the dilation spec (5 models) and a spec with a failing budget, with --size 128."""
    tmp = tmp_path_factory.mktemp("report")
    out = tmp / "report.html"
    with pytest.MonkeyPatch.context() as m:
        m.chdir(ROOT)
        result = run("resnet18", "specs/seed/dilated.yaml", str(evil_spec(tmp)), "--size", "32", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert result.stdout == "" and f"wrote {out}\n" in result.stderr
    return out.read_text(encoding="utf-8")


def test_the_page_is_self_contained(page: str) -> None:
    no_urls(page)
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert page.count("<script") == 1 and page.count("<style") == 1
    from convcalc.outputs.html_assets import JS, script_hash

    assert f"script-src {script_hash()}".replace("'", "&#x27;") in page and f"<script>{JS}</script>" in page


def test_comparison_and_layer_tables(page: str) -> None:
    p = parse(page)
    compare = p.tables["compare-table"]
    assert [row[0][0] for row in compare] == ["resnet18", "3x3", "3x3 dilation 2", "5x5", "3x3 dilation 2 x3 (gridded)",
                                              "3x3 dilation 1,2,5 (hybrid)", EVIL_NAME]
    assert compare[0][1] == ("11.7M", "11689512") and compare[0][3][1] == "37523456"  # ResNet-18 at 32×32
    layers = [k for k in p.tables if k.startswith("layers-")]
    assert layers == [f"layers-{k}" for k in range(1, 8)]
    resnet = p.tables["layers-1"]
    assert len(resnet) == 69
    assert [(c[0], c[1]) for c in resnet[0][:6]] == [("0", "0"), ("conv1", None), ("conv", None),
                                                    ("64×16×16", None), ("9408", "9408"), ("2.41M", "2408448")]
    assert all(row[5][1] is not None and row[5][1].isdigit() for row in resnet)  # MACs: exact integers to sort by
    assert "--size 32x32" in page and 'id="layers-1-count">69 of 69 rows<' in page
    filters = [a for tag, a in p.tags if tag == "input" and "filter" in (a.get("class") or "")]
    assert [a["data-for"] for a in filters] == layers


def test_footprints_budgets_and_conventions(page: str) -> None:
    p = parse(page)
    images = [a for tag, a in p.tags if tag == "img" and "heatmap" in (a.get("class") or "")]
    assert len(images) == 6  # the dilation spec's five outputs and the small spec's; ResNet-18's is too large
    gridded = next(a for a in images if "(gridded)" in (a.get("alt") or ""))
    src = gridded["src"] or ""
    assert src.startswith("data:image/png;base64,")
    pixels = png_pixels(base64.b64decode(src.split(",", 1)[1]))
    assert len(pixels) == 13 and len(pixels[0]) == 13
    assert sum(px == (255, 255, 255) for row in pixels for px in row) == 120  # the holes, white
    assert pixels[6][6] == (253, 231, 37)  # the centre holds the largest count (49)
    assert page.count('<svg class="profiles"') == 1  # ResNet-18: per-axis counts
    assert "ERF50 3×3" in page  # one 3×3: its output's centre unit
    budgets = next(rows for rows in p.tables.values() if any(c[0] == "max_params" for row in rows for c in row))
    assert [c[0] for c in budgets[-1]] == [EVIL_NAME, "max_params", "100", "186", "FAIL"]
    assert sum(row[1][0] == "no budget" for row in budgets) == 6
    assert '<section id="conventions">' in page
    for words in ("learnable parameters", "2·MACs + adds + muls + divs", "A bias is not a MAC", "fp32",
                  "batch 1", "inference peak of live tensors", "effective stride"):
        assert words in page, words


def test_every_string_of_a_spec_is_escaped(page: str) -> None:
    for raw in (EVIL_NAME, EVIL_ATTR, EVIL_LAYER, 'x"><i>y.yaml'):
        assert raw not in page, raw
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;" in page
    assert "&lt;svg onload=alert(1)&gt;" in page
    assert "x&quot;&gt;&lt;i&gt;y.yaml" in page
    tags = {tag for tag, _ in parse(page).tags}
    assert "img" in tags and "i" not in tags  # the only images are the heatmaps
    assert not [a for tag, a in parse(page).tags if any(k.startswith("on") for k in a)]  # no event handler anywhere


@pytest.mark.plot
def test_charts_are_inline_svg(page: str) -> None:
    if os.environ.get("CONVCALC_REQUIRE_PLOT") != "1":  # CI: required, never skipped
        pytest.importorskip("matplotlib", reason="the charts need matplotlib: python -m pip install '.[plot]'")
    charts = re.findall(r'<svg class="chart" role="img" aria-label="([^"]*)"', page)
    assert len(charts) == 14 and charts[0] == "resnet18: MACs and params per layer"
    ids = re.findall(r'\sid="([^"]+)"', page)
    assert len(ids) == len(set(ids))  # the charts' ids made unique in the page
    assert "<!--" not in page and "<metadata" not in page and "DOCTYPE svg" not in page


def test_without_matplotlib_a_note_and_the_rest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hide_matplotlib(monkeypatch)
    monkeypatch.chdir(ROOT)
    result = run("specs/seed/stack-5x5.yaml")
    assert result.exit_code == 0
    assert result.stderr == ("warning: the page has no charts: pictures need matplotlib: python -m pip install "
                             "'convcalc[plot]'\n")
    page = result.stdout
    assert page.count("The charts are left out: pictures need matplotlib") == 2
    assert '<svg class="chart"' not in page
    p = parse(page)
    assert len(p.tables["compare-table"]) == 2 and len(p.tables["layers-2"]) == 4
    assert page.count('class="heatmap"') == 2
    no_urls(page)


def test_stdout_dash_and_determinism(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    a = run("specs/seed/grouped.yaml", "-o", "-")
    b = run("specs/seed/grouped.yaml")
    assert a.exit_code == b.exit_code == 0 and a.stdout == b.stdout and a.stdout.startswith("<!DOCTYPE html>")


def test_unreadable_specs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    bad = tmp_path / "typo<b>.yaml"
    bad.write_text((ROOT / "tests/fixtures/typo.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    out = tmp_path / "page.html"
    result = run("specs/seed/stem.yaml", str(bad), "no-such-model", "-o", str(out))
    assert result.exit_code == 2
    assert f"{bad}:3:29: layers[0].conv.kernal: unknown argument 'kernal' for conv" in result.stderr
    assert "no-such-model:1:1: (document): no such file, and no zoo model of that name" in result.stderr
    page = out.read_text(encoding="utf-8")
    assert "Specs that could not be read" in page and "typo&lt;b&gt;.yaml" in page and "typo<b>" not in page
    assert len(parse(page).tables["compare-table"]) == 2  # stem's two models are still there
    nothing = tmp_path / "nothing.html"
    result = run("no-such-model", "-o", str(nothing))
    assert result.exit_code == 2 and not nothing.exists() and result.stdout == ""
    result = run("specs/seed/stem.yaml", "-o", str(tmp_path / "missing-dir" / "page.html"))
    assert result.exit_code == 2 and result.stderr.splitlines()[-1].startswith("--output: cannot write '")
    assert "Traceback" not in result.output


def test_library_page_is_a_string() -> None:
    from convcalc.outputs.html_data import collect
    from convcalc.outputs.html_report import report_page

    page = collect(["specs/seed/se.yaml"])
    assert page.errors == () and len(page.models) == 2
    text = report_page(page, charts=False)
    assert isinstance(text, str) and "left out" not in text and '<svg class="chart"' not in text
    with pytest.raises(ValueError):
        report_page(collect(["no-such-model"]))
