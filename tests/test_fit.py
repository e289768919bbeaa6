"""Tables that fit the terminal (convcalc.outputs.fit, pure) and text for streams that cannot encode it (convcalc.outputs.textout)."""

from __future__ import annotations

import functools
import io
import json
import re

import pytest
from rich.cells import cell_len
from rich.console import Console

from convcalc import Report, analyze_document, compare
from convcalc.lang.sources import open_source, zoo_names
from convcalc.outputs.fit import NAME_MIN, WRAP_MIN, fit_table, overhead, shorten, stacked_lines, wrap_text
from convcalc.outputs.richview import rich_stacked, rich_table
from convcalc.outputs.textout import ascii_of, for_encoding
from convcalc.outputs.views import Table, compare_table, rf_table, show_table, zoo_table

CUT_NUMBER = re.compile(r"[0-9,.×%]…")


@functools.cache
def _reports(source: str) -> list[Report]:
    return analyze_document(open_source(source))


def _printed(t: Table, width: int) -> list[str]:
    """A table fitted to ``width`` and printed as the CLI does on a terminal of that width."""
    f = fit_table(t, width, cell_len)
    buf = io.StringIO()
    console = Console(file=buf, width=width, color_system=None)
    console.print(rich_stacked(f.table, stacked_lines(f.table)) if f.stacked else rich_table(f.table, widths=f.widths))
    return buf.getvalue().splitlines()


def test_shorten_keeps_both_ends_and_never_leaves_a_digit_before_the_ellipsis() -> None:
    assert shorten("layer1/0/downsample/0", 21) == "layer1/0/downsample/0"
    assert shorten("layer1/0/downsample/0", 16) == "layer1/…sample/0"  # not "layer1/0…sample/0"
    assert shorten("layer1/0/downsample/0", 20) == "layer1/0/…wnsample/0"
    assert shorten("specs/scale/resnet1001.yaml", 16) == "specs/s…001.yaml"
    assert shorten("specs/scale/resnet1001.yaml", 16, ellipsis="...") == "specs/...01.yaml"
    assert shorten("数据/conv1", 6, cell_len) == "数…nv1"  # wide characters count two cells


def test_wrapped_text_breaks_at_spaces_then_after_punctuation_never_inside_a_number() -> None:
    text = "AlexNet as built by torchvision.models.alexnet(); num_params (61,100,840)."
    assert wrap_text(text, 24).split("\n") == ["AlexNet as built by", "torchvision.models.", "alexnet(); num_params",
                                               "(61,100,840)."]
    assert wrap_text(text, 10).split("\n") == ["AlexNet as", "built by", "torchvisio", "n.models.", "alexnet();",
                                               "num_params", "(", "61,100,840", ")."]
    assert wrap_text("x 12345678", 5) == "x\n12345\n678"  # a number wider than the column: no other way


def test_a_table_that_fits_is_unchanged() -> None:
    t = show_table(_reports("specs/seed/stack-5x5.yaml")[0])
    f = fit_table(t, 80, cell_len)
    assert f.table is t and not f.stacked
    assert f.widths == (5, 4, 6, 6, 4, 6, 11)  # every column at its widest cell (or header)


def test_show_resnet50_at_80_columns() -> None:
    t = show_table(_reports("resnet50")[0], exact=True)
    f = fit_table(t, 80, cell_len)
    assert f.table.columns == ("layer", "output", "params", "MACs", "MACs %")
    assert f.table.notes[-1] == ("narrow terminal: left out type, activations; a wider terminal or --format csv "
                                 "shows all")
    assert sum(f.widths) + overhead(5) <= 80
    assert ("conv1", "64×112×112", "9,408", "118,013,952", "2.9%") in f.table.rows
    assert f.table.footer == ("total", "1000×1×1", "25,557,032", "4,089,184,256", "100%")
    si = fit_table(show_table(_reports("resnet50")[0]), 80, cell_len)  # SI: only activations go, names shorten
    assert si.table.columns == ("layer", "type", "output", "params", "MACs", "MACs %")
    assert ("layer1/…wnsample/0", "conv", "256×56×56", "16.4K", "51.4M", "1.3%") in si.table.rows
    assert si.table.notes[-1] == ("narrow terminal: left out activations; names shortened with …; a wider "
                                  "terminal or --format csv shows all")


def test_columns_go_in_the_order_the_view_gives() -> None:
    c = compare(_reports("specs/seed/same-channels.yaml"))
    t = compare_table(c, exact=True)
    assert t.columns == ("model", "params", "×", "MACs", "×", "FLOPs", "×", "activations", "output", "RF", "depth")
    kept = [fit_table(t, w, cell_len).table.columns for w in (107, 106, 98, 85, 76, 62, 55)]
    assert kept == [
        t.columns,
        ("model", "params", "×", "MACs", "×", "FLOPs", "activations", "output", "RF", "depth"),  # FLOPs × first
        ("model", "params", "×", "MACs", "×", "activations", "output", "RF", "depth"),
        ("model", "params", "×", "MACs", "×", "activations", "RF", "depth"),
        ("model", "params", "×", "MACs", "×", "RF", "depth"),
        ("model", "params", "×", "MACs", "×", "RF"),
        ("model", "params", "×", "MACs", "×", "RF"),  # names at their floor: the last size that fits
    ]
    assert fit_table(t, 54, cell_len).stacked  # the essential columns no longer fit


