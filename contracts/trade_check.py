"""Is a shared trade card true? A pure check of a swap's transaction and receipt against
what the card claims (messaging.payloads.TradeCard), for the Uniswap v2 and v3 routers.

The card counts only if the transaction was mined and succeeded, was sent by the card's
sender to a router we know, and its token flows show exactly the card's pair and amounts:
the sold asset went from the sender (ETH: the transaction's value, wrapped by the router)
into a pool of that pair, and the bought asset came out of such a pool to the sender (ETH:
WETH the router unwrapped for a recipient the calldata names as the sender). Anything else
is a claim we cannot back, and the reason says which part failed.

Bytes in, verdict out: the caller reads the transaction, receipt and the pair's pools.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from wallet import address as addr
from wallet import calls
from wallet.errors import WalletError

__all__ = ["Claim", "Swap", "Verdict", "check_swap", "read_swap"]

TRANSFER = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
WITHDRAWAL = "0x7fcf532c15f0a6db0bd6d0e038bea71d30d808c7d98cb3bf7268a95bf5081b65"  # WETH9 Withdrawal(src, wad)

_V2_TO_ETH = calls.parse_signature("swapExactTokensForETH(uint256,uint256,address[],address,uint256)")
_V2_TO_ETH_ARGS = calls.parse_signature("f()(uint256,uint256,address[],address,uint256)")
_MULTICALL = calls.parse_signature("multicall(bytes[])")
_MULTICALL_ARGS = calls.parse_signature("f()(bytes[])")
_UNWRAP = calls.parse_signature("unwrapWETH9(uint256,address)")
_UNWRAP_ARGS = calls.parse_signature("f()(uint256,address)")


@dataclass(frozen=True)
class Claim:
    """What a card says: `sender` sold `amount_in` of `sell` for `amount_out` of `buy` (None: ETH)."""

    sender: str
    sell: str | None
    buy: str | None
    amount_in: int
    amount_out: int


@dataclass(frozen=True)
class Verdict:
    ok: bool
    reason: str


@dataclass(frozen=True)
class Swap:
    """What a transaction of ``sender``'s moved, read from its logs (before any check)."""

    sell: str | None
    buy: str | None
    amount_in: int
    amount_out: int


@dataclass(frozen=True)
class _Transfer:
    token: str
    source: str
    target: str
    amount: int


def _int(value: Any) -> int:
    if isinstance(value, int):
        return value
    text = str(value or "0x0")
    return 0 if text == "0x" else int(text, 16)  # "0x": no data


def _topic_address(topic: str) -> str:
    return addr.parse("0x" + topic[-40:])


def _transfers(receipt: Mapping[str, Any]) -> list[_Transfer]:
    found = []
    for log in receipt.get("logs") or []:
        topics = [str(t).lower() for t in log.get("topics") or []]
        if len(topics) == 3 and topics[0] == TRANSFER:
            found.append(
                _Transfer(
                    addr.parse(log["address"]),
                    _topic_address(topics[1]),
                    _topic_address(topics[2]),
                    _int(log.get("data")),
                )
            )
    return found


def _withdrawn(receipt: Mapping[str, Any], weth: str, by: Collection[str]) -> int:
    """WETH unwrapped by one of ``by`` (a router) in this receipt."""
    total = 0
    for log in receipt.get("logs") or []:
        topics = [str(t).lower() for t in log.get("topics") or []]
        if (
            len(topics) == 2
            and topics[0] == WITHDRAWAL
            and addr.parse(log["address"]) == weth
            and _topic_address(topics[1]) in by
        ):
            total += _int(log.get("data"))
    return total


def _eth_recipient(data: bytes) -> str | None:
    """Whom a router call sends unwrapped ETH to: v2 swapExactTokensForETH's `to`, or the
    recipient of the v3 multicall's unwrapWETH9; None for any other call."""
    try:
        if data[:4] == _V2_TO_ETH.selector:
            return addr.parse(calls.decode_result(_V2_TO_ETH_ARGS, data[4:])[3])
        if data[:4] == _MULTICALL.selector:
            inner = calls.decode_result(_MULTICALL_ARGS, data[4:])[0]
            unwraps = [bytes(c) for c in inner if bytes(c)[:4] == _UNWRAP.selector]
            if len(unwraps) == 1:
                return addr.parse(calls.decode_result(_UNWRAP_ARGS, unwraps[0][4:])[1])
    except (WalletError, IndexError, TypeError, ValueError):
        return None
    return None


def _calldata(tx: Mapping[str, Any]) -> bytes:
    text = str(tx.get("input") or tx.get("data") or "0x")
    try:
        return bytes.fromhex(text[2:])
    except ValueError:
        return b""


def read_swap(tx: Mapping[str, Any], receipt: Mapping[str, Any], sender: str, weth: str) -> Swap | None:
    """The pair and amounts of ``sender``'s swap in this transaction, as a card would state
    them (to be checked by ``check_swap`` like anyone else's); None if it moved no such pair
    (or the answer is malformed)."""
    try:
        return _read(tx, receipt, sender, weth)
    except (WalletError, ValueError, TypeError, KeyError, AttributeError):
        return None


