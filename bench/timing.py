"""What the benchmark scripts share: best-of timing, rates, and the printed table."""

from __future__ import annotations

import time
from collections.abc import Callable


def best_of(runs: int, fn: Callable[[], object]) -> float:
    """The fastest of `runs` timings, in seconds (the least disturbed by the machine)."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def rate(count: int, fn: Callable[[int], object]) -> float:
    """Calls per second of fn(i), best of 3 batches of `count`."""
    return count / best_of(3, lambda: [fn(i) for i in range(count)])


def print_table(title: str, rows: list[tuple[str, str, str]], caption: str | None = None) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, caption=caption)
    for column in ("what", "measured", "target"):
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    Console().print(table)
