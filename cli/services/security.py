"""The facts the local security rules and the second factor need, gathered on this device:
its history, its contacts, the chain. Nothing is sent to a third party. Plain inputs and
results; cli/security.py shows the findings and asks.
"""

from __future__ import annotations

import contextlib
import sqlite3
from typing import TYPE_CHECKING, Any

from wallet.errors import WalletError
from wallet.security_rules import Facts

if TYPE_CHECKING:
    from wallet.chain import Chain
    from wallet.history import History
    from wallet.transfers import Prepared


UNPAID = ("failed", "replaced", "dropped")  # a sent transaction's statuses that moved nothing


def counterparties(
    history: History, chain_id: int, me: str, *, replacing: int | None = None
) -> tuple[set[str], set[str]]:
    """(addresses `me` has paid, every address seen in `me`'s history on this chain). A payment
    that failed, was replaced or dropped paid nobody (a poisoning address sent to by mistake
    and cancelled must not be trusted from then on); its recipient is only seen.
    `replacing`: a nonce being replaced; its pending attempts count for nothing (the
    transaction being replaced must not vouch for its own recipient)."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from wallet import erc20
    from wallet.history import IncomingRow, SentRow

    paid: set[str] = set()
    seen: set[str] = set()
    mine = select(SentRow.to, SentRow.data, SentRow.status).where(SentRow.chain_id == chain_id, SentRow.sender == me)
    if replacing is not None:
        mine = mine.where(SentRow.nonce != replacing)
    with Session(history.engine) as session:
        sent = session.execute(mine).all()
        senders = session.scalars(
            select(IncomingRow.from_).where(IncomingRow.chain_id == chain_id, IncomingRow.to == me)
        ).all()
    for to, data, status in sent:
        decoded = erc20.decode_call(bytes.fromhex((data or "0x")[2:])) if data and len(data) > 2 else None
        payee = str(decoded.args["to"]) if decoded is not None and decoded.function == "transfer" else None
        if payee is None and to and not (data and len(data) > 2):
            payee = to
        if payee is not None:
            (seen if status in UNPAID else paid).add(payee)
        if to:
            seen.add(to)
    seen |= paid
    seen |= set(senders)
    return paid, seen


def contact_addresses(me: str) -> set[str]:
    """Saved contacts' addresses, read from the chat store without its key (addresses are
    not sealed there); none if there is no store yet."""
    from messaging.store import path_for
    from wallet.home import home

    path = path_for(home(), me)
    if not path.exists():
        return set()
    with (
        contextlib.suppress(sqlite3.Error),
        contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db,
    ):
        return {row[0] for row in db.execute("SELECT address FROM contacts WHERE saved")}
    return set()


def deployed_age(chain: Chain, address: str) -> int | None:
    """Seconds since `address` got its code (binary search over blocks), None if unknown."""
    from wallet.rpc import to_int

    try:
        latest = to_int(chain.rpc.call("eth_blockNumber"))
        low, high = 0, latest  # code at `high`, not (yet) known at `low`
        if chain.rpc.call("eth_getCode", address, hex(0)) not in (None, "0x"):
            return None  # genesis: old
        while high - low > 1:
            middle = (low + high) // 2
            if chain.rpc.call("eth_getCode", address, hex(middle)) in (None, "0x"):
                low = middle
            else:
                high = middle
        born = to_int(chain.rpc.call("eth_getBlockByNumber", hex(high), False)["timestamp"])
        now = to_int(chain.rpc.call("eth_getBlockByNumber", "latest", False)["timestamp"])
    except (WalletError, KeyError, TypeError, ValueError):
        return None
    return max(now - born, 0)


def _is_token(chain: Chain, address: str, known_tokens: set[str]) -> bool:
    from wallet import erc20

    if address.lower() in known_tokens:
        return True
    try:
        erc20.read_token(chain.rpc, address)
    except WalletError:
        return False
    return True


def _parties(history: History, chain_id: int, me: str, replacing: int | None) -> tuple[set[str], set[str], set[str]]:
    """(paid, known: history and contacts but not me, contacts) for the rules' Facts."""
    paid, seen = counterparties(history, chain_id, me, replacing=replacing)
    contacts = contact_addresses(me)
    seen |= contacts
    seen.discard(me)
    return paid, seen, contacts


