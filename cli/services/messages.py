"""Chat messages as people see them: one line per payload (`describe`), and what the chain
says about incoming payment notices and red packets (`view`). Plain text and dicts, never
markup: a front end renders them inert (cli/inert.py), since most of it is others' words."""

from __future__ import annotations

import contextlib
import functools
import json
import threading
from dataclasses import dataclass
from typing import Any

from wallet.errors import WalletError

CONTROL = ("receipt", "delivery_pass")  # control traffic: stored, never shown


def amount_text(value: str | None, token: str | None, chain_id: int) -> str:
    """An amount a message states, in the token's units when a configured network knows it."""
    from wallet import amounts

    if value is None:
        return "?"
    if token is None:
        return amounts.eth(int(value))
    with contextlib.suppress(WalletError):
        from ..context import load_config

        for network in load_config().networks.values():
            if network.chain_id == chain_id:
                for known in network.tokens.values():
                    if known.address.lower() == token.lower():
                        return f"{amounts.format_units(int(value), known.decimals)} {known.symbol}"
    return f"{value} base units of token {token}"


def describe(payload: Any, names: dict[str, str] | None = None) -> str:
    """One line for people; never markup (callers print it as plain text)."""
    from messaging import payloads

    names = names or {}

    if isinstance(payload, payloads.Text):
        return payload.body
    if isinstance(payload, payloads.RedPacket):
        total = amount_text(payload.total, payload.token, payload.chain_id)
        shares = f" in {payload.shares} shares" if payload.shares else ""
        greeting = f" “{payload.greeting}”" if payload.greeting else ""
        return (
            f"🧧 red packet{greeting}: {total}{shares} (as the message says) — hongbao packet claim {payload.packet_id}"
        )
    if isinstance(payload, payloads.RedPacketClaim):
        return f"🧧 claim for packet {payload.packet_id[:10]}... sent to you to submit (the share goes to {payload.recipient})"
    if isinstance(payload, payloads.Payment):
        note_text = f" “{payload.note}”" if payload.note else ""
        paying = f" for request {payload.request_id}" if payload.request_id else ""
        return f"💸 payment of {amount_text(payload.amount, payload.token, payload.chain_id)}{paying}{note_text} (tx {payload.tx_hash})"
    if isinstance(payload, payloads.PaymentRequest):
        note_text = f" “{payload.note}”" if payload.note else ""
        split = f" (a bill split {len(payload.shares)} ways)" if payload.shares else ""
        return f"🧾 payment request: {amount_text(payload.amount, payload.token, payload.chain_id)}{split}{note_text} — pay it: hongbao pay {payload.request_id}"
    if isinstance(payload, payloads.RequestDeclined):
        return f"[declined payment request {payload.request_id}]"
    if isinstance(payload, payloads.TradeCard):  # a claim: its amounts are shown only once the chain backs them
        return f"📈 trade card about tx {payload.tx_hash}" + (f" “{payload.note}”" if payload.note else "")
    if isinstance(payload, (payloads.Offer, payloads.OfferAnswer)):
        return _describe_offer(payload)
    if isinstance(payload, payloads.GroupControl):
        if payload.op == "rename":
            return f"[group renamed to {payload.name!r}]"
        who = ", ".join(names.get(m) or m for m in payload.members)
        return f"[group {payload.op} {payload.name!r}: {who}]"
    if isinstance(payload, payloads.Receipt):
        return f"[receipt: {payload.status} {len(payload.message_ids)}]"
    return f"[unknown message type {payloads.type_of(payload)!r}: this version cannot show it]"


def _describe_offer(payload: Any) -> str:
    """An offer or an answer to one (cli/trade_offer_cmd.py), as the message says it."""
    from messaging import payloads

    short = payload.order_hash[:12]
    if isinstance(payload, payloads.OfferAnswer):
        tx = f" (tx {payload.tx_hash})" if payload.tx_hash else ""
        return f"[offer {short} {payload.status}{tx}]"

    gives, wants = offer_sides(payload)
    note_text = f" “{payload.note}”" if payload.note else ""
    countering = f" (counters {payload.replaces[:12]})" if payload.replaces else ""
    return f"🤝 offer{countering}: gives {gives} for {wants}{note_text} — hongbao trade accept {short}"


