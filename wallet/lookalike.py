"""Address poisoning: an address made to look like one the person already uses. Pure.

Attackers generate addresses that share the first and last few hex digits with one in a
victim's history (that is all most wallets show: `0x1234…abcd`), then send a dust or
zero-value transfer from it, hoping the victim copies it from the history next time.
`looks_like(a, b)` is true when two different addresses share their first HEAD and last
TAIL hex digits (case-insensitive); `differences(a, b)` says which characters of `a` differ
from `b`, for showing them highlighted.
"""

from __future__ import annotations

from collections.abc import Iterable

HEAD = 3  # hex digits after 0x
TAIL = 3


def _hex(address: str) -> str:
    return address.lower().removeprefix("0x")


def looks_like(a: str, b: str, head: int = HEAD, tail: int = TAIL) -> bool:
    x, y = _hex(a), _hex(b)
    return x != y and len(x) == len(y) == 40 and x[:head] == y[:head] and x[-tail:] == y[-tail:]


def lookalikes(address: str, known: Iterable[str], trusted: Iterable[str] | None = None) -> list[str]:
    """The known addresses `address` imitates; none if it is itself trusted (by default: if it
    is known). Pass `trusted` where `known` holds addresses nobody chose: one that only sent me
    dust, or that I sent to and then cancelled, must not vouch for itself."""
    known = list(dict.fromkeys(known))
    if any(_hex(t) == _hex(address) for t in (known if trusted is None else trusted)):
        return []
    return [k for k in known if looks_like(address, k)]


def differences(a: str, b: str) -> list[tuple[str, bool]]:
    """`a` in runs of (text, differs from `b` there), case-insensitive."""
    runs: list[tuple[str, bool]] = []
    for index, char in enumerate(a):
        differs = index >= len(b) or char.lower() != b[index].lower()
        if runs and runs[-1][1] == differs:
            runs[-1] = (runs[-1][0] + char, differs)
        else:
            runs.append((char, differs))
    return runs


def is_poisoning(sender: str, amount: int, dust: int, known: Iterable[str]) -> bool:
    """An incoming transfer of dust (at most `dust` base units, zero included) from an
    address that imitates a known one: the bait of address poisoning."""
    return amount <= dust and bool(lookalikes(sender, known))


def dust_units(decimals: int | None) -> int:
    """What counts as dust: below 1/100,000 of a unit (0.00001 ETH); zero only when the
    decimals are unknown."""
    return 0 if decimals is None else max(10 ** max(decimals - 5, 0) - 1, 0)
