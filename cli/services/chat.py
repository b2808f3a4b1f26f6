"""Chat workflows for every front end: open the account's messenger, send, the inbox, a
conversation (paged), message requests, group invitations, a contact's fingerprint.

Each takes an open `Messenger` (from `open_messenger`) and plain inputs and returns plain
data; nothing here prints or prompts. The watch step (`chat watch`) is in chat_watch.py,
what a message looks like (describe, checks against the chain) in messages.py.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from wallet.errors import WalletError

from .messages import CONTROL, Shown, describe, view

if TYPE_CHECKING:
    from messaging.chat import Messenger, SentMessage
    from messaging.groups import Group
    from messaging.store import Contact

    from .frontend import Frontend


# -- the account that chats -----------------------------------------------------------------


def account_key(wallet_name: str | None, index: int, frontend: Frontend) -> bytes:
    """The chatting account's key, from the unlock session or the wallet password."""
    from ..wallets import open_wallet

    wallet = open_wallet(wallet_name)
    account = wallet.account(index)
    if account.kind == "watch":
        raise WalletError(f"account {index} ({account.address}) is watch-only: it has no key to chat with")
    return frontend.unlock(wallet).private_key(index)


@contextlib.contextmanager
def open_messenger(
    wallet_name: str | None, index: int, frontend: Frontend, key: bytes | None = None
) -> Iterator[Messenger]:
    """The account's Messenger (its key from `key`, else `account_key`); closed on exit."""
    from messaging.chat import Messenger
    from wallet.home import home

    with Messenger.open(home(), key or account_key(wallet_name, index, frontend)) as opened:
        yield opened


def names_of(m: Messenger) -> dict[str, str]:
    """address -> how to show it: "me", a contact name, or nothing (the address itself)."""
    names = {c.address: c.name for c in m.store.contacts() if c.name}
    names[m.address] = "me"
    return names


# -- sending ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Kept:
    """A message the relay did not take, stored pending (sent by the next send or inbox)."""

    message_id: str
    recipients: dict[str, str]  # recipient -> envelope id
    relay_error: str


def send_or_keep(m: Messenger, to: str, payload: Any) -> tuple[SentMessage | None, Kept | None]:
    """(sent, None), or (None, Kept) when the relay did not answer but the message was kept
    pending; RelayUnreachable still when nothing was kept (a first contact needs the relay)."""
    from messaging.client import RelayUnreachable

    waiting = {c.message_id for c in m.store.pending_copies()}
    try:
        return m.send(to, payload), None
    except RelayUnreachable as error:
        kept = [c for c in m.store.pending_copies() if c.message_id not in waiting]
        if not kept:
            raise
        return None, Kept(kept[0].message_id, {c.recipient: c.envelope_id for c in kept}, str(error))


@dataclass(frozen=True)
class Sent:
    """A message sent (`state` "sent"), or kept pending while the relay is down (`state`
    "pending", `relay_error` says why; the next send, inbox or watch step sends it)."""

    to: str  # the conversation: an address or group:<id>
    name: str | None  # the contact's or group's name
    kind: str  # direct | group
    id: str  # the stored message's id
    recipients: dict[str, str]  # recipient -> envelope id
    state: str
    protection: str  # forward-secret, ... (Messenger.protection)
    first_contact: dict[str, str] = field(default_factory=dict)  # recipient -> fingerprint pinned just now
    skipped: dict[str, str] = field(default_factory=dict)  # group members left out: why
    relay_error: str | None = None

    @property
    def pending(self) -> bool:
        return self.relay_error is not None

    def json(self) -> dict[str, Any]:
        data = {
            "to": self.to,
            "name": self.name,
            "kind": self.kind,
            "id": self.id,
            "recipients": self.recipients,
            "state": self.state,
            "first_contact": self.first_contact,
            "protection": self.protection,
        }
        if self.pending:
            data["relay_error"] = self.relay_error
        else:
            data["skipped"] = self.skipped
        return data


def send(m: Messenger, to: str, payload: Any) -> Sent:
    """Send `payload` to `to` (an address, contact, group name or group:<id>); kept pending
    when the relay does not answer and the recipient is known (RelayUnreachable otherwise)."""
    target = m.resolve(to)
    sent, kept = send_or_keep(m, to, payload)
    protection = m.protection(target.conversation)
    if sent is None:
        assert kept is not None  # noqa: S101  (send_or_keep returns one of the two)
        return Sent(
            target.conversation,
            target.name,
            target.kind,
            kept.message_id,
            kept.recipients,
            "pending",
            protection,
            relay_error=kept.relay_error,
        )
    return Sent(
        target.conversation,
        target.name,
        target.kind,
        sent.message_id,
        sent.envelope_ids,
        sent.state,
        protection,
        sent.first_contact,
        sent.skipped,
    )


