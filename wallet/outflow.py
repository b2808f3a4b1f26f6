"""What a transaction lets leave the account, and daily limits on it. Pure.

`outflow(to, value, data)` -> {"ETH": wei, token address: base units}: the ETH value, plus
for a call to a token its ERC-20 `transfer` amount, or its `approve` amount (an approval
lets the spender take that much later, so it counts as leaving now; an unlimited approval
exceeds every limit). `transferFrom` moves someone else's allowance and is not counted.

A limit is written `AMOUNT UNIT/day` (`0.5 ETH/day`, `100 TKN/day`). `Tally.check` says
whether one more outflow keeps the day (UTC) within every limit.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from . import erc20
from .amounts import AmountError, parse_amount, to_units

ETH = "ETH"
DAY = 86_400
_LIMIT = re.compile(r"^\s*(?P<amount>.+?)\s*/\s*(?P<per>day|d|24h)\s*\Z", re.IGNORECASE)


def outflow(to: str | None, value: int, data: bytes) -> dict[str, int]:
    out: dict[str, int] = {}
    if value:
        out[ETH] = value
    decoded = erc20.decode_call(data) if to is not None else None
    if decoded is not None and decoded.function in ("transfer", "approve"):
        amount = decoded.args["amount"]
        if isinstance(amount, int) and amount:
            out[to.lower() if to else ""] = amount
    return out


@dataclass(frozen=True, slots=True)
class Limit:
    asset: str  # "ETH" or a token address (lower case)
    units: int  # base units per day
    shown: str  # as the person wrote it, e.g. "0.5 ETH/day"

    def to_json(self) -> dict[str, object]:
        return {"asset": self.asset, "units": str(self.units), "shown": self.shown}

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> Limit:
        return cls(str(data["asset"]), int(str(data["units"])), str(data["shown"]))


def parse_limit(text: str, tokens: Mapping[str, tuple[str, int]]) -> Limit:
    """`0.5 ETH/day`; `tokens` maps a symbol (upper case) to (address, decimals)."""
    match = _LIMIT.match(text)
    if match is None:
        raise AmountError(f"a limit reads like '0.5 ETH/day', not {text!r}")
    amount = parse_amount(match["amount"], ETH)
    if amount.is_max or amount.value is None:
        raise AmountError("a limit needs a number, not 'max'")
    unit = (amount.unit or ETH).upper()
    if unit == ETH:
        return Limit(ETH, to_units(amount.value, 18, ETH), f"{amount.value} ETH/day")
    if unit not in tokens:
        raise AmountError(f"unknown token {amount.unit!r} in the limit: add it with `hongbao token add`")
    address, decimals = tokens[unit]
    return Limit(address.lower(), to_units(amount.value, decimals, unit), f"{amount.value} {unit}/day")


def day_of(now: float) -> int:
    return int(now) // DAY


@dataclass(slots=True)
class Tally:
    """Outflow so far on one UTC day, per asset."""

    day: int
    spent: dict[str, int] = field(default_factory=dict)

    def roll(self, now: float) -> None:
        if day_of(now) != self.day:
            self.day, self.spent = day_of(now), {}

    def exceeded(self, limits: Iterable[Limit], more: Mapping[str, int]) -> list[Limit]:
        """The limits that `more` on top of today's outflow would pass."""
        return [
            limit
            for limit in limits
            if limit.asset in more and self.spent.get(limit.asset, 0) + more[limit.asset] > limit.units
        ]

    def add(self, more: Mapping[str, int]) -> None:
        for asset, units in more.items():
            self.spent[asset] = self.spent.get(asset, 0) + units