def test_empty_columns_go_first_and_free_text_wraps() -> None:
    t = Table("t", ("name", "value", "notes", "extra"), [("a", "1", "", "x" * 30), ("b", "22", "", "y")],
              numeric=frozenset({1}), optional=(3,), wrap=frozenset({3}))
    f = fit_table(t, 40, cell_len)
    assert f.table.columns == ("name", "value", "extra") and f.widths == (4, 5, 21)
    assert f.table.notes == ["narrow terminal: empty columns not shown (notes); a wider terminal or --format csv "
                             "shows all"]
    assert f.table.wrap == frozenset({2})  # indices follow the kept columns


def test_free_text_is_never_narrower_than_its_floor() -> None:
    t = zoo_table([r for n in zoo_names() for r in _reports(n)], exact=True)
    f = fit_table(t, 80, cell_len)
    assert f.table.columns == ("model", "params", "MACs", "description")  # input went, so the text has room
    assert f.widths[-1] >= WRAP_MIN and sum(f.widths) + overhead(4) == 80


def test_stacked_as_the_last_resort() -> None:
    t = compare_table(compare(_reports("specs/seed/stack-5x5.yaml")))
    f = fit_table(t, 30, cell_len)
    assert f.stacked and f.table.notes[-1].startswith("narrow terminal: one block per row")
    records = stacked_lines(f.table)
    assert records[:4] == [("one 5x5", ""), ("params", "2500"), ("params ×", "1.00×"), ("MACs", "2500")]
    assert ("two 3x3", "") in records and ("RF", "5×5") in records
    lines = _printed(t, 30)
    assert lines[:3] == ["compare", "one 5x5", "  params: 2500"]
    assert all(cell_len(line) <= 30 for line in lines)


@pytest.mark.parametrize("width", [60, 80, 110])
def test_no_number_is_ever_cut(width: int) -> None:
    """Every bundled model's show, show --exact and rf tables, and the zoo, at several widths: no line is
    wider than the terminal, no cell but a name loses a character, and no number ends in an ellipsis."""
    reports = [r for n in zoo_names() for r in _reports(n)]
    tables = [zoo_table(reports), zoo_table(reports, True), compare_table(compare(reports), True)]
    for r in reports[::4]:
        tables += [show_table(r), show_table(r, True), rf_table(r)]
    for t in tables:
        f = fit_table(t, width, cell_len)
        lines = _printed(t, width)
        assert max(cell_len(line) for line in lines) <= width, t.title
        assert not any(CUT_NUMBER.search(line) for line in lines), t.title
        if f.stacked:
            continue
        kept = [t.columns.index(c) if t.columns.count(c) == 1 else None for c in f.table.columns]
        for new, old in zip(f.table.rows, t.rows, strict=True):
            for j, i in enumerate(kept):
                if i is not None and i in t.wrap:  # the same words, in lines
                    assert new[j].split() == old[i].split() or "".join(new[j].split()) == "".join(old[i].split())
                    assert max(cell_len(x) for x in new[j].split("\n")) <= f.widths[j]
                elif i is not None and i not in t.shorten:
                    assert new[j] == old[i]
                elif i in t.shorten and new[j] != old[i]:
                    head, tail = new[j].split("…")
                    assert old[i].startswith(head) and old[i].endswith(tail)
                    assert cell_len(new[j]) >= min(NAME_MIN, cell_len(old[i]))


def test_ascii_stand_ins() -> None:
    assert for_encoding("64×112×112 → 5×5 …", "ascii") == "64x112x112 -> 5x5 ..."
    assert for_encoding("64×112×112 → …", "cp1252") == "64×112×112 -> …"  # what cp1252 has is kept
    assert for_encoding("Δ params ░▒▓█ · ✅ ⚠️ café 数", "ascii") == "delta params -+*# . [ok] [!] cafe ?"
    assert for_encoding("×", "utf-8") == "×" and for_encoding("×", None) == "×"
    assert [ascii_of(c) for c in "²é"] == ["^2", "e"]
    text = json.dumps({"name": "café × 𝑥"}, ensure_ascii=False)
    escaped = for_encoding(text, "ascii", "json")
    assert escaped.isascii() and json.loads(escaped) == {"name": "café × 𝑥"}
    assert for_encoding("<a b='×'/>", "ascii", "xml") == "<a b='&#215;'/>"