def send_text(m: Messenger, to: str, text: str) -> Sent:
    """`chat send`: a text message (any Unicode; the payload's limits apply)."""
    from messaging import payloads

    return send(m, to, payloads.Text(text))


# -- the inbox ------------------------------------------------------------------------------------


@dataclass
class Inbox:
    """New mail fetched (unless `fetch` was False) and every conversation, newest activity
    last as the store orders them. A conversation row: conversation, name, group, unread,
    request (a stranger's, or a group invitation: its words are not previewed),
    last_activity_ms, last (sender, sender_name, type, preview) or None."""

    fetched: bool
    received: int
    failures: int  # envelopes that could not be opened (discarded)
    errors: list[str]
    session_resets: list[str]
    conversations: list[dict[str, Any]]
    claims_submitted: list[dict[str, Any]]  # red packet claims sent to me, submitted now

    def json(self) -> dict[str, Any]:
        return {
            "received": self.received,
            "failures": self.failures,
            "errors": self.errors,
            "session_resets": self.session_resets,
            "conversations": self.conversations,
            "claims_submitted": self.claims_submitted,
        }


def inbox(m: Messenger, key: bytes, *, fetch: bool = True, network_name: str | None = None) -> Inbox:
    """`chat inbox`: fetch (and send what waits pending), submit the claims recipients
    without ETH sent me for my red packets, and list the conversations."""
    from . import packets

    received = m.receive() if fetch else None
    names = names_of(m)
    served = packets.serve_pending(m, key, network_name, names) if fetch else []
    requests = set(m.requests()) | {f"group:{g.id}" for g, _ in m.invitations()}
    rows = []
    for summary in m.store.conversations():
        last = next((x for x in reversed(m.store.messages(summary.id, limit=5)) if x.type not in CONTROL), None)
        request = summary.id in requests
        rows.append(
            {
                "conversation": summary.id,
                "name": summary.name,
                "group": summary.is_group,
                "unread": summary.unread,
                "request": request,
                "last_activity_ms": summary.last_activity_ms,
                "last": None
                if last is None or request  # a stranger's words wait for `chat requests`
                else {
                    "sender": last.sender,
                    "sender_name": names.get(last.sender),
                    "type": last.type,
                    "preview": describe(last.payload, names)[:80],
                },
            }
        )
    return Inbox(
        received is not None,
        0 if received is None else len(received),
        0 if received is None else received.failures,
        [] if received is None else received.errors,
        m.sessions.resets,
        rows,
        served,
    )


# -- one conversation --------------------------------------------------------------------------


def page(m: Messenger, conversation: str, limit: int, before: str | int | None = None) -> list[Any]:
    """The `limit` newest messages to show before `before` (a message id or a time in ms),
    oldest first: control traffic stored among them (receipts, delivery passes) does not
    count, so a page is full unless the conversation has no more."""
    found: list[Any] = []
    while len(found) < limit:
        batch = m.store.messages(conversation, limit=limit, before=before)
        found = [x for x in batch if x.type not in CONTROL] + found
        if len(batch) < limit:
            break
        before = batch[0].id
    return found[-limit:]


@dataclass
class Conversation:
    """A page of a conversation, oldest first, with each message's checks (messages.Shown)."""

    conversation: str
    name: str | None
    kind: str
    protection: str
    messages: list[Shown]
    names: dict[str, str]
    marked_read: list[str]
    receipts_sent: bool
    offline: str | None = None  # why new mail could not be fetched (stored messages shown)

    @property
    def older(self) -> str | None:
        """The `before` for the previous page (the oldest message's id), None when empty."""
        return self.messages[0].message.id if self.messages else None

    def json(self) -> dict[str, Any]:
        from .messages import message_json

        return {
            "conversation": self.conversation,
            "name": self.name,
            "kind": self.kind,
            "protection": self.protection,
            "messages": [message_json(x, self.names) for x in self.messages],
            "marked_read": self.marked_read,
            "receipts_sent": self.receipts_sent,
        }


