"""Money amounts: exact Decimal parsing and formatting. No float anywhere.

`parse_amount("1.5 ETH")` -> Amount(Decimal("1.5"), "ETH"); `to_units(Decimal("1.5"), 18)`
-> 1500000000000000000. A value with more decimals than the token has is refused rather
than rounded: rounding money silently is a bug.

The grammar of a number, one for every command:
- `.` is the decimal point: `1.5`, `.5`, `1.`;
- a comma only separates thousands, in groups of three: `1,000.25`, `12,345,678`. Anything
  else with a comma (`0,5`, `1,5`, `1,2,3`, `1,0000`, `,5`, `1,`, `0,500`, `1.000,5`) is
  refused: a decimal comma read as a separator would pay 10x or more, so it is never
  guessed at;
- an underscore likewise separates groups of three digits, counted from the decimal
  point both ways: `1_000_000`, `0.000_001`; one kind of separator per number;
- scientific notation is exact (it is decimal, read by Decimal, never a float): `1e-3` is
  0.001, `2.5E3` is 2500, `1e18 wei` is 1 ETH. The exponent is bounded (|e| <= 100, far
  beyond any amount a uint256 holds) so `1e999999` is refused at once, not expanded. It is
  accepted rather than refused because it is unambiguous and exact, and people paste it
  from developer tools; every send shows the amount in plain digits before signing;
- no sign (`-1` is refused), no hex (`0x10` is refused, not read as 0 of a token "x10"),
  and nothing above 2^256 - 1 base units, which no token can hold.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from .errors import WalletError

ETH_DECIMALS = 18
MAX = "max"
MAX_EXPONENT = 100
MAX_UNITS = 2**256 - 1  # the most any ERC-20 balance (or ETH amount) can be
_AMOUNT = re.compile(
    r"^\s*(?:(?P<max>max)(?![A-Za-z0-9._-])|(?P<mantissa>[0-9][0-9_,]*(?:\.[0-9_,]*)?|[.,_][0-9_,.]*)(?P<exponent>e[+-]?[0-9]+)?)"
    r"(?P<space>\s*)(?P<unit>[A-Za-z][A-Za-z0-9._-]{0,19}|0x[0-9a-fA-F]{40})?\s*\Z",
    re.IGNORECASE,
)
_PLAIN = re.compile(r"[0-9]*\Z")
_GROUPED_WHOLE = {  # a leading zero is no thousands group: 0,500 is someone's 0.5
    ",": re.compile(r"[1-9][0-9]{0,2}(?:,[0-9]{3})+\Z"),
    "_": re.compile(r"[1-9][0-9]{0,2}(?:_[0-9]{3})+\Z"),
}
_GROUPED_FRACTION = re.compile(r"[0-9]{3}(?:_[0-9]{3})*(?:_[0-9]{1,3})?\Z")
_EXPONENT_LIKE = re.compile(r"e[+-]?[0-9]*\Z", re.IGNORECASE)
_DANGLING_EXPONENT = re.compile(r"\s*[0-9.][0-9_,.]*e[+-]?\s*\Z", re.IGNORECASE)
_HEX = re.compile(r"\s*0x[0-9a-f]*(?:\s+\S+)?\s*\Z", re.IGNORECASE)
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


def _quoted(text: str) -> str:
    """The user's text in an error, kept to one short line."""
    return repr(text if len(text) <= 40 else text[:40] + "...")


