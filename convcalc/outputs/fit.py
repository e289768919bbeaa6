"""Fitting a neutral :class:`~convcalc.outputs.views.Table` into a terminal width (pure: no Rich, no terminal).

The rule, tried in this order until the table fits (README, "Narrow terminals"):

1. A table that fits is printed as it is.
2. Columns with no values at all are left out; free-text columns (``Table.wrap``: zoo description, rf
   notes, diff changes) wrap at spaces, down to their longest word or :data:`WRAP_MIN` cells, whichever is
   less (a longer word is broken after punctuation, never inside a number); names (``Table.shorten``: the
   first column) are shortened in the middle with ``…``, down to :data:`NAME_MIN` cells.
3. The table's optional columns (``Table.optional``, in the order the view gives) are left out, one at a
   time; what they free goes back to names first, then to text.
4. Each row becomes a block of ``column: value`` lines.

Every other cell (numbers, shapes, ratios, types) keeps its full width, so Rich never has to cut one;
a note says what was left out or shortened.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from convcalc.outputs.views import Table

#: Names are not shortened below this many cells (or their header).
NAME_MIN = 16
#: Free text does not wrap narrower than this many cells (or its longest word, or its header).
WRAP_MIN = 20

Measure = Callable[[str], int]


def cell_width(text: str) -> int:
    """Terminal cells of a string: 2 for wide East Asian characters, 0 for combining marks (as Rich counts)."""
    if text.isascii():
        return len(text)
    import unicodedata

    return sum(0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1
               for c in text)


def overhead(columns: int) -> int:
    """Cells a Rich table spends besides its cells: one space each side of a cell, a rule between columns
    and at both edges."""
    return 3 * columns + 1


@dataclass(frozen=True)
class Fit:
    """How to print a table in a width: ``table`` holds the kept columns (names shortened, a note added) and
    ``widths`` the width of each of them; ``stacked``: print each row as a block of lines instead."""

    table: Table
    widths: tuple[int, ...]
    stacked: bool = False


def shorten(text: str, width: int, measure: Measure = cell_width, ellipsis: str = "…") -> str:
    """``text`` cut in the middle to ``width`` cells: ``layer1/0/downsample/0`` → ``layer1/…sample/0`` (16).

    The end is kept a little longer than the start (it tells siblings apart); a digit, ``.`` or ``,`` is
    never left just before the ellipsis, so a cut name never reads like a cut number.
    """
    if measure(text) <= width:
        return text
    room = max(0, width - measure(ellipsis))
    head = _take(text, room // 2, measure).rstrip("0123456789,.×%")
    tail = _take(text[::-1], room - measure(head), measure)[::-1]
    return head + ellipsis + tail


#: A word too long for its column is broken after one of these (``torchvision.models.`` | ``resnet50()``).
BREAKS = "./_-,;:(=&"


def wrap_text(text: str, width: int, measure: Measure = cell_width) -> str:
    """``text`` in lines of at most ``width`` cells, broken at spaces; a longer word starts a line and is
    broken after punctuation (:data:`BREAKS`), else at the width, but never inside a run of digits."""
    lines: list[str] = []
    for word in text.split():
        if lines and measure(lines[-1]) + 1 + measure(word) <= width:
            lines[-1] += " " + word
            continue
        while measure(word) > width:
            piece = _take(word, width, measure) or word[0]
            at = next((k for k in range(len(piece), 0, -1) if word[k - 1] in BREAKS and not _in_number(word, k)), 0)
            if not at:
                at = len(piece)
                while 0 < at < len(word) and _in_number(word, at):
                    at -= 1
                at = at or len(piece)
            lines.append(word[:at])
            word = word[at:]
        if word:
            lines.append(word)
    return "\n".join(lines)


def _in_number(word: str, k: int) -> bool:
    """Whether ``word[:k] | word[k:]`` would split a number (``61,1|00``, ``61,|100``, ``1.|5``)."""
    if k <= 0 or k >= len(word) or not word[k].isdigit():
        return False
    return word[k - 1].isdigit() or (word[k - 1] in ",." and k >= 2 and word[k - 2].isdigit())


def _take(text: str, width: int, measure: Measure) -> str:
    out = ""
    for c in text:
        if measure(out + c) > width:
            break
        out += c
    return out


def fit_table(t: Table, width: int, measure: Measure = cell_width, ellipsis: str = "…") -> Fit:
    """Fit ``t`` into ``width`` cells by the rule of this module."""
    lines = [t.columns, *t.rows, *([t.footer] if t.footer else [])]
    n = len(t.columns)
    natural = [max(measure(line[i]) for line in lines) for i in range(n)]
    minimum = []
    for i in range(n):
        header = measure(t.columns[i])
        if i in t.wrap:
            words = max((measure(w) for line in lines[1:] for w in line[i].split()), default=0)
            minimum.append(min(natural[i], max(header, min(words, WRAP_MIN))))
        elif i in t.shorten:
            minimum.append(min(natural[i], max(header, NAME_MIN)))
        else:
            minimum.append(natural[i])
    if sum(natural) + overhead(n) <= width:
        return Fit(t, tuple(natural))
    empty = [i for i in range(1, n) if len(lines) > 1 and not any(line[i].strip() for line in lines[1:])]
    optional = [i for i in dict.fromkeys(t.optional) if 0 <= i < n and i not in empty]
    for k in range(len(optional) + 1):
        dropped = [*empty, *optional[:k]]
        kept = [i for i in range(n) if i not in dropped]
        widths = _widths(kept, natural, minimum, width - overhead(len(kept)), t) if kept else None
        if widths is not None:
            return _kept(t, kept, widths, dropped, empty, measure, ellipsis)
    note = "narrow terminal: one block per row; a wider terminal or --format csv shows the table"
    return Fit(replace(t, notes=[*t.notes, note]), (), stacked=True)


def _widths(kept: list[int], natural: list[int], minimum: list[int], room: int, t: Table) -> list[int] | None:
    """Widths of the kept columns in ``room`` cells (None: they do not fit): every column at its minimum,
    then what is left to names, then to free text, a cell to each in turn, up to their natural widths."""
    widths = {i: minimum[i] for i in kept}
    left = room - sum(widths.values())
    if left < 0:
        return None
    for group in ([i for i in kept if i in t.shorten], [i for i in kept if i in t.wrap]):
        short = [i for i in group if widths[i] < natural[i]]
        while left > 0 and short:  # a cell at a time to each, in turn
            for i in short[:left]:
                widths[i] += 1
            left -= len(short[:left])
            short = [i for i in short if widths[i] < natural[i]]
    return [widths[i] for i in kept]


def _kept(t: Table, kept: list[int], widths: list[int], dropped: Sequence[int], empty: Sequence[int],
          measure: Measure, ellipsis: str) -> Fit:
    """The table with only the ``kept`` columns, names shortened and free text wrapped to their widths, and
    a note saying what was left out or shortened."""
    w = dict(zip(kept, widths, strict=True))

    def cell(line: Sequence[str], i: int) -> str:
        if i in t.shorten:
            return shorten(line[i], w[i], measure, ellipsis)
        return wrap_text(line[i], w[i], measure) if i in t.wrap and measure(line[i]) > w[i] else line[i]

    rows = [tuple(cell(r, i) for i in kept) for r in t.rows]
    footer = tuple(cell(t.footer, i) for i in kept) if t.footer else None
    old = [*t.rows, *([t.footer] if t.footer else [])]
    cut = any(new[j] != line[i] for new, line in zip([*rows, *([footer] if footer else [])], old, strict=True)
              for j, i in enumerate(kept) if i in t.shorten)
    if not dropped and not cut:
        return Fit(replace(t, rows=rows, footer=footer), tuple(widths))
    parts = []
    if any(i not in empty for i in dropped):
        parts.append("left out " + ", ".join(column_label(t, i) for i in sorted(dropped) if i not in empty))
    if empty:
        parts.append("empty columns not shown (" + ", ".join(column_label(t, i) for i in empty) + ")")
    if cut:
        parts.append(f"names shortened with {ellipsis}")
    note = f"narrow terminal: {'; '.join(parts)}; a wider terminal or --format csv shows all"

    def index(s: frozenset[int]) -> frozenset[int]:
        return frozenset(kept.index(i) for i in s if i in kept)

    table = Table(t.title, tuple(t.columns[i] for i in kept), rows, footer, [*t.notes, note], index(t.numeric),
                  optional=(), wrap=index(t.wrap), shorten=index(t.shorten))
    return Fit(table, tuple(widths))


def column_label(t: Table, i: int) -> str:
    """A column's header, told apart from a same-named one by the header before it (``FLOPs ×``)."""
    name = t.columns[i]
    if t.columns.count(name) > 1 and i > 0:
        return f"{t.columns[i - 1]} {name}"
    return name


def stacked_lines(t: Table) -> list[tuple[str, str]]:
    """A table as records: ``(name, "")`` opening each row (its first cell), then ``(column, value)`` for
    each other non-empty cell; the footer is the last record."""
    out: list[tuple[str, str]] = []
    for line in [*t.rows, *([t.footer] if t.footer else [])]:
        out.append((line[0], ""))
        out += [(column_label(t, i), line[i]) for i in range(1, len(t.columns)) if line[i].strip()]
    return out


def map_text(t: Table, fn: Callable[[str], str]) -> Table:
    """``t`` with ``fn`` applied to its title, headers, cells and notes (e.g. ASCII stand-ins)."""
    return replace(t, title=fn(t.title), columns=tuple(fn(c) for c in t.columns),
                   rows=[tuple(fn(c) for c in r) for r in t.rows],
                   footer=tuple(fn(c) for c in t.footer) if t.footer else None, notes=[fn(n) for n in t.notes])