def offer_sides(payload: Any) -> tuple[str, str]:
    """(what an offer gives, what it asks for), as its message says (tokens named from the config)."""

    def item(kind: int, token: str, identifier: Any, amount: str, *_recipient: Any) -> str:
        if kind == 2:
            return f"NFT {token}#{identifier}"
        return amount_text(amount, None if kind == 0 else token, payload.chain_id)

    return ", ".join(item(*i) for i in payload.offer), ", ".join(item(*i) for i in payload.consideration)


class Reads:
    """What checking a page of messages reads once, not per message: the configuration, one
    RPC client per network, the first notice naming each payment, the offers' answers
    (a chat of 50 payment notices would otherwise scan the whole store 50 times)."""

    def __init__(self, store: Any = None) -> None:
        self.store = store
        self._config: Any = None
        self._rpcs: dict[int, Any] = {}
        self._first: dict[tuple[int, str, str], str] | None = None
        self._answers: list[Any] | None = None

    def network(self, chain_id: int) -> Any:
        """The configured network with this chain id, or None."""
        from ..context import load_config

        if self._config is None:
            self._config = load_config()
        return next((n for n in self._config.networks.values() if n.chain_id == chain_id), None)

    def rpc(self, network: Any) -> Any:
        from wallet.rpc import Rpc

        if network.chain_id not in self._rpcs:
            self._rpcs[network.chain_id] = Rpc(network.rpc_url, timeout=5)
        return self._rpcs[network.chain_id]

    def first_notices(self) -> dict[tuple[int, str, str], str]:
        if self._first is None:
            self._first = self.store.first_payment_notices()
        return self._first

    def answers(self) -> list[Any]:
        from messaging import payloads

        if self._answers is None:
            self._answers = self.store.messages_of_types(payloads.OfferAnswer.TYPE)
        return self._answers

    def close(self) -> None:
        for rpc in self._rpcs.values():
            rpc.close()
        self._rpcs.clear()

    def __enter__(self) -> Reads:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def payment_check(message: Any, me: str, reads: Reads) -> str | None:
    """For an incoming payment notice: what the chain says about it (never trust the note).
    It counts only if the notice's sender paid, and only for the first notice naming the
    transaction (`reads.store`: the MessageStore that knows the others). "✓ ..." when it holds."""
    from messaging import payloads

    if message.direction != "in" or not isinstance(message.payload, payloads.Payment):
        return None
    from wallet import payments, swap_proof

    payment = message.payload
    if reads.store is not None:
        first = reads.first_notices().get((payment.chain_id, payment.tx_hash.lower(), message.sender))
        if first is not None and first != message.id:
            return f"✗ NOT CONFIRMED: transaction {payment.tx_hash} already backs an earlier notice (message {first})"
    network = reads.network(payment.chain_id)
    if network is None:
        return f"not checked: no network with chain id {payment.chain_id} is configured"
    try:
        verdict = payments.verify(
            reads.rpc(network),
            payment.tx_hash,
            me,
            int(payment.amount),
            payment.token,
            payer=message.sender,
            routers=swap_proof.Routers.from_contracts(network.contracts),  # a swap's output to me
        )
    except WalletError as error:
        return f"not checked: {error}"
    return ("✓ " if verdict.ok else "✗ NOT CONFIRMED: ") + verdict.reason


def packet_check(message: Any, me: str) -> str | None:
    """For an incoming red packet: its live state on chain (claimed by me, exhausted,
    expired, refunded), or why the message is invalid (cli.services.packets)."""
    from messaging import payloads

    if message.direction != "in" or not isinstance(message.payload, payloads.RedPacket):
        return None
    from . import packets

    return packets.packet_check(message, me)


def trade_check(message: Any) -> str | None:
    """For a trade card (mine or a member's): the trade as the chain shows it, or why not."""
    from messaging import payloads

    if not isinstance(message.payload, payloads.TradeCard):
        return None
    from .social_trades import chat_check

    return chat_check(message)


