"""Per-client token buckets: `rate` requests a second, with `burst` in reserve.

The clock is passed in (unix ms); buckets idle long enough to be full again are dropped,
so memory follows the clients seen in the last burst/rate seconds. When `max_clients`
buckets are all still in debt, a limiter made with `forget=False` refuses new clients
(until buckets refill) rather than forget anyone's debt: otherwise whoever can name many
keys (addresses, mailboxes) could reset the bucket of the key they attack.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable


class RateLimiter:
    def __init__(
        self, rate: float, burst: int, clock: Callable[[], int], *, max_clients: int = 100_000, forget: bool = True
    ) -> None:
        self.rate = rate / 1000.0  # tokens per ms
        self.burst = float(max(burst, 1))
        self.clock = clock
        self.max_clients = max_clients
        self.forget = forget
        self._buckets: dict[str, tuple[float, int]] = {}  # client -> (tokens, at ms)
        self._lock = threading.Lock()  # take_n is called from the database threads

    def take(self, client: str, cost: float = 1.0) -> int:
        """0 if the request may go ahead (and `cost` is spent), else the seconds to wait
        (Retry-After). A cost over the burst is never affordable: ask for less at once."""
        now = self.clock()
        known = self._buckets.get(client)
        if known is None and len(self._buckets) >= self.max_clients:
            self._prune(now)
            if len(self._buckets) >= self.max_clients:  # everyone here still owes: no room for news
                return max(1, math.ceil(self.burst / self.rate / 1000.0)) if self.rate > 0 else 60
        tokens, at = known if known is not None else (self.burst, now)
        tokens = min(self.burst, tokens + max(now - at, 0) * self.rate)
        if tokens >= cost:
            self._store(client, tokens - cost, now)
            return 0
        self._store(client, tokens, now)
        return max(1, math.ceil((min(cost, self.burst) - tokens) / self.rate / 1000.0))

    def owes(self, client: str) -> bool:
        """Whether the client's bucket is empty now (nothing is spent by asking)."""
        known = self._buckets.get(client)
        if known is None:
            return False
        tokens, at = known
        return tokens + max(self.clock() - at, 0) * self.rate < 1.0

    def take_n(self, client: str, cost: float) -> int:
        """`take`, safe to call from several threads."""
        with self._lock:
            return self.take(client, cost)

    def _store(self, client: str, tokens: float, now: int) -> None:
        self._buckets[client] = (tokens, now)

    def _prune(self, now: int) -> None:
        """Drop the buckets that are full again (nothing owed); with `forget`, the oldest
        half beyond that when a flood of fresh clients still fills the table."""
        rate = self.rate if self.rate > 0 else 0.0
        self._buckets = {c: (t, at) for c, (t, at) in self._buckets.items() if t + (now - at) * rate < self.burst}
        if self.forget and len(self._buckets) >= self.max_clients:  # forget the oldest half
            keep = sorted(self._buckets.items(), key=lambda item: item[1][1])[len(self._buckets) // 2 :]
            self._buckets = dict(keep)
