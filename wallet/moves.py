"""What a transaction moved, from its receipt's logs: pure functions, no I/O.

A `Move` is one asset changing hands: ETH (token None) or an ERC-20 (the log's contract).
ERC-20 `Transfer` logs are decoded here for every contract. Moves that only a contract's
own events tell (ETH paid out by a contract: a red packet share or refund) come from
`Decoder`s the caller passes in, keyed by the contract address it recorded; decoders
for other contracts plug in the same way (see contracts/history_events.py).

`view` turns moves into one account's point of view: what came in, what went out, and
the direction people read in a history ("in", "out", "self", "swap", "call").
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from . import address as addr
from .rpc import to_int

TRANSFER_TOPIC = (
    "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"  # keccak("Transfer(address,address,uint256)")
)


@dataclass(frozen=True, slots=True)
class Move:
    token: str | None  # None: ETH
    from_: str
    to: str
    amount: int
    what: str = "transfer"  # e.g. "red packet share", "red packet refund"


# A decoder reads one log of the contract it is registered for (with all the receipt's
# logs, for context) and returns what it says moved; [] for events that move nothing.
Decoder = Callable[[dict[str, Any], Sequence[dict[str, Any]]], list[Move]]


def topic_address(topic: str) -> str:
    return addr.to_checksum("0x" + topic[-40:])


def is_erc20_transfer(log: Mapping[str, Any]) -> bool:
    topics = log.get("topics") or []
    data = log.get("data") or "0x"
    return len(topics) == 3 and str(topics[0]).lower() == TRANSFER_TOPIC and len(data) == 66


def erc20_transfer(log: Mapping[str, Any]) -> Move:
    topics = log["topics"]
    return Move(
        addr.to_checksum(log["address"]), topic_address(topics[1]), topic_address(topics[2]), int(log["data"], 16)
    )


def from_receipt(
    tx: Mapping[str, Any], logs: Sequence[dict[str, Any]], decoders: Mapping[str, Decoder] | None = None
) -> list[Move]:
    """The ETH value of the call (when it succeeded: callers pass no logs for a failed
    one) and every ERC-20 Transfer and decoded event of its logs, in log order.

    `tx`: {from, to, value}. Zero amounts are left out: they move nothing."""
    moves: list[Move] = []
    value = to_int(tx.get("value"))
    if value and tx.get("to"):
        moves.append(Move(None, addr.to_checksum(tx["from"]), addr.to_checksum(tx["to"]), value))
    known = {addr.to_checksum(a): d for a, d in (decoders or {}).items()}
    for log in logs:
        if log.get("removed"):
            continue
        if is_erc20_transfer(log):
            moves.append(erc20_transfer(log))
            continue
        decoder = known.get(addr.to_checksum(log.get("address") or "0x" + "00" * 20))
        if decoder is not None:
            moves += decoder(log, logs)
    return [m for m in moves if m.amount]


@dataclass(frozen=True, slots=True)
class View:
    direction: str  # in | out | self | swap | call (ours, nothing moved) | other (not ours)
    incoming: list[Move]  # to one of mine from elsewhere
    outgoing: list[Move]  # from one of mine to elsewhere
    internal: list[Move]  # between my own addresses
    counterparty: str | None


def view(moves: Iterable[Move], mine: Collection[str], sender: str | None, to: str | None) -> View:
    """Moves as the owner of `mine` (checksummed addresses) sees them."""
    incoming, outgoing, internal = [], [], []
    for move in moves:
        ours_from, ours_to = move.from_ in mine, move.to in mine
        if ours_from and ours_to:
            internal.append(move)
        elif ours_to:
            incoming.append(move)
        elif ours_from:
            outgoing.append(move)
    if incoming and outgoing:
        direction = "swap"
    elif incoming:
        direction = "in"
    elif outgoing:
        direction = "out"
    elif internal:
        direction = "self"
    else:
        direction = "call" if sender in mine else "other"
    counterparty: str | None
    if direction == "in":
        counterparty = incoming[0].from_
    elif direction == "out":
        counterparty = outgoing[0].to  # a token's recipient, not the token contract
    elif direction == "self":
        counterparty = internal[0].to
    else:
        counterparty = to if sender in mine else sender
    return View(direction, incoming, outgoing, internal, counterparty)