def _offers_on(me: str, chain_id: int) -> Any:
    """The offers service on the network with this chain id: one connection for a whole
    chat, one per thread (a connection is not to be shared: the app checks off its live thread)."""
    return _offers_in_thread(me, chain_id, threading.get_ident())


@functools.lru_cache(maxsize=8)
def _offers_in_thread(me: str, chain_id: int, _thread: int) -> Any:
    from ..context import chain as connect
    from ..context import load_config
    from . import offers as service

    net = next(n for n in load_config().networks.values() if n.chain_id == chain_id)
    return service.Offers(me, service.venue(net, connect(net.name).rpc))


def offer_check(message: Any, me: str, reads: Reads) -> str | None:
    """For an offer: what the chain and the checks of cli/services/offers.py say about it."""
    from messaging import payloads

    if not isinstance(message.payload, payloads.Offer) or reads.store is None:
        return None
    answers = reads.answers()
    try:
        offers = _offers_on(me, message.payload.chain_id)
        view = offers.view_of(message, answers)
    except (WalletError, StopIteration) as error:
        return f"✗ NOT CHECKED: {error or 'no network with its chain id'}"
    if view.state == "open" and not view.checks:
        return "✓ open: signed by the sender, restricted to you, fillable now (checked on chain)"
    details = "; ".join(([view.reason] if view.reason else []) + view.checks)
    mark = "✓" if view.state == "filled" and view.fill_tx else "✗"
    return f"{mark} {view.state.upper()}" + (f": {details}" if details else "")


@dataclass(frozen=True)
class Shown:
    """A stored message with what a front end shows beside it: the chain's word on a payment
    notice or red packet (each "✓ ..." when it holds, else why not), and the messenger's
    flag (e.g. a look-alike sender)."""

    message: Any  # messaging.store.StoredMessage
    payment_check: str | None = None
    packet_check: str | None = None
    flag: str | None = None
    trade_check: str | None = None  # a trade card: the trade as the chain shows it
    offer_check: str | None = None  # an offer: signed, restricted to me, fillable, filled...

    def checks(self) -> list[tuple[str, bool]]:
        """(text, is a flag) beside the message, in the order the CLI shows them."""
        found = [
            (self.payment_check, False),
            (self.flag, True),
            (self.packet_check, False),
            (self.trade_check, False),
            (self.offer_check, False),
        ]
        return [(text, flag) for text, flag in found if text is not None]


def view(m: Any, messages: list[Any]) -> list[Shown]:
    """`messages` of messenger `m` with their checks (reads the chain for payments and packets)."""
    flags = m.flags(messages)
    with Reads(m.store) as reads:
        return [
            Shown(
                x,
                payment_check(x, m.address, reads),
                packet_check(x, m.address),
                flags.get(x.id),
                trade_check(x),
                offer_check(x, m.address, reads),
            )
            for x in messages
        ]


def payload_json(payload: Any) -> dict[str, Any]:
    from messaging import payloads

    data: dict[str, Any] = json.loads(payloads.encode(payload))
    return data


def message_json(shown: Shown, names: dict[str, str] | None = None) -> dict[str, Any]:
    """The JSON of one message (`chat show --json`, a `chat watch --json` line)."""
    message = shown.message
    data = {
        "id": message.id,
        "conversation": message.conversation,
        "direction": message.direction,
        "sender": message.sender,
        "timestamp_ms": message.timestamp_ms,
        "type": message.type,
        "state": message.state,
        "payload": payload_json(message.payload),
    }
    if names is not None:
        data["sender_name"] = names.get(message.sender)
    if shown.payment_check is not None:
        data["payment_check"] = shown.payment_check
    if shown.flag is not None:
        data["flag"] = shown.flag
    if shown.packet_check is not None:
        data["packet_check"] = shown.packet_check
    if shown.trade_check is not None:
        data["trade_check"] = shown.trade_check
    if shown.offer_check is not None:
        data["offer_check"] = shown.offer_check
    return data
