"""Seaport 1.6 orders for peer-to-peer offers in a chat: the order, its EIP-712 hash and
signature, the calls that fill and cancel it, and the fill as its event tells it.

An offer is one order, restricted to the chat peer: ``orderType`` FULL_RESTRICTED (2) with the
peer as ``zone``. Seaport skips the zone's check only when the zone itself fills, and asks any
other caller's zone (an account with no code) to validate, which reverts: nobody else can fill.
Amounts are fixed (start amount = end amount), the conduit key is 0 (items are approved to
Seaport itself) and the zone hash is 0. ETH can be asked for (the filler sends it as
``msg.value``) but not offered: Seaport cannot pull ETH from an account (offer WETH instead).

Pure, except ``read_*``, which take an ``Rpc``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from eth_hash.auto import keccak

from wallet import address as addr
from wallet import signing
from wallet.rpc import Rpc

from . import abi

__all__ = [
    "ERC20",
    "ERC721",
    "FULL_RESTRICTED",
    "NATIVE",
    "ORDER_FULFILLED",
    "Fill",
    "Item",
    "Order",
    "OrderStatus",
    "cancel_data",
    "digest",
    "domain_separator",
    "fills",
    "fulfill_data",
    "is_seaport_order",
    "order_hash",
    "read_counter",
    "read_order_hash",
    "read_status",
    "recover",
    "sign",
    "typed_data",
]

NATIVE, ERC20, ERC721 = 0, 1, 2
FULL_RESTRICTED = 2
NAME, VERSION = "Seaport", "1.6"
ZERO = "0x" + "00" * 20
ZERO32 = b"\x00" * 32

_OFFER_ITEM = (
    "OfferItem(uint8 itemType,address token,uint256 identifierOrCriteria,uint256 startAmount,uint256 endAmount)"
)
_CONSIDERATION_ITEM = (
    "ConsiderationItem(uint8 itemType,address token,uint256 identifierOrCriteria,uint256 startAmount,"
    "uint256 endAmount,address recipient)"
)
_ORDER_COMPONENTS = (
    "OrderComponents(address offerer,address zone,OfferItem[] offer,ConsiderationItem[] consideration,"
    "uint8 orderType,uint256 startTime,uint256 endTime,bytes32 zoneHash,uint256 salt,bytes32 conduitKey,"
    "uint256 counter)"
)
OFFER_ITEM_TYPEHASH = keccak(_OFFER_ITEM.encode())
CONSIDERATION_ITEM_TYPEHASH = keccak(_CONSIDERATION_ITEM.encode())
# Referenced types follow the primary type in alphabetical order (EIP-712).
ORDER_TYPEHASH = keccak((_ORDER_COMPONENTS + _CONSIDERATION_ITEM + _OFFER_ITEM).encode())
DOMAIN_TYPEHASH = keccak(b"EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)")

_OFFER_T = "(uint8,address,uint256,uint256,uint256)"
_CONSIDERATION_T = "(uint8,address,uint256,uint256,uint256,address)"
_COMPONENTS_T = (
    f"(address,address,{_OFFER_T}[],{_CONSIDERATION_T}[],uint8,uint256,uint256,bytes32,uint256,bytes32,uint256)"
)
_PARAMETERS_T = _COMPONENTS_T  # the same shape: the last field is totalOriginalConsiderationItems, not the counter
FULFILL = f"fulfillOrder(({_PARAMETERS_T},bytes),bytes32)"
CANCEL = f"cancel({_COMPONENTS_T}[])"
ORDER_FULFILLED = keccak(
    b"OrderFulfilled(bytes32,address,address,address,(uint8,address,uint256,uint256)[],"
    b"(uint8,address,uint256,uint256,address)[])"
)
_FULFILLED_DATA = [
    "bytes32",
    "address",
    "(uint8,address,uint256,uint256)[]",
    "(uint8,address,uint256,uint256,address)[]",
]


@dataclass(frozen=True)
class Item:
    """One thing that changes hands: ``amount`` of ETH (NATIVE, token 0x0), of an ERC-20, or
    ERC-721 ``identifier`` (amount 1). ``recipient`` is set on what the offerer asks for."""

    kind: int
    token: str
    identifier: int
    amount: int
    recipient: str | None = None

    def offer_tuple(self) -> tuple[int, str, int, int, int]:
        return (self.kind, self.token, self.identifier, self.amount, self.amount)

    def consideration_tuple(self) -> tuple[int, str, int, int, int, str]:
        return (self.kind, self.token, self.identifier, self.amount, self.amount, self.recipient or ZERO)


@dataclass(frozen=True)
class Order:
    """Seaport's OrderComponents with fixed amounts."""

    offerer: str
    zone: str
    offer: tuple[Item, ...]
    consideration: tuple[Item, ...]
    start: int
    end: int
    salt: int
    counter: int
    order_type: int = FULL_RESTRICTED
    zone_hash: bytes = field(default=ZERO32)
    conduit_key: bytes = field(default=ZERO32)

    def components(self) -> tuple[Any, ...]:
        return (
            self.offerer,
            self.zone,
            [i.offer_tuple() for i in self.offer],
            [i.consideration_tuple() for i in self.consideration],
            self.order_type,
            self.start,
            self.end,
            self.zone_hash,
            self.salt,
            self.conduit_key,
            self.counter,
        )

    def parameters(self) -> tuple[Any, ...]:
        """OrderParameters: the components with totalOriginalConsiderationItems for the counter."""
        return (*self.components()[:-1], len(self.consideration))

    def value(self) -> int:
        """The ETH a filler sends: what the order asks for in ETH."""
        return sum(i.amount for i in self.consideration if i.kind == NATIVE)

    def with_counter(self, counter: int) -> Order:
        return replace(self, counter=counter)


