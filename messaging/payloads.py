"""Typed message payloads, encoded as canonical JSON.

Why JSON: it is what every other layer here already speaks (relay API, config, history),
it is readable when debugging a stored message, and canonical form (sorted keys, no
spaces, UTF-8) makes the bytes deterministic for signing. CBOR or msgpack would save a
few dozen bytes, which the envelope's power-of-two padding swallows anyway.

Every payload is `{"type": ..., "v": 1, ...fields}`. A type this version does not know is
decoded as `Unknown` with its fields intact, so it is shown, never dropped. Pure.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field, fields
from typing import Any, ClassVar

from wallet import address as addr
from wallet.errors import WalletError

from . import jsonsafe
from .errors import PayloadError

VERSION = 1
MAX_TEXT = 16 * 1024
_HEX32 = re.compile(r"^0x[0-9a-f]{64}\Z")
_HEX = re.compile(r"^0x([0-9a-f]{2})*\Z")
_DECIMAL = re.compile(r"^[0-9]{1,78}\Z")  # below 10^78 > 2^256


def _address(value: Any, what: str) -> str:
    try:
        return addr.parse(value)
    except (WalletError, AttributeError, TypeError):
        raise PayloadError(f"{what} is not an address") from None


def _hex32(value: Any, what: str) -> str:
    if not isinstance(value, str) or not _HEX32.match(value.lower()):
        raise PayloadError(f"{what} must be 0x + 64 hex digits")
    return value.lower()


def _uint(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise PayloadError(f"{what} must be a non-negative integer")
    return value


def _group(value: Any) -> None:
    if value is not None and (not isinstance(value, str) or not re.fullmatch(r"[0-9a-f]{32}", value)):
        raise PayloadError("a group id is 32 hex digits")


def _text(value: Any, what: str, limit: int = MAX_TEXT) -> str:
    if not isinstance(value, str) or len(value) > limit:
        raise PayloadError(f"{what} must be text of at most {limit} characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise PayloadError(f"{what} is not valid text (a lone surrogate)") from None
    return value


def _decimal(value: Any, what: str) -> str:
    if not isinstance(value, str) or not _DECIMAL.match(value):
        raise PayloadError(f"{what} must be a decimal string of base units (ASCII digits)")
    return value


@dataclass(frozen=True, slots=True)
class Text:
    TYPE: ClassVar[str] = "text"
    body: str
    group_id: str | None = None  # set when sent to a group

    def validate(self) -> None:
        _text(self.body, "text body")
        _group(self.group_id)


@dataclass(frozen=True, slots=True)
class RedPacket:
    """A red packet in a chat. `authorization` is this recipient's own claim signature
    (with its slot) for an authorized packet; `claim_key` is the shared key of an open one."""

    TYPE: ClassVar[str] = "red_packet"
    chain_id: int
    contract: str
    packet_id: str
    greeting: str = ""
    theme: str = ""
    slot: int | None = None
    authorization: str | None = None  # 0x + 65-byte signature
    claim_key: str | None = None  # 0x + 32-byte key of an open packet
    token: str | None = None
    total: str | None = None  # base units, as a decimal string (informational: the chain decides)
    shares: int | None = None
    group_id: str | None = None
    amount: str | None = None  # a lucky draw: this slot's committed share (base units, decimal)
    proof: str | None = None  # ...and its Merkle sum proof (0x + 32-byte nodes)

    def validate(self) -> None:
        _group(self.group_id)
        _uint(self.chain_id, "chain_id")
        _address(self.contract, "contract")
        _hex32(self.packet_id, "packet_id")
        _share(self.amount, self.proof)
        _text(self.greeting, "greeting", 512)
        _text(self.theme, "theme", 64)
        if (self.authorization is None) == (self.claim_key is None):
            raise PayloadError("a red packet carries either an authorization or a claim key")
        if self.authorization is not None:
            if (
                self.slot is None
                or not isinstance(self.authorization, str)
                or not _HEX.match(self.authorization)
                or len(self.authorization) != 132
            ):
                raise PayloadError("an authorization is a 65-byte signature with a slot")
            _uint(self.slot, "slot")
        if self.claim_key is not None:
            _hex32(self.claim_key, "claim_key")
        if self.token is not None:
            _address(self.token, "token")
        if self.total is not None:
            _decimal(self.total, "total")
        if self.shares is not None:
            _uint(self.shares, "shares")


def _share(amount: Any, proof: Any) -> None:
    if (amount is None) != (proof is None):
        raise PayloadError("a lucky-draw share carries both its amount and its proof")
    if amount is not None:
        _decimal(amount, "amount")
        if not isinstance(proof, str) or not _HEX.match(proof) or (len(proof) - 2) % 64 or len(proof) > 2 + 64 * 16:
            raise PayloadError("a proof is up to 16 nodes of 32 bytes, as 0x + hex")


@dataclass(frozen=True, slots=True)
class RedPacketClaim:
    """A recipient's signed claim, sent back to the packet's creator to submit (the
    recipient has no ETH for gas): the fields of a claim ticket. The share always goes to
    `recipient`; whoever submits pays the gas (reimbursed from the packet's deposit)."""

    TYPE: ClassVar[str] = "red_packet_claim"
    chain_id: int
    contract: str
    packet_id: str
    recipient: str
    slot: int
    signature: str  # 0x + 65 bytes
    amount: str | None = None
    proof: str | None = None

    def validate(self) -> None:
        _uint(self.chain_id, "chain_id")
        _address(self.contract, "contract")
        _hex32(self.packet_id, "packet_id")
        _address(self.recipient, "recipient")
        _uint(self.slot, "slot")
        if not isinstance(self.signature, str) or not _HEX.match(self.signature) or len(self.signature) != 132:
            raise PayloadError("a claim signature is 65 bytes")
        _share(self.amount, self.proof)


@dataclass(frozen=True, slots=True)
class Payment:
    TYPE: ClassVar[str] = "payment"
    chain_id: int
    tx_hash: str
    amount: str  # base units, decimal string
    token: str | None = None  # None: ETH
    note: str = ""
    group_id: str | None = None
    request_id: str | None = None  # the payment request this pays (see PaymentRequest)

    def validate(self) -> None:
        _group(self.group_id)
        _uint(self.chain_id, "chain_id")
        _hex32(self.tx_hash, "tx_hash")
        _decimal(self.amount, "amount")
        if self.token is not None:
            _address(self.token, "token")
        _text(self.note, "note", 512)
        if self.request_id is not None:
            _request_id(self.request_id)


@dataclass(frozen=True, slots=True)
class Receipt:
    TYPE: ClassVar[str] = "receipt"
    status: str  # delivered | read
    message_ids: tuple[str, ...] = ()

    def validate(self) -> None:
        if self.status not in ("delivered", "read"):
            raise PayloadError("a receipt is 'delivered' or 'read'")
        if not isinstance(self.message_ids, (list, tuple)) or len(self.message_ids) > 500:
            raise PayloadError("message_ids must be a list of at most 500 ids")
        for mid in self.message_ids:
            if not isinstance(mid, str) or not re.fullmatch(r"[0-9a-f]{32}", mid):
                raise PayloadError("a message id is 32 hex digits")


@dataclass(frozen=True, slots=True)
class GroupControl:
    """Membership changes, sent to everyone in the group (including who is removed)."""

    TYPE: ClassVar[str] = "group"
    op: str  # create | add | remove | rename
    group_id: str
    name: str = ""
    members: tuple[str, ...] = ()

    def validate(self) -> None:
        if self.op not in ("create", "add", "remove", "rename"):
            raise PayloadError("group op must be create, add, remove or rename")
        if not isinstance(self.group_id, str) or not re.fullmatch(r"[0-9a-f]{32}", self.group_id):
            raise PayloadError("a group id is 32 hex digits")
        _text(self.name, "group name", 128)
        if not isinstance(self.members, (list, tuple)) or len(self.members) > 500:
            raise PayloadError("members must be a list of at most 500 addresses")
        for member in self.members:
            _address(member, "member")


@dataclass(frozen=True, slots=True)
class DeliveryPass:
    """The sender's delivery pass (node/lanes.py), given to the people they accept: with
    it, mail to the sender's mailbox goes to its contact lane. Control traffic, not shown."""

    TYPE: ClassVar[str] = "delivery_pass"
    key: str  # 16 bytes, hex

    def validate(self) -> None:
        if not isinstance(self.key, str) or not re.fullmatch(r"[0-9a-f]{32}", self.key):
            raise PayloadError("a delivery pass is 32 hex digits")


@dataclass(frozen=True, slots=True)
class Unknown:
    """A payload type this version does not understand, kept whole."""

    type: str
    fields: dict[str, Any] = field(default_factory=dict)


# -- payment requests and split bills (cli/services/requests.py) ------------------------

MAX_SHARES = 256  # people one split bill can ask
MAX_EXPIRY_MS = 2**53  # beyond any real date; keeps the value exact in every JSON reader
_REQUEST_ID = re.compile(r"[0-9a-f]{32}")


def _request_id(value: Any) -> str:
    if not isinstance(value, str) or not _REQUEST_ID.fullmatch(value):
        raise PayloadError("a request id is 32 hex digits")
    return value


@dataclass(frozen=True, slots=True)
class PaymentRequest:
    """Pay me `amount` (base units) of `token` (None: ETH) on `chain_id` before `expires_ms`.

    The money goes to the message's sender, never to an address the payload names. A split
    bill has `shares`: (address, base units) for each person asked, each paying their own
    share; the shares never add up to more than `amount` (the requester's own share, if any,
    is the rest). Without shares the one recipient owes `amount`."""

    TYPE: ClassVar[str] = "payment_request"
    request_id: str
    chain_id: int
    amount: str
    token: str | None = None
    note: str = ""
    expires_ms: int | None = None
    shares: tuple[tuple[str, str], ...] = ()
    group_id: str | None = None

    def validate(self) -> None:
        _request_id(self.request_id)
        _group(self.group_id)
        _uint(self.chain_id, "chain_id")
        if int(_decimal(self.amount, "amount")) == 0:
            raise PayloadError("a payment request asks for more than 0")
        if self.token is not None:
            _address(self.token, "token")
        _text(self.note, "note", 512)
        if self.expires_ms is not None and _uint(self.expires_ms, "expires_ms") > MAX_EXPIRY_MS:
            raise PayloadError("expires_ms is out of range")
        if not isinstance(self.shares, (list, tuple)) or len(self.shares) > MAX_SHARES:
            raise PayloadError(f"shares must be a list of at most {MAX_SHARES} [address, amount] pairs")
        seen: set[str] = set()
        total = 0
        for pair in self.shares:
            if not isinstance(pair, (list, tuple)) or len(pair) != 2:
                raise PayloadError("a share is an [address, amount] pair")
            who = _address(pair[0], "a share's address")
            owed = int(_decimal(pair[1], "a share's amount"))
            if who in seen or owed == 0:
                raise PayloadError("each share names a different person and asks for more than 0")
            seen.add(who)
            total += owed
        if total > int(self.amount):
            raise PayloadError("the shares add up to more than the amount")

    def share_of(self, address: str) -> int | None:
        """What `address` is asked to pay (base units), or None if not asked. Call on a
        validated payload."""
        if not self.shares:
            return int(self.amount)
        wanted = addr.parse(address)
        return next((int(owed) for who, owed in self.shares if addr.parse(who) == wanted), None)


@dataclass(frozen=True, slots=True)
class RequestDeclined:
    """The person asked will not pay request `request_id`."""

    TYPE: ClassVar[str] = "request_declined"
    request_id: str

    def validate(self) -> None:
        _request_id(self.request_id)


# -- shared trades (cli/services/social_trades.py) ---------------------------------------


@dataclass(frozen=True, slots=True)
class TradeCard:
    """A member's claim about one of their swaps: transaction `tx_hash` on `chain_id` sold
    `amount_in` of `sell` for `amount_out` of `buy` (base units; None: ETH). A claim only:
    every client checks it against the chain (contracts/trade_check.py) before showing it
    as a trade; the price and the time shown come from the chain, not from here."""

    TYPE: ClassVar[str] = "trade"
    chain_id: int
    tx_hash: str
    amount_in: str
    amount_out: str
    sell: str | None = None
    buy: str | None = None
    note: str = ""
    group_id: str | None = None

    def validate(self) -> None:
        _group(self.group_id)
        _uint(self.chain_id, "chain_id")
        _hex32(self.tx_hash, "tx_hash")
        for side, value in (("sell", self.sell), ("buy", self.buy)):
            if value is not None:
                _address(value, side)
        if (self.sell is None and self.buy is None) or (
            self.sell is not None and self.buy is not None and addr.parse(self.sell) == addr.parse(self.buy)
        ):
            raise PayloadError("a trade sells one asset for another")
        if int(_decimal(self.amount_in, "amount_in")) == 0 or int(_decimal(self.amount_out, "amount_out")) == 0:
            raise PayloadError("a trade moves more than 0 each way")
        _text(self.note, "note", 512)


# -- peer-to-peer offers on Seaport (contracts/protocols/seaport.py, cli/services/offers.py) ----

MAX_ITEMS = 8  # per side of an offer
MAX_OFFER_TIME = 2**40  # seconds: beyond any real date
_ZERO_ADDRESS = "0x" + "00" * 20
_ITEM_KINDS = {0: "ETH", 1: "ERC-20", 2: "ERC-721"}


def _items(value: Any, what: str, *, with_recipient: bool) -> None:
    """[[kind, token, identifier, amount(, recipient)], ...]: fixed amounts of ETH (asked for
    only), ERC-20s or single ERC-721s, each NFT at most once."""
    width = 5 if with_recipient else 4
    if not isinstance(value, (list, tuple)) or not 1 <= len(value) <= MAX_ITEMS:
        raise PayloadError(f"{what} must list 1 to {MAX_ITEMS} items")
    seen: set[tuple[str, int]] = set()
    for item in value:
        if not isinstance(item, (list, tuple)) or len(item) != width:
            raise PayloadError(
                f"an item of {what} is [kind, token, identifier, amount{', recipient' if with_recipient else ''}]"
            )
        kind, token, identifier, amount = item[0], _address(item[1], "an item's token"), item[2], item[3]
        if type(kind) is not int or kind not in _ITEM_KINDS:  # (not True, not 1.0)
            raise PayloadError("an item's kind is 0 (ETH), 1 (ERC-20) or 2 (ERC-721)")
        units = int(_decimal(amount, "an item's amount"))
        number = int(_decimal(identifier, "an item's identifier"))
        if units == 0 or units >= 2**256 or number >= 2**256:
            raise PayloadError("an item's amount is above 0 and below 2^256")
        if kind == 0 and (with_recipient is False or token != _ZERO_ADDRESS or number != 0):
            raise PayloadError("ETH can only be asked for (not offered), with token 0x0 and identifier 0")
        if kind != 0 and token == _ZERO_ADDRESS:
            raise PayloadError("a token item names its token contract")
        if kind == 1 and number != 0:
            raise PayloadError("an ERC-20 item has identifier 0")
        if kind == 2:
            if units != 1 or (token, number) in seen:
                raise PayloadError("an ERC-721 item is one token, listed once")
            seen.add((token, number))
        if with_recipient:
            _address(item[4], "an item's recipient")


@dataclass(frozen=True, slots=True)
class Offer:
    """A signed Seaport order from the sender, restricted to the recipient (its zone): the
    sender gives `offer`, asks for `consideration`. `order_hash` must be the hash of these
    components and `signature` the sender's EIP-712 signature (the service checks both, and
    that offerer = sender and zone = me). `replaces`: the offer this one counters."""

    TYPE: ClassVar[str] = "offer"
    order_hash: str
    chain_id: int
    seaport: str
    offerer: str
    zone: str
    offer: tuple[tuple[Any, ...], ...]
    consideration: tuple[tuple[Any, ...], ...]
    start: int
    end: int
    salt: str  # 0x + 32 bytes
    counter: str  # decimal
    signature: str  # 0x + 65 bytes
    note: str = ""
    replaces: str | None = None

    def validate(self) -> None:
        _hex32(self.order_hash, "order_hash")
        _uint(self.chain_id, "chain_id")
        _address(self.seaport, "seaport")
        _address(self.offerer, "offerer")
        _address(self.zone, "zone")
        _items(self.offer, "offer", with_recipient=False)
        _items(self.consideration, "consideration", with_recipient=True)
        if _uint(self.start, "start") >= _uint(self.end, "end") or self.end > MAX_OFFER_TIME:
            raise PayloadError("an offer's start is before its end, and its end is a real date")
        _hex32(self.salt, "salt")
        if int(_decimal(self.counter, "counter")) >= 2**256:
            raise PayloadError("counter is out of range")
        if not isinstance(self.signature, str) or not _HEX.match(self.signature) or len(self.signature) != 132:
            raise PayloadError("an offer's signature is 65 bytes")
        _text(self.note, "note", 512)
        if self.replaces is not None:
            _hex32(self.replaces, "replaces")


@dataclass(frozen=True, slots=True)
class OfferAnswer:
    """What became of offer `order_hash`: `declined` (no transaction), or `filled` /
    `cancelled` by transaction `tx_hash` (each side checks it against the chain)."""

    TYPE: ClassVar[str] = "offer_answer"
    order_hash: str
    status: str
    chain_id: int | None = None
    tx_hash: str | None = None

    def validate(self) -> None:
        _hex32(self.order_hash, "order_hash")
        if self.status not in ("declined", "filled", "cancelled"):
            raise PayloadError("an offer answer is declined, filled or cancelled")
        if (self.status == "declined") != (self.tx_hash is None) or (self.tx_hash is None) != (self.chain_id is None):
            raise PayloadError("a fill or cancellation names its chain and transaction; a decline names none")
        if self.tx_hash is not None:
            _hex32(self.tx_hash, "tx_hash")
            _uint(self.chain_id, "chain_id")


KNOWN = {
    cls.TYPE: cls
    for cls in (
        Text,
        RedPacket,
        Payment,
        Receipt,
        GroupControl,
        RedPacketClaim,
        DeliveryPass,
        PaymentRequest,
        RequestDeclined,
        TradeCard,
        Offer,
        OfferAnswer,
    )
}
Payload = (
    Text
    | RedPacket
    | Payment
    | Receipt
    | GroupControl
    | RedPacketClaim
    | DeliveryPass
    | PaymentRequest
    | RequestDeclined
    | TradeCard
    | Offer
    | OfferAnswer
    | Unknown
)


def type_of(payload: Payload) -> str:
    return payload.type if isinstance(payload, Unknown) else payload.TYPE


def encode(payload: Payload) -> bytes:
    """Canonical JSON bytes (validated first)."""
    if isinstance(payload, Unknown):
        body = {**payload.fields, "type": payload.type}
    else:
        payload.validate()
        body = {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(payload).items() if v is not None}
        body["type"] = payload.TYPE
        body.setdefault("v", VERSION)
    try:
        return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode(
            "utf-8"
        )
    except (ValueError, UnicodeEncodeError):
        raise PayloadError("payload has a value JSON cannot carry (NaN, infinity or a lone surrogate)") from None


def _frozen(value: Any) -> Any:
    """JSON lists as tuples, nested ones too (payloads are frozen and hashable)."""
    return tuple(_frozen(v) for v in value) if isinstance(value, list) else value


def decode(data: bytes) -> Payload:
    """Payload from bytes; PayloadError if malformed; Unknown for an unknown type."""
    try:
        body = jsonsafe.loads(data)
    except ValueError:
        raise PayloadError("payload is not usable JSON") from None
    if not isinstance(body, dict) or not isinstance(body.get("type"), str):
        raise PayloadError("payload has no type")
    kind = body.pop("type")
    cls = KNOWN.get(kind)
    version = body.pop("v", VERSION)
    if cls is None or version != VERSION:
        return Unknown(kind, {**body, "v": version})
    names = {f.name for f in fields(cls)}
    unexpected = set(body) - names
    if unexpected:
        raise PayloadError(f"unexpected fields in a {kind} payload: {', '.join(sorted(unexpected))}")
    given: dict[str, Any] = {k: _frozen(v) for k, v in body.items()}
    try:
        payload = cls(**given)
    except TypeError:
        raise PayloadError(f"missing fields in a {kind} payload") from None
    payload.validate()
    return payload
