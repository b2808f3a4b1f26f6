"""Rendering: JSON for scripts (`--json`), Rich for people. Rich loads only when used."""

from __future__ import annotations

import json
import sys
from typing import Any, Callable

import click

json_option = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")


def console(stderr: bool = False):
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=True)


def emit(as_json: bool, data: Any, human: Callable[[], None] | None = None) -> None:
    if as_json or human is None:
        sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=None if as_json else 2) + "\n")
    else:
        human()


def table(title: str | None, columns: list[str], rows: list[list[Any]]) -> None:
    from rich.table import Table

    grid = Table(title=title, show_edge=False, header_style="bold")
    for column in columns:
        grid.add_column(column)
    for row in rows:
        grid.add_row(*("" if v is None else str(v) for v in row))
    console().print(grid)


def note(message: str) -> None:
    """Progress or advice for people, on stderr so stdout stays parseable."""
    console(stderr=True).print(message)
