"""Rich tables for the terminal (built here, printed by the CLI). The only module that imports Rich."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table as RichTable
from rich.text import Text

from convcalc.views import Table


def rich_table(t: Table, fit: bool = False) -> Group:
    """A Rich renderable of a neutral table and its notes.

    ``fit``: the table will get all the width it needs (piped output), so give every column the width of its
    widest cell up front: the same output, without Rich measuring every cell twice (~40% of printing a
    ResNet-50 table).
    """
    widths: list[int | None] = [None] * len(t.columns)
    lines = [t.columns, *t.rows, *([t.footer] if t.footer else [])]
    if fit and not any("\n" in cell or "\t" in cell for line in lines for cell in line):
        from rich.cells import cell_len

        widths = [max(cell_len(line[i]) for line in lines) for i in range(len(t.columns))]
    # the title as Text: a model name is not Rich markup ("net[b]"), and no markup or emoji pass is needed
    rt = RichTable(title=Text(t.title, style="table.title"), show_footer=t.footer is not None, header_style="bold")
    for i, col in enumerate(t.columns):
        rt.add_column(Text(col), justify="right" if i in t.numeric else "left",
                      footer=Text(t.footer[i]) if t.footer else "", no_wrap=i == 0, width=widths[i])
    for row in t.rows:
        rt.add_row(*(Text(cell) for cell in row))
    notes = [Text(n, style="dim") for n in t.notes]
    return Group(rt, *notes)
