"""Red packets as a front end lists and shows them: the packets received in my chats with
their state on chain (`received`), one packet's claims, who got what and 手气最佳 (`info`),
and finding one of mine by id or prefix (`mine`). Plain dicts (the `--json` shapes)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from wallet.errors import WalletError

from .packet_claim import amount_text
from .packet_create import token_json

if TYPE_CHECKING:
    from wallet.chain import Chain


def received(
    key: Callable[[], bytes],
    *,
    fetch: bool = True,
    wallet_name: str | None = None,
    index: int = 0,
    network_name: str | None = None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """`packet list`: (rows, served). Each red packet received in a chat, oldest first,
    judged by the chain: status open | claimed (by me: amount) | exhausted | expired |
    refunded | invalid (reason). With `fetch`, new mail first, and the claims sent to me
    for my packets submitted (served: chat_watch-style events). `key()`: the account's key,
    asked after the chain answered."""
    from contracts import flows
    from messaging.chat import Messenger
    from wallet.home import home

    from ..context import chain as connect
    from ..context import sending_account
    from . import packets
    from .packet_claim import received_messages, record_received

    _wallet, account = sending_account(wallet_name, index)
    chain = connect(network_name)
    chain.verify()
    secret = key()
    served: list[dict[str, Any]] = []
    with Messenger.open(home(), secret) as m:
        if fetch:
            m.receive()
            served = packets.serve_pending(m, secret, network_name, {})
        checked = packets.received(chain, received_messages(m), account.address)
        record_received(chain, account.address, checked)
        names = {c.address: c.name for c in m.store.contacts() if c.name}
        groups = {f"group:{g.id}": g.name for g in m.store.groups()}
    tokens: dict[str | None, Any] = {}
    rows: list[dict[str, Any]] = []
    for found in checked:
        message, p = found.message, found.message.payload
        mine = flows.Mine(found.status, found.amount, found.state if found.valid else None)
        # the creator and the token come from the chain; an invalid message's claims are not shown as facts
        creator = mine.state.creator if mine.state else message.sender
        token_address = mine.state.token if mine.state else p.token
        if token_address not in tokens:
            try:
                tokens[token_address] = flows.token_of(chain, token_address) if mine.state else None
            except WalletError:
                tokens[token_address] = None
        coin = tokens[token_address]
        rows.append(
            {
                "packet_id": p.packet_id,
                "from": creator,
                "from_name": names.get(creator),
                "message_from": message.sender,
                "reason": found.reason or None,
                "conversation": message.conversation,
                "conversation_name": groups.get(message.conversation) or names.get(message.conversation),
                "greeting": p.greeting,
                "theme": p.theme,
                "kind": "open" if p.claim_key else "authorized",
                "slot": p.slot,
                "token": token_address,
                "total": p.total,  # as the message says (informational): the chain decides
                "shares": mine.state.shares if mine.state else p.shares,
                "status": mine.status,
                "amount": None if mine.amount is None else str(mine.amount),
                "formatted": None
                if mine.amount is None or (token_address and coin is None)
                else amount_text(mine.amount, coin),
                "expiry": mine.state.expiry if mine.state else None,
                "received_ms": message.timestamp_ms,
            }
        )
    return rows, served


@dataclass
class Info:
    """One packet from the contract's events: `data` (the `packet info --json` shape:
    claims with who got what, best_luck (手气最佳) once all are claimed, refund...), and
    the flows.Report and token (None: ETH) it came from, for drawing."""

    data: dict[str, Any]
    report: Any
    coin: Any

    def rows(self) -> list[tuple[str, str]]:
        """(label, text) for people: total, claimed, left, status, greeting, 手气最佳, refund."""
        from contracts import flows
        from wallet.amounts import ETH_DECIMALS, format_units

        report, coin, s = self.report, self.coin, self.report.state
        when = (
            f"expires {flows.utc(s.expiry)} (in {flows.describe_wait(s.expiry - report.now)})"
            if not report.expired
            else f"expired {flows.utc(s.expiry)}"
        )
        kind = "open (claim code)" if s.open else "authorized (chat)"
        rows = [
            ("packet", self.data["packet_id"]),
            ("creator", s.creator),
            (
                "total",
                f"{amount_text(report.total, coin)} in {s.shares} {'random' if s.random else 'equal'} share(s), {kind}",
            ),
            (
                "claimed",
                f"{amount_text(report.claimed, coin)} in {len(report.claims)} claim(s), {s.shares_left} share(s) left",
            ),
            (
                "left",
                amount_text(s.remaining, coin)
                + (f" + {format_units(s.deposit, ETH_DECIMALS)} ETH gas deposit" if s.deposit else ""),
            ),
            ("status", f"{report.status}; {when}"),
        ]
        if self.data["greeting"]:
            rows.append(("greeting", self.data["greeting"]))
        if report.best_luck:
            best = report.best_luck
            rows.append(("手气最佳 (best luck)", f"{best.recipient} ({amount_text(best.amount, coin)})"))
        if report.refund:
            back = f"{format_units(report.refund.deposit, ETH_DECIMALS)} ETH deposit"
            rows.append(("refunded", f"{amount_text(report.refund.amount, coin)} + {back} (tx {report.refund_tx})"))
        return rows

    def claim_rows(self) -> list[list[Any]]:
        """Who got what: [recipient, amount, block, submitted by (reimbursed)] per claim."""
        from wallet.amounts import ETH_DECIMALS, format_units

        return [
            [
                c.recipient,
                amount_text(c.amount, self.coin),
                c.block,
                f"{c.submitter} (reimbursed {format_units(c.reimbursed, ETH_DECIMALS)} ETH)" if c.submitter else "",
            ]
            for c in self.report.claims
        ]


def info(packet: str, network_name: str | None = None) -> Info:
    """`packet info`: `packet` is a full packet id, or a prefix of one created here."""
    from contracts import flows

    from ..context import chain as connect

    chain = connect(network_name)
    chain.verify()
    contract, packet_id, kept = mine(packet, chain)
    report = flows.read(chain, contract, packet_id, from_block=(kept.block or 0) if kept else 0)
    coin = flows.token_of(chain, report.state.token)
    return Info(report_json(report, coin), report, coin)


def mine(text: str, chain: Chain) -> tuple[str, bytes, Any]:
    """(contract, packet id, kept record or None) from a full id or an id prefix
    of a packet this home created (never a claim code: it is a key)."""
    from contracts import flows, packet_keeper
    from wallet.home import home

    keeper = packet_keeper.Keeper(home())
    body = text.strip()
    if body.lower().startswith(flows.CODE_PREFIX):
        raise WalletError(
            "a claim code is a bearer key and would show in `ps` and your shell history: give the packet id "
            "instead (the code's third field, 0x + 64 hex digits)"
        )
    if re.fullmatch(r"(0x)?[0-9a-fA-F]{64}", body):
        packet_id = flows.parse_id(body)
        kept = keeper.get(packet_id)
        return (kept.contract if kept else flows.contract_of(chain.network)), packet_id, kept
    if not re.fullmatch(r"(0x)?[0-9a-fA-F]{4,63}", body):
        raise WalletError(f"{text!r} is not a packet id, an id prefix or a claim code")
    matches = [k for k in keeper.find(body) if k.chain_id == chain.chain_id]
    if len(matches) > 1:
        raise WalletError(f"{len(matches)} of your packets start with {body}: give more digits")
    if not matches:
        raise WalletError(
            f"none of the packets created here starts with {body}: give the full packet id (0x + 64 hex digits)"
        )
    return matches[0].contract, flows.parse_id(matches[0].packet_id), matches[0]


def report_json(report: Any, coin: Any) -> dict[str, Any]:
    from contracts import flows
    from contracts import redpacket as rp

    s = report.state
    return {
        "packet_id": flows.id_hex(report.packet_id),
        "chain_id": report.chain_id,
        "contract": report.contract,
        "creator": s.creator,
        "token": token_json(coin),
        "total": str(report.total),
        "claimed": str(report.claimed),
        "remaining": str(s.remaining),
        "deposit": str(s.deposit),
        "shares": s.shares,
        "shares_left": s.shares_left,
        "random": s.random,
        "open": s.open,
        "refunded": s.refunded,
        "expiry": s.expiry,
        "now": report.now,
        "status": report.status,
        "greeting": None if report.created is None else rp.decode_greeting(report.created.greeting),
        "theme": None if report.created is None else flows.theme_name(report.created.theme),
        "created_tx": report.created_tx,
        "created_block": report.created_block,
        "claims": [
            {
                "recipient": c.recipient,
                "amount": str(c.amount),
                "formatted": amount_text(c.amount, coin),
                "tx": c.tx_hash,
                "block": c.block,
                "submitter": c.submitter,
                "reimbursed": str(c.reimbursed),
            }
            for c in report.claims
        ],
        "best_luck": None if report.best_luck is None else report.best_luck.recipient,
        "refund": None
        if report.refund is None
        else {"amount": str(report.refund.amount), "deposit": str(report.refund.deposit), "tx": report.refund_tx},
    }


def refundable(preferred: list[tuple[str, str]], network_name: str | None = None) -> str | None:
    """The first packet of `preferred` ((packet id, contract) of packets I sent, newest
    first), else of the packets created here (newest first), that its creator can take back
    now: expired by the chain's clock, not refunded, something left. None when none is."""
    from contracts import packet_keeper
    from contracts import redpacket as rp
    from contracts.flows import parse_id
    from wallet.home import home
    from wallet.rpc import to_int

    from ..context import chain as connect

    chain = connect(network_name)
    chain.verify()
    now = to_int(chain.rpc.call("eth_getBlockByNumber", "latest", False)["timestamp"])
    kept = [k for k in reversed(packet_keeper.Keeper(home()).all()) if k.chain_id == chain.chain_id]
    candidates = dict.fromkeys(
        [*((i.lower(), c) for i, c in preferred), *((k.packet_id.lower(), k.contract) for k in kept)]
    )
    for packet_id, contract in candidates:
        state = rp.read_packet(chain.rpc, contract, parse_id(packet_id))
        if state is not None and not state.refunded and now >= state.expiry and (state.remaining or state.deposit):
            return packet_id
    return None