def _word(value: int) -> bytes:
    return value.to_bytes(32, "big")


def _address_word(value: str) -> bytes:
    return bytes(12) + bytes.fromhex(addr.parse(value)[2:])


def _offer_item_hash(item: Item) -> bytes:
    return keccak(
        OFFER_ITEM_TYPEHASH
        + _word(item.kind)
        + _address_word(item.token)
        + _word(item.identifier)
        + _word(item.amount)
        + _word(item.amount)
    )


def _consideration_item_hash(item: Item) -> bytes:
    return keccak(
        CONSIDERATION_ITEM_TYPEHASH
        + _word(item.kind)
        + _address_word(item.token)
        + _word(item.identifier)
        + _word(item.amount)
        + _word(item.amount)
        + _address_word(item.recipient or ZERO)
    )


def order_hash(order: Order) -> bytes:
    """EIP-712 hashStruct(OrderComponents): what Seaport's getOrderHash returns and keys its status by."""
    return keccak(
        ORDER_TYPEHASH
        + _address_word(order.offerer)
        + _address_word(order.zone)
        + keccak(b"".join(_offer_item_hash(i) for i in order.offer))
        + keccak(b"".join(_consideration_item_hash(i) for i in order.consideration))
        + _word(order.order_type)
        + _word(order.start)
        + _word(order.end)
        + order.zone_hash
        + _word(order.salt)
        + order.conduit_key
        + _word(order.counter)
    )


def domain_separator(chain_id: int, seaport: str) -> bytes:
    return keccak(
        DOMAIN_TYPEHASH + keccak(NAME.encode()) + keccak(VERSION.encode()) + _word(chain_id) + _address_word(seaport)
    )


def digest(order: Order, chain_id: int, seaport: str) -> bytes:
    """What the offerer signs: keccak(0x1901 || domainSeparator || orderHash)."""
    return keccak(b"\x19\x01" + domain_separator(chain_id, seaport) + order_hash(order))


def sign(private_key: bytes, order: Order, chain_id: int, seaport: str) -> bytes:
    """The offerer's 65-byte signature (r, s, v)."""
    return signing.sign_hash(private_key, digest(order, chain_id, seaport))


def recover(order: Order, chain_id: int, seaport: str, signature: bytes) -> str:
    """Who signed the order (SigningError if the signature is malformed)."""
    return signing.recover_hash(digest(order, chain_id, seaport), signature)


def typed_data(order: Order, chain_id: int, seaport: str) -> dict[str, Any]:
    """The order as EIP-712 typed data (eth_signTypedData_v4 JSON): what a third party feeds
    any EIP-712 library to check an offer's signature. Integers are decimal strings."""
    return {
        "types": {
            "EIP712Domain": signing.EIP712_DOMAIN_TYPES,
            "OrderComponents": _fields(_ORDER_COMPONENTS),
            "OfferItem": _fields(_OFFER_ITEM),
            "ConsiderationItem": _fields(_CONSIDERATION_ITEM),
        },
        "primaryType": "OrderComponents",
        "domain": {"name": NAME, "version": VERSION, "chainId": chain_id, "verifyingContract": addr.parse(seaport)},
        "message": {
            "offerer": order.offerer,
            "zone": order.zone,
            "offer": [_item_json(i, False) for i in order.offer],
            "consideration": [_item_json(i, True) for i in order.consideration],
            "orderType": order.order_type,
            "startTime": str(order.start),
            "endTime": str(order.end),
            "zoneHash": "0x" + order.zone_hash.hex(),
            "salt": str(order.salt),
            "conduitKey": "0x" + order.conduit_key.hex(),
            "counter": str(order.counter),
        },
    }


