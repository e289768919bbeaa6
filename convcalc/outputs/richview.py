"""Rich tables for the terminal (built here, printed by the CLI). The only module that imports Rich."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Group
from rich.table import Table as RichTable
from rich.text import Text

from convcalc.outputs.views import Table


def rich_table(t: Table, fit: bool = False, widths: Sequence[int] | None = None) -> Group:
    """A Rich renderable of a neutral table and its notes.

    ``fit``: the table will get all the width it needs (piped output), so give every column the width of its
    widest cell up front: the same output, without Rich measuring every cell twice (~40% of printing a
    ResNet-50 table).

    ``widths``: the width of each column, from :func:`convcalc.outputs.fit.fit_table` (a terminal): every column gets
    exactly that, only the ``wrap`` columns wrap (at spaces; a longer word is folded), so no cell is cut.
    """
    cols: list[int | None] = [None] * len(t.columns)
    lines = [t.columns, *t.rows, *([t.footer] if t.footer else [])]
    if widths is not None:
        cols = list(widths)
    elif fit and not any("\n" in cell or "\t" in cell for line in lines for cell in line):
        from rich.cells import cell_len

        cols = [max(cell_len(line[i]) for line in lines) for i in range(len(t.columns))]
    # the title as Text: a model name is not Rich markup ("net[b]"), and no markup or emoji pass is needed
    rt = RichTable(title=Text(t.title, style="table.title"), show_footer=t.footer is not None, header_style="bold")
    for i, col in enumerate(t.columns):
        wraps = widths is not None and i in t.wrap
        no_wrap = i == 0 or (widths is not None and not wraps)
        rt.add_column(Text(col), justify="right" if i in t.numeric else "left",
                      footer=Text(t.footer[i]) if t.footer else "", no_wrap=no_wrap,
                      overflow="fold" if wraps else "ellipsis", width=cols[i])
    for row in t.rows:
        rt.add_row(*(Text(cell) for cell in row))
    notes = [Text(n, style="dim") for n in t.notes]
    return Group(rt, *notes)


def rich_stacked(t: Table, records: Sequence[tuple[str, str]]) -> Group:
    """A table too wide for the terminal as records (:func:`convcalc.outputs.fit.stacked_lines`): each row's name in
    bold, then one ``column: value`` line per cell, then the notes."""
    out: list[Text] = [Text(t.title, style="table.title")]
    for key, value in records:
        out.append(Text(key, style="bold") if not value else Text(f"  {key}: {value}", overflow="fold"))
    out += [Text(n, style="dim") for n in t.notes]
    return Group(*out)
