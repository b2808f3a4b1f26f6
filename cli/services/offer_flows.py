"""The offer workflows that sign (cli/services/offers.py holds the offers themselves), for
every front end: make or counter an offer (its preparing steps sent, then the order signed
and sent in the chat), accept one (approvals and the fill), cancel mine on Seaport. Every
transaction goes through cli/services/sender.py and the front end's confirmation."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from .frontend import Preview
from .offers import Draft, OfferError, Offers, parse_item, venue
from .sender import Sender, TxOptions

if TYPE_CHECKING:
    from messaging.chat import Messenger

    from .frontend import Frontend

SIGN_OFFER = "Sign this offer (and send what it needs first)?"


def _opened(frontend: Frontend, opts: TxOptions) -> tuple[Sender, Offers]:
    sender = Sender(frontend, opts)
    return sender, Offers(sender.owner, venue(sender.net, sender.chain.rpc))


@contextlib.contextmanager
def _chat(offers: Offers, key: bytes) -> Iterator[Messenger]:
    from messaging.chat import Messenger
    from wallet.home import home

    with Messenger.open(home(), key) as messenger:
        offers.open_chat(messenger)
        yield messenger


@contextlib.contextmanager
def reading(key: bytes, network_name: str | None) -> Iterator[Offers]:
    """The offers of `key`'s account with its chat open, for what signs no transaction."""
    from wallet import address as addr

    from ..context import chain as connect
    from ..context import network

    chain = connect(network_name)
    chain.verify()
    offers = Offers(addr.from_private_key(key), venue(network(network_name), chain.rpc))
    with _chat(offers, key):
        yield offers


def _lifetime(text: str) -> int:
    from .requests import parse_duration

    return parse_duration(text) // 1000


def make(
    who: str, gives: list[str], wants: list[str], expires: str, note: str, frontend: Frontend, opts: TxOptions
) -> dict[str, Any]:
    """Offer WHO (an address or a contact) `gives` for `wants` ("100 TKN", "NFT 0x..#ID")
    until `expires` (30m, 1d)."""
    from .. import names

    sender, offers = _opened(frontend, opts)
    peer = names.address(who, sender.owner)
    draft = offers.draft(peer, _items(gives, offers), _items(wants, offers), _lifetime(expires), note)
    return _send(sender, offers, draft)


def counter(
    order_id: str, gives: list[str], wants: list[str], expires: str, note: str, frontend: Frontend, opts: TxOptions
) -> dict[str, Any]:
    """My own offer in answer to ORDER_ID (by default: what they asked for what they gave)."""
    sender, offers = _opened(frontend, opts)
    with _chat(offers, sender.key()):
        draft = offers.counter(order_id, _items(gives, offers), _items(wants, offers), _lifetime(expires), note)
    return _send(sender, offers, draft)


def _items(texts: list[str], offers: Offers) -> list[Any]:
    return [parse_item(t, offers.place) for t in texts]


def _send(sender: Sender, offers: Offers, draft: Draft) -> dict[str, Any]:
    """Show the order, confirm, run its steps (wrap, approvals), sign it and send it."""
    from .. import names

    rows = [("offer to", names.labelled(draft.peer, owner=sender.owner)), *draft.rows]
    sender.frontend.confirm(Preview(SIGN_OFFER, rows + ([("note", draft.note)] if draft.note else [])))
    with _chat(offers, sender.key()):
        done, _ = sender.run_steps(draft.steps, None)
        offer, sent = offers.send(draft, sender.key())
    return {
        "order_hash": offer.order_hash,
        "to": draft.peer,
        "message_id": sent.message_id,
        "state": sent.state,
        "end": offer.end,
        "replaces": offer.replaces,
        "steps": [d.json() for d in done],
    }


def accept(order_id: str, frontend: Frontend, opts: TxOptions, *, messenger: Any = None) -> dict[str, Any]:
    """Fill offer ORDER_ID (approving exactly what it asks of me first) and tell the offerer,
    once its OrderFulfilled event shows the fill. `messenger`: the front end's open chat (the
    app's), else the account's is opened for this."""
    sender, offers = _opened(frontend, opts)
    if messenger is not None:
        offers.open_chat(messenger)
    with contextlib.nullcontext() if messenger is not None else _chat(offers, sender.key()):
        view = offers.acceptable(order_id)
        done, _ = sender.run_steps(offers.accept_steps(view), None)
        fill = done[-1]
        told = offers.filled(view, fill.record.hash)
    if told is None:
        raise OfferError(f"{fill.record.hash} was mined but no OrderFulfilled event shows the fill: check it")
    return {"order_hash": view.order_hash, "filled": True, "notified": True, "fill": fill.json()}


def cancel(order_id: str, frontend: Frontend, opts: TxOptions) -> dict[str, Any]:
    """Cancel my offer ORDER_ID on Seaport and tell the peer ("cancelled": whether Seaport says so)."""
    sender, offers = _opened(frontend, opts)
    with _chat(offers, sender.key()):
        view, step = offers.cancel_step(order_id)
        done, _ = sender.run_steps([step], None)
        told = offers.cancelled(view, done[-1].record.hash)
    return {"order_hash": view.order_hash, "cancelled": told is not None, "tx": done[-1].json()}
