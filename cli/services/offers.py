"""Peer-to-peer offers in a chat, settled atomically on Seaport 1.6 (issue 17).

An offer is an `offer` message carrying a Seaport order the sender signed (EIP-712), restricted
to the chat peer (FULL_RESTRICTED, the peer as zone: nobody else can fill it). The peer fills
it on chain (`accept`), answers with a counter-offer of their own (`counter`: a new order they
sign, naming the one it replaces) or declines; the offerer can cancel it on chain. Nothing about
an offer is stored apart from the messages: its state is worked out from them and the chain.

Everything in an offer from someone else is hostile until checked: the order hash is recomputed
here, the signature must recover to the message's sender, the zone must be me, the Seaport must
be the one recorded for the network (approvals only ever go to that one), and everything the
order asks for goes to the offerer. Offers that fail are shown as invalid and cannot be accepted.

Seaport cannot take ETH from an account, so ETH on the offering side is offered as WETH (wrapped
first, as a step of its own). Plain inputs and results: the CLI runs the steps through the
preview-simulate-confirm pipeline and renders.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from contracts.protocols import abi, seaport
from contracts.protocols.seaport import Item, Order
from messaging import payloads
from messaging.chat import Messenger, SentMessage
from messaging.errors import PayloadError
from messaging.store import GROUP_PREFIX, StoredMessage
from wallet import address as addr
from wallet import erc20
from wallet.amounts import ETH_DECIMALS, format_units
from wallet.errors import SigningError, WalletError
from wallet.rpc import RpcError, to_int

from .defi import Step
from .offer_items import DEFAULT_EXPIRY, OfferError, Venue, eth_item, merged, parse_item, utc, venue

MAX_LIFETIME_S = 365 * 86_400
ERC721_APPROVE = "approve(address,uint256)"

__all__ = [
    "DEFAULT_EXPIRY",
    "Draft",
    "OfferError",
    "OfferView",
    "Offers",
    "Venue",
    "parse_item",
    "venue",
]

# -- results -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Draft:
    """An offer ready to sign: the order, its hash (checked against Seaport's getOrderHash),
    the steps that must come first (wrap ETH, approvals), what to show."""

    peer: str
    order: Order
    order_hash: str
    steps: list[Step]
    note: str
    replaces: str | None
    rows: list[tuple[str, str]]


@dataclass
class OfferView:
    order_hash: str
    direction: str  # sent | received
    peer: str
    offer: payloads.Offer
    order: Order | None
    state: str  # open | filled | cancelled | expired | declined | invalid | not yet valid | other chain
    reason: str = ""
    checks: list[str] = field(default_factory=list)  # what the chain says stands in the way of a fill
    fill_tx: str | None = None
    cancel_tx: str | None = None
    countered_by: str | None = None
    timestamp_ms: int = 0
    message_id: str = ""

    def checked(self) -> Order:
        """The order, for an offer that checked out."""
        if self.order is None:
            raise OfferError(f"offer {self.order_hash[:18]}… is {self.state}: {self.reason}")
        return self.order


# -- the service -------------------------------------------------------------------------


class Offers:
    def __init__(
        self, me: str, place: Venue, messenger: Messenger | None = None, clock: Callable[[], int] | None = None
    ) -> None:
        self.me = addr.parse(me)
        self.place = place
        self._messenger = messenger
        self.clock = clock or place.now

    @property
    def messenger(self) -> Messenger:
        """The chat (opened with the account's key: drafting and previews need none)."""
        if self._messenger is None:
            raise OfferError("the chat is not open")
        return self._messenger

    def open_chat(self, messenger: Messenger) -> None:
        self._messenger = messenger

    # drafting and sending

    def draft(
        self,
        to: str,
        give: list[Item],
        want: list[Item],
        lifetime_s: int,
        note: str = "",
        replaces: str | None = None,
    ) -> Draft:
        """The order giving `give` for `want` to address `to`, for `lifetime_s` seconds; refused
        if I do not hold what I give. ETH given becomes WETH (wrapped by a step)."""
        peer = addr.parse(to)
        if peer == self.me:
            raise OfferError("that is your own address: make the offer to someone else")
        if not give or not want:
            raise OfferError("an offer gives something (--give) and asks for something (--want)")
        if not 0 < lifetime_s <= MAX_LIFETIME_S:
            raise OfferError("an offer lasts from a second to a year (--expires)")
        steps: list[Step] = []
        offered = []
        for item in merged(give):
            if item.kind == seaport.NATIVE:
                item, wrap = self._as_weth(item)
                steps.extend(wrap)
            offered.append(item)
        problems, approvals = self.requirements(self.me, offered, wrapping=steps)
        if problems:
            raise OfferError("; ".join(problems))
        steps.extend(approvals)
        asked = tuple(Item(i.kind, i.token, i.identifier, i.amount, self.me) for i in merged(want))
        start = self.place.now()
        order = Order(
            self.me,
            peer,
            tuple(offered),
            asked,
            start,
            start + lifetime_s,
            secrets.randbits(256),
            seaport.read_counter(self.place.rpc, self.place.seaport, self.me),
        )
        hash_ = seaport.order_hash(order)
        if seaport.read_order_hash(self.place.rpc, self.place.seaport, order) != hash_:
            raise OfferError(f"Seaport at {self.place.seaport} hashes the order differently: is it Seaport 1.6?")
        rows = [
            ("to", peer),
            ("you give", ", ".join(self.place.describe(i) for i in order.offer)),
            ("you get", ", ".join(self.place.describe(i) for i in order.consideration)),
            ("valid until", f"{utc(order.end)} by the chain's clock ({lifetime_s:,} s from its latest block)"),
            ("only filled by", f"{peer} (FULL_RESTRICTED order, zone = the peer)"),
            ("settles on", f"Seaport 1.6 at {self.place.seaport}, chain {self.place.chain_id}"),
            ("order hash", "0x" + hash_.hex()),
        ]
        return Draft(peer, order, "0x" + hash_.hex(), steps, note, replaces, rows)

    def _as_weth(self, item: Item) -> tuple[Item, list[Step]]:
        if self.place.weth is None:
            raise OfferError("Seaport cannot take ETH from an account, and no WETH is recorded to offer instead")
        weth = addr.parse(self.place.weth)
        held = erc20.balance_of(self.place.rpc, weth, self.me)
        steps = []
        if held < item.amount:
            short = item.amount - held
            steps.append(
                Step(
                    weth,
                    abi.data("deposit()"),
                    short,
                    "deposit",
                    {"wrap": f"{format_units(short, ETH_DECIMALS)} ETH"},
                    f"wrap {format_units(short, ETH_DECIMALS)} ETH as WETH (Seaport cannot take ETH from an account)",
                )
            )
        return Item(seaport.ERC20, weth, 0, item.amount), steps

    def requirements(
        self, owner: str, items: list[Item] | tuple[Item, ...], wrapping: list[Step] | None = None
    ) -> tuple[list[str], list[Step]]:
        """(problems, approval steps) for `owner` to hand over `items` through Seaport: each
        token held (ETH is checked by the pipeline's simulation), and approved to Seaport:
        exactly the amount for an ERC-20, the one token for an ERC-721."""
        rpc, spender = self.place.rpc, self.place.seaport
        wrapped = {s.to: s.value for s in wrapping or []}
        problems: list[str] = []
        steps: list[Step] = []
        for item in merged(items):
            shown = self.place.describe(item)
            if item.kind == seaport.ERC20:
                try:
                    held = erc20.balance_of(rpc, item.token, owner) + wrapped.get(item.token, 0)
                    allowed = erc20.allowance(rpc, item.token, owner, spender)
                except (WalletError, RpcError, ValueError):
                    problems.append(f"{shown} cannot be read on chain (not an ERC-20)")
                    continue
                if held < item.amount:
                    have = self.place.describe(Item(item.kind, item.token, 0, held)) if held else "none"
                    problems.append(f"{owner} holds {have}, short of {shown}")
                if allowed < item.amount:
                    steps.append(
                        Step(
                            item.token,
                            _approve(spender, item.amount),
                            0,
                            "approve",
                            {"spender": f"{spender} (Seaport)", "amount": shown},
                            f"approve: Seaport {spender} may take exactly {shown} from {owner}",
                        )
                    )
            elif item.kind == seaport.ERC721:
                try:
                    holder = addr.parse(abi.read_one(rpc, item.token, "ownerOf(uint256)(address)", item.identifier))
                    approved = addr.parse(
                        abi.read_one(rpc, item.token, "getApproved(uint256)(address)", item.identifier)
                    )
                    for_all = abi.read_one(rpc, item.token, "isApprovedForAll(address,address)(bool)", owner, spender)
                except (WalletError, RpcError, ValueError):
                    problems.append(f"{shown} cannot be read on chain (not an ERC-721, or no such token)")
                    continue
                if holder != addr.parse(owner):
                    problems.append(f"{owner} does not hold {shown} (its owner is {holder})")
                elif approved != spender and not for_all:
                    steps.append(
                        Step(
                            item.token,
                            abi.data(ERC721_APPROVE, spender, item.identifier),
                            0,
                            "approve",
                            {"spender": f"{spender} (Seaport)", "token": shown},
                            f"approve: Seaport {spender} may take {shown} (this one token) from {owner}",
                        )
                    )
        return problems, steps

    def send(self, draft: Draft, key: bytes) -> tuple[payloads.Offer, SentMessage]:
        """Sign the order (EIP-712) and send it to the peer as an `offer` message."""
        signature = seaport.sign(key, draft.order, self.place.chain_id, self.place.seaport)
        offer = _payload(draft, signature, self.place)
        try:
            offer.validate()
        except PayloadError as error:
            raise OfferError(f"cannot send that offer: {error}") from None
        return offer, self.messenger.send(draft.peer, offer)

    # reading

    def views(self, *, chain: bool = True) -> list[OfferView]:
        """Every offer sent and received, oldest first, with its state; `chain`: checked against
        the chain (order status, counter, the clock, balances and approvals)."""
        messages = self.messenger.store.messages_of_types(payloads.Offer.TYPE, payloads.OfferAnswer.TYPE)
        answers = [m for m in messages if isinstance(m.payload, payloads.OfferAnswer)]
        offers = [m for m in messages if isinstance(m.payload, payloads.Offer)]
        views = [self._view(m, answers, chain) for m in offers]
        by_hash = {(v.order_hash, v.peer): v for v in views}
        for v in views:  # a valid counter names the offer it answers
            if v.state != "invalid" and v.offer.replaces and (v.offer.replaces, v.peer) in by_hash:
                by_hash[(v.offer.replaces, v.peer)].countered_by = v.order_hash
        return views

    def find(self, order_hash: str, direction: str | None = None) -> OfferView:
        """The offer whose hash starts with `order_hash` (at least 6 hex digits)."""
        wanted = order_hash.strip().lower()
        if not wanted.startswith("0x"):
            wanted = "0x" + wanted
        if not re.fullmatch(r"0x[0-9a-f]{6,64}", wanted):
            raise OfferError(
                f"{order_hash[:70]!r} is not an offer id: give its order hash (or its first 6+ hex digits)"
            )
        found = [v for v in self.views() if v.order_hash.startswith(wanted) and direction in (None, v.direction)]
        if not found:
            raise OfferError(f"no offer {wanted}: see `hongbao trade list`")
        if len({v.order_hash for v in found}) > 1:
            raise OfferError(f"{wanted} matches {len(found)} offers: give more of the hash")
        valid = [v for v in found if v.state != "invalid"]
        return (valid or found)[0]

    def view_of(self, message: StoredMessage, answers: list[StoredMessage]) -> OfferView:
        """One offer message's view, checked against the chain (`answers`: the offer_answer messages)."""
        return self._view(message, answers, True)

    def _view(self, message: StoredMessage, answers: list[StoredMessage], chain: bool) -> OfferView:
        offer = message.payload
        if not isinstance(offer, payloads.Offer):
            raise TypeError("not an offer message")
        direction = "sent" if message.direction == "out" else "received"
        view = OfferView(
            offer.order_hash,
            direction,
            message.conversation,
            offer,
            None,
            "open",
            timestamp_ms=message.timestamp_ms,
            message_id=message.id,
        )
        why = self._invalid(message, offer)
        if why:
            view.state, view.reason = "invalid", why
            return view
        view.order = _order(offer)
        if offer.chain_id != self.place.chain_id:
            view.state, view.reason = "other chain", f"settles on chain {offer.chain_id}, not {self.place.chain_id}"
            return view
        said = {
            a.payload.status: a.payload
            for a in answers
            if isinstance(a.payload, payloads.OfferAnswer)
            and a.payload.order_hash == offer.order_hash
            and a.conversation == message.conversation
        }
        if not chain:
            view.state = "declined" if "declined" in said else "open"
            return view
        self._check_chain(view, said)
        return view

    def _invalid(self, message: StoredMessage, offer: payloads.Offer) -> str:
        """Why an offer cannot be taken at its word (empty: it checks out)."""
        if message.conversation.startswith(GROUP_PREFIX):
            return "an offer sent to a group (an offer names one person)"
        offerer, zone = (message.sender, self.me) if message.direction == "in" else (self.me, message.conversation)
        if addr.parse(offer.offerer) != offerer:
            return f"the order's offerer {offer.offerer} is not who sent it ({offerer})"
        if addr.parse(offer.zone) != zone:
            return f"the order is restricted to {offer.zone}, not {zone}"
        if offer.chain_id == self.place.chain_id and addr.parse(offer.seaport) != self.place.seaport:
            return f"it names a contract {offer.seaport} that is not the Seaport recorded here ({self.place.seaport})"
        order = _order(offer)
        if any(i.recipient != offerer for i in order.consideration):
            return "what it asks for would go to someone other than the offerer"
        if "0x" + seaport.order_hash(order).hex() != offer.order_hash:
            return "its order hash does not match the order"
        try:
            signer = seaport.recover(order, offer.chain_id, offer.seaport, bytes.fromhex(offer.signature[2:]))
        except SigningError:
            return "its signature is malformed"
        if signer != offerer:
            return f"it is signed by {signer}, not by the offerer"
        return ""

    def _check_chain(self, view: OfferView, said: dict[str, payloads.OfferAnswer]) -> None:
        order, rpc, where = view.checked(), self.place.rpc, self.place.seaport
        hash_ = bytes.fromhex(view.order_hash[2:])
        try:
            status = seaport.read_status(rpc, where, hash_)
            counter = seaport.read_counter(rpc, where, order.offerer)
            now = self.clock()
        except (WalletError, RpcError) as error:
            view.state, view.reason = "unchecked", f"the chain cannot be read: {error}"
            return
        if status.fully_filled:
            view.state = "filled"
            view.fill_tx = self._fill_tx(view, said.get("filled"))
            if view.fill_tx is None:
                view.reason = "filled on chain, but no OrderFulfilled event names the peer"
            return
        if status.cancelled or counter != order.counter:
            view.state = "cancelled"
            answer = said.get("cancelled")
            view.cancel_tx = answer.tx_hash if answer else None
            if not status.cancelled:
                view.reason = "the offerer raised their Seaport counter"
            return
        if now >= order.end:
            view.state = "expired"
            return
        if now < order.start:
            view.state = "not yet valid"
        if "declined" in said:
            view.state = "declined"
        needs, approvals = self.requirements(order.offerer, order.offer)
        view.checks.extend(needs)
        view.checks.extend(f"{order.offerer} has not approved Seaport to take {_what(s)}" for s in approvals)
        if view.direction == "received":
            mine, _ = self.requirements(self.me, [i for i in order.consideration if i.kind != seaport.NATIVE])
            view.checks.extend(f"you: {p}" for p in mine)
            balance = to_int(rpc.call("eth_getBalance", self.me, "latest"))
            if balance < order.value():
                view.checks.append(
                    f"you: {format_units(balance, ETH_DECIMALS)} ETH is short of the {self.place.describe(eth_item(order.value()))} asked"
                )

    def _fill_tx(self, view: OfferView, answer: payloads.OfferAnswer | None) -> str | None:
        """The transaction that filled the order for the peer, found from its OrderFulfilled
        event: the one the answer names if it checks out, else from the chain's logs (an
        answer naming the wrong transaction must not hide the real fill)."""
        from wallet import block_time, sync

        order = view.checked()
        if answer and answer.tx_hash and self.verified_fill(view, answer.tx_hash):
            return answer.tx_hash
        rpc = self.place.rpc
        topics = ["0x" + seaport.ORDER_FULFILLED.hex(), _topic(order.offerer), _topic(order.zone)]
        logs: list[dict[str, Any]] = []
        try:  # from the order's start (no fill before it), in the ranges public nodes accept
            first, last = block_time.first_block_since(rpc, order.start), to_int(rpc.call("eth_blockNumber"))
            for low, high in sync.ranges(first, last, sync.LOGS_RANGE_CAP):
                span = {"fromBlock": hex(low), "toBlock": hex(high)}
                logs += rpc.call("eth_getLogs", {"address": self.place.seaport, **span, "topics": topics}) or []
        except (WalletError, RpcError):
            pass
        candidates = [log["transactionHash"] for log in logs]
        for tx_hash in candidates:
            if tx_hash and self.verified_fill(view, tx_hash):
                return str(tx_hash)
        return None

    def verified_fill(self, view: OfferView, tx_hash: str) -> dict[str, Any] | None:
        """The receipt, if `tx_hash` filled this order for its zone (OrderFulfilled from the recorded Seaport)."""
        try:
            receipt = self.place.rpc.call("eth_getTransactionReceipt", tx_hash)
        except (WalletError, RpcError):
            return None
        if not receipt:
            return None
        zone = addr.parse(view.offer.zone)
        for fill in seaport.fills(receipt, self.place.seaport):
            if "0x" + fill.order_hash.hex() == view.order_hash and fill.zone == zone and fill.recipient == zone:
                return dict(receipt)
        return None

    # answering

    def acceptable(self, order_hash: str) -> OfferView:
        view = self.find(order_hash, "received")
        if view.state != "open":
            reason = f" ({view.reason})" if view.reason else ""
            raise OfferError(f"offer {view.order_hash[:18]}… is {view.state}{reason}: it cannot be accepted")
        return view

    def accept_steps(self, view: OfferView) -> list[Step]:
        """My approvals for what the order asks of me, then the fill (with the ETH it asks)."""
        order = view.checked()
        problems, steps = self.requirements(self.me, [i for i in order.consideration if i.kind != seaport.NATIVE])
        if problems:
            raise OfferError("; ".join(problems))
        if seaport.read_order_hash(self.place.rpc, self.place.seaport, order) != bytes.fromhex(view.order_hash[2:]):
            raise OfferError("Seaport hashes this order differently than the offer says: not filling it")
        gives = ", ".join(self.place.describe(i) for i in order.offer)
        pays = ", ".join(self.place.describe(i) for i in order.consideration)
        fill = Step(
            self.place.seaport,
            seaport.fulfill_data(order, bytes.fromhex(view.offer.signature[2:])),
            order.value(),
            "fulfillOrder",
            {"order": view.order_hash, "you get": gives, "you pay": pays},
            f"accept offer {view.order_hash[:18]}… from {order.offerer}: you get {gives}; you pay {pays}",
        )
        return [*steps, fill]

    def filled(self, view: OfferView, tx_hash: str) -> SentMessage | None:
        """Tell the offerer, once the chain shows the fill (None if it does not)."""
        if self.verified_fill(view, tx_hash) is None:
            return None
        answer = payloads.OfferAnswer(view.order_hash, "filled", self.place.chain_id, tx_hash)
        return self.messenger.send(view.peer, answer)

    def decline(self, order_hash: str) -> OfferView:
        view = self.acceptable(order_hash)
        self.messenger.send(view.peer, payloads.OfferAnswer(view.order_hash, "declined"))
        view.state = "declined"
        return view

    def cancel_step(self, order_hash: str) -> tuple[OfferView, Step]:
        view = self.find(order_hash, "sent")
        if view.state in ("filled", "cancelled", "invalid", "other chain"):
            raise OfferError(f"offer {view.order_hash[:18]}… is {view.state}: nothing to cancel")
        step = Step(
            self.place.seaport,
            seaport.cancel_data([view.checked()]),
            0,
            "cancel",
            {"order": view.order_hash},
            f"cancel offer {view.order_hash[:18]}… to {view.peer} on Seaport (nobody can fill it after this)",
        )
        return view, step

    def cancelled(self, view: OfferView, tx_hash: str) -> SentMessage | None:
        status = seaport.read_status(self.place.rpc, self.place.seaport, bytes.fromhex(view.order_hash[2:]))
        if not status.cancelled:
            return None
        return self.messenger.send(
            view.peer, payloads.OfferAnswer(view.order_hash, "cancelled", self.place.chain_id, tx_hash)
        )

    def counter(
        self, order_hash: str, give: list[Item] | None, want: list[Item] | None, lifetime_s: int, note: str = ""
    ) -> Draft:
        """My own offer back to the offerer, naming theirs: by default I give what they asked
        and ask for what they gave; `want`/`give` change my side."""
        view = self.acceptable(order_hash)
        order = view.checked()
        mine = give or [Item(i.kind, i.token, i.identifier, i.amount) for i in order.consideration]
        theirs = want or list(order.offer)
        return self.draft(view.peer, mine, theirs, lifetime_s, note, replaces=view.order_hash)

    # evidence

    def receipt(self, order_hash: str) -> dict[str, Any]:
        """The negotiation and settlement of an offer, for anyone to check (offer_receipts.py)."""
        from .offer_receipts import receipt

        return receipt(self, order_hash)


# -- helpers -------------------------------------------------------------------------------


def _what(step: Step) -> str:
    return step.args.get("amount") or step.args.get("token") or "?"


def _approve(spender: str, amount: int) -> bytes:
    from wallet import calls

    return calls.approve_data(spender, amount)


def _topic(address: str) -> str:
    return "0x" + "00" * 12 + addr.parse(address)[2:].lower()


def _order(offer: payloads.Offer) -> Order:
    """The Seaport order a (validated) offer payload carries."""
    return Order(
        addr.parse(offer.offerer),
        addr.parse(offer.zone),
        tuple(Item(int(k), addr.parse(t), int(i), int(a)) for k, t, i, a in offer.offer),
        tuple(Item(int(k), addr.parse(t), int(i), int(a), addr.parse(r)) for k, t, i, a, r in offer.consideration),
        offer.start,
        offer.end,
        int(offer.salt, 16),
        int(offer.counter),
    )


def _payload(draft: Draft, signature: bytes, place: Venue) -> payloads.Offer:
    o = draft.order
    return payloads.Offer(
        draft.order_hash,
        place.chain_id,
        place.seaport,
        o.offerer,
        o.zone,
        tuple((i.kind, i.token, str(i.identifier), str(i.amount)) for i in o.offer),
        tuple(
            (i.kind, i.token, str(i.identifier), str(i.amount), i.recipient or seaport.ZERO) for i in o.consideration
        ),
        o.start,
        o.end,
        "0x" + o.salt.to_bytes(32, "big").hex(),
        str(o.counter),
        "0x" + signature.hex(),
        draft.note,
        draft.replaces,
    )
