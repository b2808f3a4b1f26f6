"""Alerts about an account, read from the chain: an outgoing transaction this device did
not sign (a key in someone else's hands), a new ERC-20 approval, an incoming transfer
above a threshold, the balance below a threshold. The RPC and "did we sign it" are passed
in; the caller keeps the cursor and shows the alerts (`chat watch`, `security check`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from eth_hash.auto import keccak

from . import address as addr
from .amounts import eth
from .rpc import Rpc, to_int

APPROVAL_TOPIC = "0x" + keccak(b"Approval(address,address,uint256)").hex()
MAX_BLOCKS = 500  # per poll: a long-idle watch catches up over several polls


@dataclass(frozen=True, slots=True)
class Alert:
    alert: str  # unsigned-outgoing | approval | incoming | low-balance
    text: str
    hash: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"kind": "alert", "alert": self.alert, "text": self.text, "hash": self.hash}


@dataclass(frozen=True, slots=True)
class Thresholds:
    incoming_above: int | None = None  # wei
    balance_below: int | None = None  # wei


def _topic(address: str) -> str:
    return "0x" + "00" * 12 + address.lower()[2:]


def scan(
    rpc: Rpc, me: str, start: int, end: int, signed_here: Callable[[str], bool], thresholds: Thresholds
) -> list[Alert]:
    """Alerts from blocks start..end (inclusive) about `me`."""
    alerts: list[Alert] = []
    mine = me.lower()
    for number in range(start, end + 1):
        block = rpc.call("eth_getBlockByNumber", hex(number), True) or {}
        for tx in block.get("transactions", []):
            if not isinstance(tx, dict):
                continue
            sender, to, tx_hash = str(tx.get("from", "")).lower(), str(tx.get("to") or "").lower(), str(tx["hash"])
            if sender == mine and not signed_here(tx_hash):
                alerts.append(
                    Alert(
                        "unsigned-outgoing",
                        f"ALERT: {me} sent a transaction this device did not sign ({tx_hash}, block {number}): "
                        "if it was not you, your key is in someone else's hands; move your funds",
                        tx_hash,
                    )
                )
            value = to_int(tx.get("value", "0x0"))
            limit = thresholds.incoming_above
            if to == mine and sender != mine and limit is not None and value > limit:
                alerts.append(
                    Alert("incoming", f"incoming {eth(value)} from {addr.to_checksum(sender[2:])} ({tx_hash})", tx_hash)
                )
    logs = rpc.call(
        "eth_getLogs", {"fromBlock": hex(start), "toBlock": hex(end), "topics": [APPROVAL_TOPIC, _topic(me)]}
    )
    for log in logs or []:
        topics = log.get("topics", [])
        if len(topics) < 3 or signed_here(str(log.get("transactionHash"))):
            continue  # an approval this device signed is no news (a permit someone submitted is)
        spender = addr.to_checksum(str(topics[2])[-40:])
        amount = to_int(log.get("data") or "0x0") if log.get("data") not in (None, "0x") else 0
        shown = "UNLIMITED" if amount >= 2**255 else f"{amount} base units"
        alerts.append(
            Alert(
                "approval",
                f"new approval: {spender} may spend {shown} of token {addr.to_checksum(str(log['address'])[2:])} "
                f"from {me} ({log.get('transactionHash')})",
                log.get("transactionHash"),
            )
        )
    return alerts


def balance_alert(balance: int, thresholds: Thresholds, was_low: bool) -> tuple[Alert | None, bool]:
    """(an alert when the balance has just gone below the threshold, whether it is low now)."""
    limit = thresholds.balance_below
    low = limit is not None and balance < limit
    if low and not was_low and limit is not None:
        return Alert("low-balance", f"balance {eth(balance)} is below {eth(limit)}"), True
    return None, low
