"""Checking a payment notice against the chain: did this transaction really pay this
recipient this amount? A notice is a claim by the sender; the chain is the truth.

`check` is pure (the transaction, its receipt and the claim in, a verdict out); `verify`
fetches the two objects.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import address as addr
from .erc20 import TRANSFER_TOPIC
from .rpc import Rpc, RpcError, to_int


@dataclass(frozen=True, slots=True)
class PaymentCheck:
    ok: bool
    reason: str  # what matched, or what did not


def check(
    tx: dict[str, Any] | None, receipt: dict[str, Any] | None, recipient: str, amount: int, token: str | None
) -> PaymentCheck:
    if tx is None or receipt is None:
        return PaymentCheck(False, "no such mined transaction on this chain")
    if to_int(receipt.get("status")) != 1:
        return PaymentCheck(False, "the transaction failed (reverted)")
    recipient = addr.parse(recipient)
    if token is None:
        to = tx.get("to")
        if not to or addr.to_checksum(to) != recipient:
            return PaymentCheck(False, "the transaction sent its ETH to someone else")
        if to_int(tx.get("value")) != amount:
            return PaymentCheck(False, f"the transaction moved {to_int(tx.get('value'))} wei, not {amount}")
        return PaymentCheck(True, "ETH transfer confirmed on chain")
    token = addr.parse(token)
    paid = sum(
        int(log["data"], 16)
        for log in receipt.get("logs", [])
        if addr.to_checksum(log["address"]) == token
        and len(log.get("topics", [])) == 3
        and log["topics"][0].lower() == TRANSFER_TOPIC
        and addr.to_checksum("0x" + log["topics"][2][-40:]) == recipient
    )
    if paid != amount:
        return PaymentCheck(False, f"the transaction moved {paid} base units of that token to you, not {amount}")
    return PaymentCheck(True, "token transfer confirmed on chain")


def verify(rpc: Rpc, tx_hash: str, recipient: str, amount: int, token: str | None) -> PaymentCheck:
    try:
        tx, receipt = rpc.batch([("eth_getTransactionByHash", [tx_hash]), ("eth_getTransactionReceipt", [tx_hash])])
    except RpcError:
        return PaymentCheck(False, "the chain does not know this transaction")
    return check(tx, receipt, recipient, amount, token)