def _read(tx: Mapping[str, Any], receipt: Mapping[str, Any], sender: str, weth: str) -> Swap | None:
    sender, weth = addr.parse(sender), addr.parse(weth)
    moves = _transfers(receipt)
    value = _int(tx.get("value"))
    paid = {m.token for m in moves if m.source == sender}
    got = {m.token for m in moves if m.target == sender}
    if value and not paid:
        sell: str | None = None
        amount_in = value
    elif len(paid) == 1 and not value:
        sell = paid.pop()
        amount_in = sum(m.amount for m in moves if m.source == sender and m.token == sell)
    else:
        return None
    if len(got) == 1:
        buy: str | None = got.pop()
        amount_out = sum(m.amount for m in moves if m.target == sender and m.token == buy)
    elif not got:
        buy = None
        to = tx.get("to")
        amount_out = _withdrawn(receipt, weth, {addr.parse(to)}) if to else 0
    else:
        return None
    if amount_in == 0 or amount_out == 0 or sell == buy:
        return None
    return Swap(sell, buy, amount_in, amount_out)


def check_swap(
    claim: Claim,
    tx: Mapping[str, Any] | None,
    receipt: Mapping[str, Any] | None,
    *,
    routers: Collection[str],
    pools: Collection[str],
    weth: str,
) -> Verdict:
    """Whether ``tx`` (with its ``receipt``) is exactly the swap ``claim`` describes.
    ``routers``: the Uniswap routers of the network; ``pools``: every pool of the pair
    (v2 pair, v3 pools), read from the factories by the caller. A transaction or receipt
    that is not well formed (a node's answer is hostile too) backs nothing."""
    try:
        return _check(claim, tx, receipt, routers, pools, weth)
    except (WalletError, ValueError, TypeError, KeyError, AttributeError):
        return Verdict(False, "the node's answer about the transaction is malformed")


def _check(
    claim: Claim,
    tx: Mapping[str, Any] | None,
    receipt: Mapping[str, Any] | None,
    routers: Collection[str],
    pools: Collection[str],
    weth: str,
) -> Verdict:
    if tx is None:
        return Verdict(False, "no such transaction on this chain")
    if receipt is None:
        return Verdict(False, "the transaction is not mined")
    if _int(receipt.get("status")) != 1:
        return Verdict(False, "the transaction failed (reverted): it traded nothing")
    sender, weth = addr.parse(claim.sender), addr.parse(weth)
    source = addr.parse(str(tx.get("from")))
    if source != sender:
        return Verdict(False, f"the transaction was sent by {source}, not by the card's sender {sender}")
    known = {addr.parse(r) for r in routers}
    router = addr.parse(str(tx.get("to"))) if tx.get("to") else None
    if router not in known:
        return Verdict(False, f"the transaction calls {router}, which is no Uniswap router of this network")
    pools = {addr.parse(p) for p in pools}
    if not pools:
        return Verdict(False, "no Uniswap pool of that pair exists")
    moves = _transfers(receipt)
    sold_token = weth if claim.sell is None else addr.parse(claim.sell)
    bought_token = weth if claim.buy is None else addr.parse(claim.buy)
    if claim.sell is None:
        value = _int(tx.get("value"))
        into_pools = sum(m.amount for m in moves if m.token == weth and m.source == router and m.target in pools)
        if value != claim.amount_in or into_pools != claim.amount_in:
            return Verdict(
                False, f"the transaction sold {value} wei of ETH (into the pools: {into_pools}), not {claim.amount_in}"
            )
    else:
        paid = sum(m.amount for m in moves if m.token == sold_token and m.source == sender)
        into_pools = sum(m.amount for m in moves if m.token == sold_token and m.source == sender and m.target in pools)
        if paid != claim.amount_in or into_pools != claim.amount_in:
            return Verdict(
                False, f"the sender paid {paid} units of {sold_token} into the pair's pools, not {claim.amount_in}"
            )
    if claim.buy is None:
        recipient = _eth_recipient(_calldata(tx))
        if recipient != sender:
            return Verdict(
                False, f"the ETH out goes to {recipient or 'an unknown recipient'}, not to the card's sender"
            )
        out_of_pools = sum(m.amount for m in moves if m.token == weth and m.source in pools and m.target == router)
        unwrapped = _withdrawn(receipt, weth, {router})
        if unwrapped != claim.amount_out or out_of_pools != claim.amount_out:
            return Verdict(False, f"the router unwrapped {unwrapped} wei of ETH for the sender, not {claim.amount_out}")
    else:
        got = sum(m.amount for m in moves if m.token == bought_token and m.source in pools and m.target == sender)
        if got != claim.amount_out:
            return Verdict(
                False, f"the sender got {got} units of {bought_token} from the pair's pools, not {claim.amount_out}"
            )
    return Verdict(True, "the swap is on chain as the card says")
