"""Time as the relay sees it: unix milliseconds from a callable passed in (tests pass a
clock they move by hand; token expiry, challenges, TTLs and rate limits all read it)."""

from __future__ import annotations

import time
from collections.abc import Callable

Clock = Callable[[], int]


def system_clock() -> int:
    """Unix time in milliseconds."""
    return time.time_ns() // 1_000_000