def _digits(text: str, mantissa: str) -> str:
    """The mantissa's digits and point, its separators checked and removed."""
    comma = f"{_quoted(text)} is not an amount: a comma only separates thousands (1,000,000.5); use a dot for decimals (0.5)"
    underscore = (
        f"{_quoted(text)} is not an amount: an underscore only separates groups of three digits (1_000_000, 0.000_001)"
    )
    if mantissa.count(".") > 1:
        raise AmountError(f"{_quoted(text)} is not an amount: one decimal point at most")
    whole, point, fraction = mantissa.partition(".")
    if "," in whole and "_" in whole:
        raise AmountError(f"{_quoted(text)} is not an amount: use one kind of separator (1,000,000 or 1_000_000)")
    if "," in fraction:
        raise AmountError(comma)
    for separator in (",", "_"):
        if separator in whole and not _GROUPED_WHOLE[separator].match(whole):
            raise AmountError(comma if separator == "," else underscore)
    if "_" in fraction and not _GROUPED_FRACTION.match(fraction):
        raise AmountError(underscore)
    whole, fraction = whole.replace(",", "").replace("_", ""), fraction.replace("_", "")
    if not (whole or fraction) or not (_PLAIN.match(whole) and _PLAIN.match(fraction)):
        raise AmountError(f"{_quoted(text)} is not an amount: write digits, e.g. '1.5', '0.25' or '1,000'")
    return f"{whole or '0'}{point}{fraction}"


def parse_amount(text: str, default_unit: str | None = None) -> Amount:
    """Parse `1.5`, `1.5 ETH`, `250 TKN`, `1,000.25`, `1e-3`, `0.1 gwei`, `max` (see the module's grammar)."""
    match = _AMOUNT.match(text)
    if not match and text.strip().startswith("-"):
        raise AmountError(f"{_quoted(text)} is not an amount: an amount cannot be negative")
    if _HEX.match(text):
        raise AmountError(f"{_quoted(text)} is not an amount: write it in decimal digits (hex is not read as money)")
    unit = match.group("unit") if match else None
    if _DANGLING_EXPONENT.match(text) or (
        match and unit and not match.group("space") and not match.group("exponent") and _EXPONENT_LIKE.match(unit)
    ):
        raise AmountError(f"{_quoted(text)} is not an amount: an exponent needs digits, e.g. '1e-3' or '2.5e3'")
    if not match:
        raise AmountError(
            f"{_quoted(text)} is not an amount: write a number and an optional unit, e.g. '1.5 ETH', '250 TKN' or 'max'"
        )
    if match.group("max"):
        return Amount(None, unit or default_unit)
    number = _digits(text, match.group("mantissa"))
    exponent = match.group("exponent")
    if exponent:
        magnitude = exponent[1:].lstrip("+-").lstrip("0")
        if len(magnitude) > len(str(MAX_EXPONENT)) or int(magnitude or "0") > MAX_EXPONENT:
            raise AmountError(
                f"{_quoted(text)} is not an amount: the exponent is out of range (at most e{MAX_EXPONENT})"
            )
        number += exponent
    return Amount(Decimal(number), unit or default_unit)


def _shown(value: Decimal) -> str:
    exponent = value.as_tuple().exponent
    return f"{value:f}" if isinstance(exponent, int) and abs(exponent) <= 2 * MAX_EXPONENT else str(value)


def to_units(value: Decimal, decimals: int, symbol: str = "") -> int:
    """Decimal -> integer base units, exactly: anything that would need rounding is refused,
    and so are negative amounts and amounts no token can hold (over 2^256 - 1 units)."""
    sign, digits, exponent = value.as_tuple()
    if not isinstance(exponent, int):
        raise AmountError(f"{value} is not an amount")
    coefficient = list(digits)
    while coefficient and coefficient[-1] == 0:  # 1.500 is 15e-1: what is left must be whole units
        coefficient.pop()
        exponent += 1
    while coefficient and coefficient[0] == 0:
        coefficient.pop(0)
    if not coefficient:
        return 0
    if sign:
        raise AmountError("an amount cannot be negative")
    shift = exponent + decimals
    if shift < 0:
        raise AmountError(f"{_shown(value)} {symbol}".rstrip() + f" has more than {decimals} decimal places")
    if len(coefficient) + shift > len(str(MAX_UNITS)):
        raise AmountError(f"{_shown(value)} {symbol}".rstrip() + " is more than any token can hold")
    units: int = int("".join(map(str, coefficient))) * 10 ** int(shift)
    if units > MAX_UNITS:
        raise AmountError(f"{_shown(value)} {symbol}".rstrip() + " is more than any token can hold")
    return units


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