def is_seaport_order(typed: Any) -> bool:
    """Whether EIP-712 typed data is a Seaport order (any version, one order or a bulk one):
    signed, it lets whoever holds it take what it offers, so only `trade offer` signs one."""
    if not isinstance(typed, dict):
        return False
    domain = typed.get("domain")
    name = domain.get("name") if isinstance(domain, dict) else None
    types = typed.get("types")
    return (
        (isinstance(name, str) and name.strip().casefold() == NAME.casefold())
        or typed.get("primaryType") in ("OrderComponents", "BulkOrder")
        or (isinstance(types, dict) and "OrderComponents" in types)
    )


def _fields(declaration: str) -> list[dict[str, str]]:
    inner = declaration[declaration.index("(") + 1 : -1]
    return [{"name": name, "type": kind} for kind, name in (part.split(" ") for part in inner.split(","))]


def _item_json(item: Item, with_recipient: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "itemType": item.kind,
        "token": item.token,
        "identifierOrCriteria": str(item.identifier),
        "startAmount": str(item.amount),
        "endAmount": str(item.amount),
    }
    if with_recipient:
        out["recipient"] = item.recipient or ZERO
    return out


# -- calls -----------------------------------------------------------------------------------


def fulfill_data(order: Order, signature: bytes) -> bytes:
    """fulfillOrder((parameters, signature), fulfillerConduitKey 0); send ``order.value()`` with it."""
    return abi.data(FULFILL, (order.parameters(), signature), ZERO32)


def cancel_data(orders: list[Order]) -> bytes:
    """cancel(OrderComponents[]): only the offerer (or the zone) may."""
    return abi.data(CANCEL, [o.components() for o in orders])


@dataclass(frozen=True)
class OrderStatus:
    validated: bool
    cancelled: bool
    filled: int
    size: int

    @property
    def fully_filled(self) -> bool:
        return self.size > 0 and self.filled >= self.size


def read_counter(rpc: Rpc, seaport: str, offerer: str) -> int:
    return int(abi.read_one(rpc, seaport, "getCounter(address)(uint256)", offerer))


def read_order_hash(rpc: Rpc, seaport: str, order: Order) -> bytes:
    return bytes(abi.read_one(rpc, seaport, f"getOrderHash({_COMPONENTS_T})(bytes32)", order.components()))


def read_status(rpc: Rpc, seaport: str, hash_: bytes) -> OrderStatus:
    validated, cancelled, filled, size = abi.read(
        rpc, seaport, "getOrderStatus(bytes32)(bool,bool,uint256,uint256)", hash_
    )
    return OrderStatus(bool(validated), bool(cancelled), int(filled), int(size))


# -- the fill, from the transaction's receipt ---------------------------------------------------


@dataclass(frozen=True)
class Fill:
    """An OrderFulfilled event: the order, who offered, the zone, who received the offer."""

    order_hash: bytes
    offerer: str
    zone: str
    recipient: str
    offer: tuple[Item, ...]
    consideration: tuple[Item, ...]


def fills(receipt: dict[str, Any], seaport: str) -> list[Fill]:
    """The OrderFulfilled events Seaport (at ``seaport``) emitted in a successful receipt."""
    from wallet import abi as wallet_abi

    if int(str(receipt.get("status", "0x0")), 16) != 1:
        return []
    found = []
    for log in receipt.get("logs") or []:
        topics = log.get("topics") or []
        if len(topics) != 3 or bytes.fromhex(topics[0][2:]) != ORDER_FULFILLED:
            continue
        if addr.parse(log["address"]) != addr.parse(seaport):
            continue
        try:
            hash_, recipient, spent, received = wallet_abi.decode(_FULFILLED_DATA, bytes.fromhex(log["data"][2:]))
        except Exception:  # noqa: BLE001, S112  a log that does not decode is not a fill
            continue
        found.append(
            Fill(
                bytes(hash_),
                addr.parse("0x" + topics[1][-40:]),
                addr.parse("0x" + topics[2][-40:]),
                addr.parse(recipient),
                tuple(Item(k, addr.parse(t), i, a) for k, t, i, a in spent),
                tuple(Item(k, addr.parse(t), i, a, addr.parse(r)) for k, t, i, a, r in received),
            )
        )
    return found
