"""Rendering: JSON for scripts (`--json`), Rich for people. Rich loads only when used."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

import click

from .inert import inert, json_text

json_option = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")


def console(stderr: bool = False):
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


def emit(as_json: bool, data: Any, human: Callable[[], None] | None = None) -> None:
    if as_json or human is None:
        sys.stdout.write(json_text(json.dumps(data, ensure_ascii=False, indent=None if as_json else 2)) + "\n")
    else:
        human()


# Cells this long or shorter (addresses: 42, hashes: 66) are never wrapped or cut: a
# truncated address is worse than a wide table.
UNBREAKABLE = 66


def table(title: str | None, columns: list[str], rows: list[list[Any]]) -> None:
    """Rows as a table when it fits the terminal, else as one block of `name  value` lines per
    row: Rich would otherwise squeeze columns to nothing or crop addresses at the edge."""
    from rich.table import Table
    from rich.text import Text

    out = console()
    cells = [["" if v is None else inert(v) for v in row] for row in rows]  # cells often hold others' strings
    widths = [max([len(column), *(len(row[i]) for row in cells)]) for i, column in enumerate(columns)]
    if title:
        out.print(Text(inert(title), style="bold"))
    if sum(widths) + 3 * len(columns) > out.width:
        for row in cells:
            record = Table.grid(padding=(0, 2))
            record.add_column(style="bold", no_wrap=True)
            record.add_column(overflow="fold")
            for column, value in zip(columns, row, strict=True):
                record.add_row(column or "-", Text(value))  # Text: user data is never markup
            out.print(record)
            out.print()
        return
    grid = Table(show_edge=False, header_style="bold")
    for i, column in enumerate(columns):
        if widths[i] <= UNBREAKABLE:
            grid.add_column(column, no_wrap=True, min_width=widths[i])
        else:
            grid.add_column(column, overflow="fold")
    for row in cells:
        grid.add_row(*(Text(v) for v in row))
    out.print(grid)


def note(message: str) -> None:
    """Progress or advice for people, on stderr so stdout stays parseable. `message` is
    Rich markup: put anyone else's string in it through `inert.markup`."""
    console(stderr=True).print(message)
