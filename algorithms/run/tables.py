"""Tables for the terminal that fit its width.

Every table apga prints goes through :func:`print_table`: it uses the terminal's full width
(rich's Console: the terminal's size, ``COLUMNS`` when set, 80 columns when the output is
not a terminal), lets cells wrap, and when even wrapped the table cannot fit, drops the
least important columns (lowest ``priority`` first) and says which in the caption, so
that nothing is cut off on an 80-column terminal. ``--json`` always has everything.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Column:
    """One column: its header, alignment and how long it stays when space is short
    (higher ``priority`` stays longer; the first column is never dropped). Cells of a
    ``wrap`` column (text) may break across lines; the others (numbers, names) never do:
    their column is as wide as its widest cell, and only its header wraps."""

    header: str
    justify: str = "right"
    priority: int = 0
    wrap: bool = False


def console(stderr: bool = False) -> Any:
    """A rich Console of the terminal's width (80 columns when not a terminal)."""
    from rich.console import Console

    return Console(stderr=stderr)


def build(title: str, columns: Sequence[Column], rows: Sequence[Sequence[str]],
          keep: Sequence[int], caption: str | None = None, width: int | None = None,
          **kwargs: Any) -> Any:
    """A rich Table of the columns ``keep`` (indices into ``columns``), each column as
    wide as :func:`_widths` allows within ``width`` (natural widths when None)."""
    from rich.table import Table

    t = Table(title=title, caption=caption, **kwargs)
    sizes = _widths(columns, rows, keep, width)
    for i, size in zip(keep, sizes, strict=True):
        c = columns[i]
        t.add_column(c.header, justify=c.justify, overflow="fold", width=size)
    for row in rows:
        t.add_row(*[str(row[i]) for i in keep])
    return t


def _widths(columns: Sequence[Column], rows: Sequence[Sequence[str]], keep: Sequence[int],
            width: int | None) -> list[int]:
    """Content widths of the kept columns: natural (widest cell or header) when they fit in
    ``width``; else shrunk, widest slack first, down to each column's minimum (its widest
    unbreakable cell, or longest word when it wraps, and its header's longest word)."""
    natural, least = [], []
    for i in keep:
        cells = [row[i] for row in rows]
        widest = max((_cell_width(c) for c in cells), default=1)
        body = max(((_words if columns[i].wrap else _cell_width)(c) for c in cells), default=1)
        natural.append(max(widest, _cell_width(columns[i].header)))
        least.append(max(body, _words(columns[i].header)))
    sizes = list(natural)
    if width is None:
        return sizes
    room = width - _overhead(len(keep))
    while sum(sizes) > room:
        k = max(range(len(sizes)), key=lambda j: (sizes[j] - least[j], -j))
        if sizes[k] <= least[k]:
            break
        sizes[k] -= 1
    return sizes


def _overhead(n: int) -> int:
    """Columns taken by padding (one space each side of a cell) and the n + 1 box lines."""
    return 3 * n + 1


def _cell_width(cell: Any) -> int:
    from rich.text import Text

    return Text.from_markup(str(cell)).cell_len


def _words(cell: Any) -> int:
    from rich.text import Text

    return max((Text(w).cell_len for w in Text.from_markup(str(cell)).plain.split()), default=1)


def _minimum(columns: Sequence[Column], rows: Sequence[Sequence[str]],
             keep: Sequence[int]) -> int:
    """Columns the table needs at least (every column at its minimum width)."""
    return sum(_widths(columns, rows, keep, 0)) + _overhead(len(keep))


def fit(con: Any, title: str, columns: Sequence[Column], rows: Sequence[Sequence[str]],
        caption: str | None = None, **kwargs: Any) -> Any:
    """The widest table of ``columns`` that fits ``con``'s width (see the module docstring)."""
    keep = list(range(len(columns)))
    dropped: list[str] = []
    while True:
        note = caption
        if dropped:
            extra = (f"not shown at {con.width} columns: {', '.join(dropped)} "
                     "(a wider terminal or --json shows them)")
            note = f"{caption}; {extra}" if caption else extra
        need = _minimum(columns, rows, keep)
        if need <= con.width or len(keep) <= 2:
            return build(title, columns, rows, keep, note, con.width, **kwargs)
        victim = min(keep[1:], key=lambda i: (columns[i].priority, -i))
        keep.remove(victim)
        dropped.append(columns[victim].header)


def print_table(title: str, columns: Sequence[Column], rows: Sequence[Sequence[str]],
                caption: str | None = None, con: Any = None, **kwargs: Any) -> None:
    """Print the table (:func:`fit`) on ``con`` (default: stdout's console)."""
    con = con if con is not None else console()
    con.print(fit(con, title, columns, rows, caption, **kwargs))
