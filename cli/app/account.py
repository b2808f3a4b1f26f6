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

CONTROL = ("receipt", "delivery_pass")  # control traffic: stored, never shown
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
    from ..wallet_cmd import open_wallet

    wallet = open_wallet(wallet_name)
    if agent.held(wallet.name) is None and password_file is None and PASSWORD_ENV not in os.environ:
        return None
    return account_key(wallet_name, index, password_file)


def key_with_password(wallet_name: str | None, index: int, password: str) -> bytes:
    """The account key from a password typed into the app (WrongPassword if it is not)."""
    from ..wallet_cmd import open_wallet

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
    """A page of a conversation's messages, oldest first (control traffic left out)."""
    return [x for x in m.store.messages(conversation, limit=limit, before=before) if x.type not in CONTROL]


def names(m: Any) -> dict[str, str]:
    from ..chat_cmd import names_of

    return names_of(m)


def send_text(m: Any, to: str, text: str) -> tuple[str, str]:
    """Send or keep pending (the CLI's send_or_keep): (message id, state)."""
    from messaging import payloads

    from ..chat_cmd import send_or_keep

    sent, kept = send_or_keep(m, to, payloads.Text(text))
    if kept is not None:
        return kept.message_id, "pending"
    return sent.message_id, sent.state


def fingerprint(m: Any, address: str) -> tuple[str, str | None, bool]:
    """(mine, theirs or None when no bundle is known, verified already)."""
    contact = m.store.contact(address)
    theirs = contact.fingerprint if contact is not None else None
    return m.fingerprint, theirs, bool(contact is not None and contact.verified_out_of_band)


def check(message: Any, me: str, store: Any) -> str | None:
    """What the chain says of an incoming payment notice or red packet (the CLI's checks:
    never trust the note); None for anything else. Reads the chain: call off the screen."""
    from ..chat_cmd import packet_check, payment_check

    return payment_check(message, me, store) or packet_check(message, me)
