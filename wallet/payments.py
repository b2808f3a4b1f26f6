"""Checking a payment notice against the chain: did this transaction really pay this
recipient this amount? A notice is a claim by the sender; the chain is the truth.

A notice counts only if the notice's sender paid: the transaction's `from` (ETH) or the
Transfer events' `from` (tokens) must be the sender, so nobody can pass off someone
else's payment to you as theirs. (That one transaction backs one notice is the caller's
to check: it knows the other notices.)

`check` is pure (the transaction, its receipt and the claim in, a verdict out); `verify`
fetches the two objects.

A swap's output paid to someone (`hongbao swap ... --to`) comes from a pool or the router,
not from the sender: when the transaction went to a Uniswap router the recipient has
recorded (`routers`), `swap_proof` proves what it paid whom, and the notice must match that.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import address as addr
from .erc20 import TRANSFER_TOPIC
from .errors import WalletError
from .rpc import Rpc, RpcError, to_int
from .swap_proof import NotProvable, Routers, payout


@dataclass(frozen=True, slots=True)
class PaymentCheck:
    ok: bool
    reason: str  # what matched, or what did not


def _address_or_none(value: Any) -> str | None:
    try:
        return addr.to_checksum(value) if isinstance(value, str) else None
    except WalletError:
        return None


def _topic_address(topic: Any) -> str | None:
    return _address_or_none("0x" + topic[-40:]) if isinstance(topic, str) else None


def check(
    tx: dict[str, Any] | None,
    receipt: dict[str, Any] | None,
    recipient: str,
    amount: int,
    token: str | None,
    *,
    payer: str,
    at_least: bool = False,
    routers: Routers | None = None,
) -> PaymentCheck:
    """Whether the transaction paid `recipient` exactly `amount` (`at_least`: that much or
    more, as a payment request asks) from `payer` (the notice's sender): the ETH
    transaction's own sender, or the `from` of the token's Transfer events. A transaction
    someone else paid backs no notice of this sender's."""

    def short(moved: int) -> bool:
        return moved < amount if at_least else moved != amount

    if tx is None or receipt is None:
        return PaymentCheck(False, "no such mined transaction on this chain")
    if to_int(receipt.get("status")) != 1:
        return PaymentCheck(False, "the transaction failed (reverted)")
    recipient, payer = addr.parse(recipient), addr.parse(payer)
    if routers is not None and routers.venue(tx.get("to")) is not None:
        return _check_swap(tx, receipt, recipient, amount, token, payer, short, routers)
    if token is None:
        to = tx.get("to")
        if not to or addr.to_checksum(to) != recipient:
            return PaymentCheck(False, "the transaction sent its ETH to someone else")
        paid_by = _address_or_none(tx.get("from"))
        if paid_by != payer:
            return PaymentCheck(False, f"the transaction was paid by {paid_by}, not by the notice's sender {payer}")
        if short(to_int(tx.get("value"))):
            return PaymentCheck(False, f"the transaction moved {to_int(tx.get('value'))} wei, not {amount}")
        return PaymentCheck(True, "ETH transfer confirmed on chain")
    token = addr.parse(token)
    to_recipient = [
        (_topic_address(log["topics"][1]), int(log["data"], 16))
        for log in receipt.get("logs", [])
        if addr.to_checksum(log["address"]) == token
        and len(log.get("topics", [])) == 3
        and log["topics"][0].lower() == TRANSFER_TOPIC
        and _topic_address(log["topics"][2]) == recipient
    ]
    paid = sum(value for frm, value in to_recipient if frm == payer)
    if short(paid):
        if paid == 0 and to_recipient:
            return PaymentCheck(
                False, f"the transaction's token transfers to you were not paid by the notice's sender {payer}"
            )
        return PaymentCheck(
            False, f"the transaction moved {paid} base units of that token from {payer} to you, not {amount}"
        )
    return PaymentCheck(True, "token transfer confirmed on chain")


def _check_swap(
    tx: dict[str, Any],
    receipt: dict[str, Any],
    recipient: str,
    amount: int,
    token: str | None,
    payer: str,
    short: Callable[[int], bool],
    routers: Routers,
) -> PaymentCheck:
    """A notice for a swap's output: the sender sent the swap, it paid its output to the
    recipient, in the notice's asset, and exactly the notice's amount (`swap_proof`)."""
    sent_by = _address_or_none(tx.get("from"))
    if sent_by != payer:
        return PaymentCheck(False, f"the swap was sent by {sent_by}, not by the notice's sender {payer}")
    try:
        paid = payout(tx, receipt, routers)
    except NotProvable as error:
        return PaymentCheck(False, f"not a swap payout that can be proven: {error}")
    if paid.recipient != recipient:
        return PaymentCheck(False, f"the swap paid its output to {paid.recipient}, not to you")
    wanted = None if token is None else addr.parse(token)
    if paid.token != wanted:
        asset = "ETH" if paid.token is None else f"the token {paid.token}"
        return PaymentCheck(False, f"the swap paid out {asset}, not what the notice names")
    if short(paid.amount):
        return PaymentCheck(False, f"the swap paid you {paid.amount} base units, not {amount}")
    return PaymentCheck(True, f"swap output confirmed on chain (Uniswap {paid.venue})")


def verify(
    rpc: Rpc,
    tx_hash: str,
    recipient: str,
    amount: int,
    token: str | None,
    *,
    payer: str,
    at_least: bool = False,
    routers: Routers | None = None,
) -> PaymentCheck:
    try:
        tx, receipt = rpc.batch([("eth_getTransactionByHash", [tx_hash]), ("eth_getTransactionReceipt", [tx_hash])])
    except RpcError:
        return PaymentCheck(False, "the chain does not know this transaction")
    return check(tx, receipt, recipient, amount, token, payer=payer, at_least=at_least, routers=routers)
