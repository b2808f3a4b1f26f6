"""Money amounts: exact Decimal parsing and formatting. No float anywhere.

`parse_amount("1.5 ETH")` -> Amount(Decimal("1.5"), "ETH"); `to_units(Decimal("1.5"), 18)`
-> 1500000000000000000. A value with more decimals than the token has is refused rather
than rounded: rounding money silently is a bug.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation, localcontext

from .errors import WalletError

ETH_DECIMALS = 18
MAX = "max"
_AMOUNT = re.compile(
    r"^\s*(?P<number>[0-9][0-9_,]*(?:\.[0-9_]*)?|\.[0-9_]+|max)\s*(?P<unit>[A-Za-z][A-Za-z0-9._-]{0,19}|0x[0-9a-fA-F]{40})?\s*\Z",
    re.IGNORECASE,
)
_UNIT_SCALE = {"wei": 0, "gwei": 9}


class AmountError(WalletError):
    pass


@dataclass(frozen=True, slots=True)
class Amount:
    """A human amount: a non-negative Decimal (or "max") and an optional unit symbol."""

    value: Decimal | None  # None means "max"
    unit: str | None

    @property
    def is_max(self) -> bool:
        return self.value is None


def parse_amount(text: str, default_unit: str | None = None) -> Amount:
    """Parse `1.5`, `1.5 ETH`, `250 TKN`, `1,000.25`, `0.1 gwei`, `max`."""
    match = _AMOUNT.match(text)
    if not match:
        raise AmountError(
            f"{text!r} is not an amount: write a number and an optional unit, e.g. '1.5 ETH', '250 TKN' or 'max'"
        )
    number, unit = match.group("number"), match.group("unit") or default_unit
    if number.lower() == MAX:
        return Amount(None, unit)
    try:
        value = Decimal(number.replace("_", "").replace(",", ""))
    except InvalidOperation:
        raise AmountError(f"{text!r} is not an amount") from None
    return Amount(value, unit)


def to_units(value: Decimal, decimals: int, symbol: str = "") -> int:
    """Decimal -> integer base units, refusing anything that would need rounding."""
    with localcontext() as ctx:
        ctx.prec = 100
        scaled = value.scaleb(decimals)
        if scaled != scaled.to_integral_value():
            raise AmountError(f"{value:f} {symbol}".rstrip() + f" has more than {decimals} decimal places")
        if scaled < 0:
            raise AmountError("an amount cannot be negative")
        return int(scaled)


def format_units(value: int, decimals: int) -> str:
    """Integer base units -> the shortest exact decimal string (1500000000000000000, 18 -> "1.5")."""
    sign = "-" if value < 0 else ""
    whole, frac = divmod(abs(value), 10**decimals)
    if decimals == 0 or frac == 0:
        return f"{sign}{whole}"
    return f"{sign}{whole}.{str(frac).rjust(decimals, '0').rstrip('0')}"


def eth(value: int) -> str:
    return f"{format_units(value, ETH_DECIMALS)} ETH"


def parse_gwei(text: str) -> int:
    """A fee given in gwei (e.g. `--max-fee 30`, `--tip 1.5`) -> wei."""
    amount = parse_amount(text, "gwei")
    if amount.value is None:
        raise AmountError("a fee cannot be 'max'")
    unit = (amount.unit or "gwei").lower()
    if unit not in _UNIT_SCALE:
        raise AmountError(f"fees are in gwei or wei; got {amount.unit!r}")
    return to_units(amount.value, _UNIT_SCALE[unit])
