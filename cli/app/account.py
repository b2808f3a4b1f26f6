"""The app's adapter to the workflows: the chatting account, its conversations and pages
of messages. Thin on purpose: every workflow is the CLI's own (messaging.chat.Messenger,
cli.chat_cmd's send_or_keep/describe); this module only shapes what the screen reads,
and is to be swapped for cli/services/chat.py when that lands."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wallet.errors import WalletError

PAGE = 50  # messages per page of a conversation


@dataclass(frozen=True)
class Row:
    """One line of the conversation list."""

    id: str
    title: str
    kind: str  # contact | group | request | invitation
    unread: int
    last_ms: int
    protection: str


def key_without_prompt(wallet_name: str | None, index: int, password_file: Path | None) -> bytes | None:
    """The account key when it needs no prompt (unlock session, HONGBAO_PASSWORD, a file);
    None when only a password typed into the app will do."""
    from .. import agent
    from ..chat_cmd import account_key
    from ..secrets import PASSWORD_ENV
    from ..wallets import open_wallet

    wallet = open_wallet(wallet_name)
    if agent.held(wallet.name) is None and password_file is None and PASSWORD_ENV not in os.environ:
        return None
    return account_key(wallet_name, index, password_file)


def key_with_password(wallet_name: str | None, index: int, password: str) -> bytes:
    """The account key from a password typed into the app (WrongPassword if it is not)."""
    from ..wallets import open_wallet

    wallet = open_wallet(wallet_name)
    account = wallet.account(index)
    if account.kind == "watch":
        raise WalletError(f"account {index} ({account.address}) is watch-only: it has no key to chat with")
    key: bytes = wallet.unlock(password).private_key(index)
    return key


def rows(m: Any) -> list[Row]:
    """Conversations, most recent first: one query for all, plus consent and protection."""
    requests = set(m.requests())
    invited = {f"group:{g.id}" for g, _ in m.invitations()}
    found = []
    for s in m.store.conversations():
        kind = (
            "invitation" if s.id in invited else "request" if s.id in requests else "group" if s.is_group else "contact"
        )
        found.append(Row(s.id, s.name or s.id, kind, s.unread, s.last_activity_ms, m.protection(s.id)))
    return found


def page(m: Any, conversation: str, before: str | None = None, limit: int = PAGE) -> list[Any]:
    """A page of a conversation's messages to show, oldest first (services.chat.page)."""
    from ..services.chat import page

    return page(m, conversation, limit, before)


def names(m: Any) -> dict[str, str]:
    from ..services.chat import names_of

    return names_of(m)


def send_text(m: Any, to: str, text: str) -> Any:
    """`chat send` (services.chat): sent, or kept pending while the relay is down."""
    from ..services.chat import send_text

    return send_text(m, to, text)


def fingerprint(m: Any, address: str) -> tuple[str, str | None, bool]:
    """(mine, theirs or None when no bundle is known, verified already)."""
    contact = m.store.contact(address)
    theirs = contact.fingerprint if contact is not None else None
    return m.fingerprint, theirs, bool(contact is not None and contact.verified_out_of_band)


def check(message: Any, me: str, store: Any) -> str | None:
    """What the chain says of an incoming payment notice or red packet, or of an offer (the
    CLI's checks: never trust the note); None for anything else. Reads the chain: call off the screen."""
    from ..services.messages import Reads, offer_check, packet_check, payment_check

    with Reads(store) as reads:
        return payment_check(message, me, reads) or packet_check(message, me) or offer_check(message, me, reads)


def packet_report(payload: Any, network_name: str | None) -> Any:
    """A red packet as the chain tells it (`packet info`'s reading): a Preview to show, with
    each claim, what is left and 手气最佳 once all shares are claimed."""
    from contracts import flows

    from ..context import chain as connect
    from ..services.frontend import Preview

    chain = connect(network_name)
    chain.verify()
    report = flows.read(chain, payload.contract, flows.parse_id(payload.packet_id))
    coin = flows.token_of(chain, report.state.token)
    s = report.state
    rows = [
        ("greeting", payload.greeting or "-"),
        (
            "total",
            f"{flows.format_amount(report.total, coin)} in {s.shares} {'lucky' if s.random else 'equal'} share(s)",
        ),
        ("claimed", f"{flows.format_amount(report.claimed, coin)}: {len(report.claims)} of {s.shares} share(s)"),
        ("status", report.status),
    ]
    rows += [(f"  {c.recipient[:12]}…", flows.format_amount(c.amount, coin)) for c in report.claims]
    if report.best_luck is not None and not s.shares_left:
        rows.append(
            ("手气最佳", f"{report.best_luck.recipient} ({flows.format_amount(report.best_luck.amount, coin)})")
        )
    return Preview(f"🧧 red packet {payload.packet_id[:12]}…", rows)


def payment_request(to: str, form: dict[str, str], network_name: str | None) -> tuple[Any, Any]:
    """(the Preview to confirm, the work that sends it on the live thread) for a payment
    request to `to` (cli/services/requests.py)."""
    import time

    from ..services.frontend import Preview
    from ..services.packet_create import parse_duration
    from ..services.requests import Requests, amount_units

    units, token, chain_id = amount_units(form["amount"], network_name)
    expires_ms = parse_duration(form.get("expires") or "7d") * 1000
    preview = Preview(
        "Send the payment request?",
        [
            ("to", to),
            ("amount", form["amount"]),
            ("note", form.get("note", "") or "-"),
            ("expires", form.get("expires") or "7d"),
        ],
    )

    def send(m: Any) -> Any:
        return Requests(m, lambda: int(time.time() * 1000)).ask(
            to, units, token, chain_id, form.get("note", ""), expires_ms
        )

    return preview, send


def payment_to(to: str, amount: str, note: str) -> Any:
    """Money to the open chat, with a payment notice (services.payments.Payment)."""
    from ..services.payments import Payment

    return Payment(to, amount, notify=True, note=note)


def payment_for_request(m: Any, request_id: str, requester: str, network_name: str | None) -> Any:
    """What `hongbao pay REQUEST_ID` pays: what I still owe of it (refused if paid, declined
    or expired), to its sender, with a notice naming it."""
    import time

    from ..context import network
    from ..services.requests import Requests, payment_for

    view = Requests(m, lambda: int(time.time() * 1000)).payable(request_id, requester)
    return payment_for(view, network(network_name))