def gather(
    chain: Chain, prepared: Prepared, history: History, known_tokens: set[str], *, replacing: int | None = None
) -> Facts:
    """The facts about `prepared` (`replacing`: the nonce it replaces, see `counterparties`)."""
    from wallet import abi, erc20, erc721

    draft = prepared.draft
    me = draft.sender
    decoded = erc20.decode_call(draft.data) if draft.data else None
    paid, seen, contacts = _parties(history, chain.chain_id, me, replacing)
    if decoded is not None and decoded.function == "transfer" and draft.to is not None:
        recipient = str(decoded.args["to"])
        tokens = known_tokens | {draft.to.lower()}
        return Facts(
            recipient,
            paid,
            seen,
            contacts,
            token_transfer=True,
            recipient_is_token=_is_token(chain, recipient, tokens),
        )
    if decoded is not None and decoded.function == "approve":
        spender = str(decoded.args["spender"])
        is_contract = bool(chain.code(spender))
        return Facts(
            None,
            paid,
            seen,
            spender=spender,
            spender_is_contract=is_contract,
            spender_age=deployed_age(chain, spender) if is_contract else None,
        )
    if draft.data[:4] == erc721.SAFE_TRANSFER_SELECTOR and len(draft.data) >= 68:
        # an NFT send: the token's recipient is checked like a payment's (lookalikes)
        return Facts(abi.decode_address(draft.data[36:68]), paid, seen, contacts)
    if not draft.data and draft.to is not None and draft.to.lower() != me.lower():  # (to myself: a cancel)
        return Facts(draft.to, paid, seen, contacts)
    return Facts(None, paid, seen)


def recipient_facts(chain: Chain, history: History, me: str, recipient: str, *, token: bool) -> Facts:
    """The facts about who gets a payment made some other way than a transfer (a swap's
    output paid to `recipient`: `token` when the output is a token)."""
    paid, seen, contacts = _parties(history, chain.chain_id, me, None)
    return Facts(
        recipient,
        paid,
        seen,
        contacts,
        token_transfer=token,
        recipient_is_token=token and _is_token(chain, recipient, set()),
    )


def without_poisoning(
    items: list[dict[str, Any]], history: History, chain_id: int, decimals: dict[str | None, int]
) -> list[dict[str, Any]]:
    """History items minus incoming dust and zero-value transfers from addresses that
    imitate one this device has paid (`tx list --all` shows them)."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from wallet.history import SentRow
    from wallet.lookalike import dust_units, is_poisoning

    with Session(history.engine) as session:
        senders = set(session.scalars(select(SentRow.sender).where(SentRow.chain_id == chain_id)).all())
    known: set[str] = set()
    for me in senders:
        paid, _seen = counterparties(history, chain_id, me)
        known |= paid | contact_addresses(me)
    token_decimals = {(k.lower() if k else None): v for k, v in decimals.items()}
    return [
        item
        for item in items
        if not (
            item["direction"] == "in"
            and is_poisoning(
                item["from"],
                int(item["amount"] or 0),
                dust_units(token_decimals.get(item["token"].lower() if item["token"] else None)),
                known,
            )
        )
    ]


def spent_today(history: History, chain_id: int, sender: str, now: float) -> dict[str, int]:
    """Today's (UTC) outflow from `sender`: what it signed that was not dropped or replaced."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from wallet import outflow
    from wallet.history import SentRow

    start = outflow.day_of(now) * outflow.DAY
    with Session(history.engine) as session:
        rows = session.execute(
            select(SentRow.to, SentRow.value, SentRow.data).where(
                SentRow.chain_id == chain_id,
                SentRow.sender == sender,
                SentRow.created_at >= start,
                SentRow.status.in_(("pending", "confirmed")),
            )
        ).all()
    tally = outflow.Tally(outflow.day_of(now))
    for to, value, data in rows:
        tally.add(outflow.outflow(to, int(value or 0), bytes.fromhex((data or "0x")[2:])))
    return tally.spent