def conversation(
    m: Messenger,
    who: str,
    *,
    limit: int = 50,
    before: str | int | None = None,
    fetch: bool = True,
    mark_read: bool = True,
) -> Conversation:
    """`chat show`: the `limit` newest messages of `who`'s conversation (a contact, address,
    group or group:<id>), or those before a message id / a time in ms (paging back); new mail
    fetched first if the relay answers; marked read, with read receipts, unless told not to."""
    from messaging.chat import Read
    from messaging.client import RelayUnreachable

    target = m.resolve(who)
    offline = None
    if fetch:
        try:
            m.receive()
        except RelayUnreachable as error:
            offline = str(error)
    names = names_of(m)
    shown = view(m, page(m, target.conversation, limit, before))
    read = m.mark_read(target.conversation) if mark_read else Read([], True)
    return Conversation(
        target.conversation,
        target.name,
        target.kind,
        m.protection(target.conversation),
        shown,
        names,
        read.ids,
        read.receipts_sent,
        offline,
    )


# -- consent: message requests, accept, block, group invitations ---------------------------------


def message_requests(m: Messenger) -> list[dict[str, Any]]:
    """People who wrote to me whom I have not accepted or blocked (after fetching): address,
    messages (how many), last_ms. Nothing is sent to them until accepted."""
    m.receive()
    rows = []
    for address in m.requests():
        shown = [x for x in m.store.messages(address, limit=50) if x.type not in CONTROL and x.sender == address]
        rows.append({"address": address, "messages": len(shown), "last_ms": shown[-1].timestamp_ms if shown else None})
    return rows


def accept(m: Messenger, address: str) -> dict[str, Any]:
    """Accept (or unblock) `address`; `pass_given`: False when my delivery pass goes with my next message."""
    return {"address": address, "accepted": True, "pass_given": m.accept(address)}


def block(m: Messenger, address: str) -> dict[str, Any]:
    """Block `address` (mail dropped unread, delivery pass replaced); `new_pass_given_to`: how many contacts."""
    return {"address": address, "blocked": True, "new_pass_given_to": m.block(address)}


def group_json(group: Group) -> dict[str, Any]:
    return {
        "id": group.id,
        "conversation": f"group:{group.id}",
        "name": group.name,
        "admin": group.admin,
        "members": list(group.members),
    }


def invitations(m: Messenger) -> list[dict[str, Any]]:
    """Groups strangers put me in (after fetching): group_json plus `inviter`."""
    m.receive()
    return [{**group_json(g), "inviter": inviter} for g, inviter in m.invitations()]


def accept_invitation(m: Messenger, group_id: str) -> dict[str, Any]:
    """Join the group (group:<id> or the id); its group_json."""
    return group_json(m.accept_group(group_id))


def decline_invitation(m: Messenger, group_id: str) -> dict[str, Any]:
    """Decline the group: its mail is dropped from now on."""
    m.decline_group(group_id)
    return {"group": group_id, "declined": True}


# -- a contact's fingerprint ----------------------------------------------------------------------


def contact_json(contact: Contact) -> dict[str, Any]:
    return {
        "address": contact.address,
        "name": contact.name,
        "fingerprint": contact.fingerprint,
        "verified": contact.verified_out_of_band,
        "key_changed": contact.key_changed,
    }


@dataclass
class Fingerprints:
    """Ours and theirs, to compare out of band (`contact`: theirs as now stored)."""

    contact: Contact
    our_address: str
    our_fingerprint: str
    confirmed: bool  # marked verified just now
    pinned_only: bool = False  # the relay did not answer: the key pinned earlier is shown

    def json(self) -> dict[str, Any]:
        return {**contact_json(self.contact), "our_address": self.our_address, "our_fingerprint": self.our_fingerprint}


def verify_contact(m: Messenger, contact: str, *, confirm: bool = False) -> Fingerprints:
    """`contacts verify`: fetch the newest key the relay has for `contact` (a name or an
    address), and with `confirm` (the person compared them) mark it verified, which also
    accepts a key change."""
    from messaging.client import RelayUnreachable
    from messaging.errors import MessagingError

    found = m.store.contact(contact)
    address = found.address if found is not None else m.resolve(contact).conversation
    pinned_only = False
    if found is None or found.bundle is None or not confirm:
        try:
            m.bundle_for(address, refresh=True)
        except RelayUnreachable:
            if found is None or found.bundle is None:
                raise
            pinned_only = True
        except MessagingError:
            if found is None or found.bundle is None:
                raise
    if confirm:
        m.store.mark_verified(address)
    now = m.store.contact(address)
    if now is None:  # bundle_for pinned it, or it was there: only a concurrent `contacts remove`
        raise WalletError(f"no contact {contact!r}")
    return Fingerprints(now, m.address, m.fingerprint, confirm, pinned_only)
