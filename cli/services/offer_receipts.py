"""An offer's receipt: the signed negotiation it belongs to and its settlement, as JSON a third
party can check with an EIP-712 library and any node of the chain (see README, "Trading in chats")."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from contracts.protocols import seaport
from messaging import payloads
from wallet.rpc import to_int

if TYPE_CHECKING:
    from .offers import Offers, OfferView

__all__ = ["VERIFY_STEPS", "receipt"]


def receipt(offers: Offers, order_hash: str) -> dict[str, Any]:
    """The negotiation this offer belongs to (the offers linked by `replaces`, each with its
    EIP-712 typed data, signature and recovered signer; the answers) and the settlement
    transaction, as JSON a third party can check (see README, "Trading in chats")."""
    views = offers.views()
    target = offers.find(order_hash)
    by_hash = {v.order_hash: v for v in views if v.peer == target.peer and v.state != "invalid"}
    links = {(v.order_hash, v.offer.replaces) for v in by_hash.values() if v.offer.replaces in by_hash}
    chain = {target.order_hash}
    while grown := {h for pair in links if set(pair) & chain for h in pair if h} - chain:
        chain |= grown  # everything linked to the target through `replaces`, both ways
    negotiation: list[dict[str, Any]] = []
    settlement = None
    for v in sorted((by_hash[h] for h in chain if h in by_hash), key=lambda v: v.timestamp_ms):
        o = v.offer
        negotiation.append(
            {
                "type": "offer",
                "message_id": v.message_id,
                "timestamp_ms": v.timestamp_ms,
                "from": o.offerer,
                "to": o.zone,
                "order_hash": v.order_hash,
                "replaces": o.replaces,
                "note": o.note,
                "state": v.state,
                "typed_data": seaport.typed_data(v.checked(), o.chain_id, o.seaport),
                "signature": o.signature,
                "signer": seaport.recover(v.checked(), o.chain_id, o.seaport, bytes.fromhex(o.signature[2:])),
            }
        )
        if v.fill_tx:
            settlement = _settlement(offers, v)
    for m in offers.messenger.store.messages_of_types(payloads.OfferAnswer.TYPE):
        a = m.payload
        if isinstance(a, payloads.OfferAnswer) and a.order_hash in chain and m.conversation == target.peer:
            negotiation.append(
                {
                    "type": "offer_answer",
                    "message_id": m.id,
                    "timestamp_ms": m.timestamp_ms,
                    "from": m.sender,
                    "order_hash": a.order_hash,
                    "status": a.status,
                    "tx_hash": a.tx_hash,
                }
            )
    return {
        "order_hash": target.order_hash,
        "chain_id": offers.place.chain_id,
        "seaport": offers.place.seaport,
        "parties": sorted({offers.me, target.peer}),
        "negotiation": negotiation,
        "settlement": settlement,
        "how_to_verify": VERIFY_STEPS,
    }


def _settlement(offers: Offers, view: OfferView) -> dict[str, Any]:
    receipt = offers.verified_fill(view, view.fill_tx or "") or {}
    return {
        "order_hash": view.order_hash,
        "tx_hash": view.fill_tx,
        "block_number": to_int(receipt.get("blockNumber", "0x0")),
        "block_hash": receipt.get("blockHash"),
        "filler": receipt.get("from"),
        "gas_used": to_int(receipt.get("gasUsed", "0x0")),
        "event": "OrderFulfilled(bytes32 orderHash, address indexed offerer, address indexed zone, ...)",
    }


VERIFY_STEPS = [
    "For each offer: hash typed_data with EIP-712 (eth_signTypedData_v4 rules) and recover the signer of `signature`: it must be `from`.",
    "order_hash is hashStruct(typed_data.message); Seaport's getOrderHash(components) returns the same on chain.",
    "Fetch the settlement transaction's receipt from any node of the chain: status 1, and a log from the Seaport address "
    "with topic0 = keccak('OrderFulfilled(bytes32,address,address,address,(uint8,address,uint256,uint256)[],"
    "(uint8,address,uint256,uint256,address)[])'), topics 1-2 = offerer and zone, and orderHash in its data.",
    "The offer_answer entries are chat messages, not signatures: they carry no weight beyond the chain's record.",
]
