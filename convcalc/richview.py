"""Rich tables for the terminal (built here, printed by the CLI). The only module that imports Rich."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table as RichTable
from rich.text import Text

from convcalc.views import Table


def rich_table(t: Table) -> Group:
    """A Rich renderable of a neutral table and its notes."""
    rt = RichTable(title=t.title, show_footer=t.footer is not None, header_style="bold")
    for i, col in enumerate(t.columns):
        rt.add_column(Text(col), justify="right" if i in t.numeric else "left",
                      footer=Text(t.footer[i]) if t.footer else "", no_wrap=i == 0)
    for row in t.rows:
        rt.add_row(*(Text(cell) for cell in row))
    notes = [Text(n, style="dim") for n in t.notes]
    return Group(rt, *notes)
