"""`hongbao packet ...`: red packets in chats: create, list, claim, submit, info, refund, resend.

The work is in contracts/flows.py (plans, reads, tickets, checks) and messaging/chat.py
(recipients, delivery, the message store); this file parses, previews, asks, renders.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

import click

from wallet.amounts import ETH_DECIMALS, format_units
from wallet.errors import WalletError

from .click_frontend import ClickFrontend
from .context import chain as connect
from .context import network_option, sending_account
from .inert import inert, markup
from .money_cmd import max_fee_option, speed_option, timeout_option, tip_option, yes_option
from .output import console, emit, json_option, note, table
from .services.packet_claim import amount_text as _amount
from .services.packet_claim import parse_account, received_messages, record, record_received
from .services.packet_create import parse_duration, payload, token_json
from .services.signing import Fees, fee_paid, send_tx
from .wallet_cmd import index_option, open_wallet, password_file_option, wallet_option

if TYPE_CHECKING:
    from wallet.keyring import UnlockedWallet

__all__ = ["packet", "parse_account", "parse_duration"]  # parse_duration: cli/services/packet_create.py

SUBMITTER_PASSWORD_ENV = "HONGBAO_SUBMITTER_PASSWORD"  # noqa: S105  an environment variable's name


# -- unlocking ---------------------------------------------------------------------------


class Unlocker:
    """Wallets unlocked at most once per command, and only when a key is needed."""

    def __init__(self, password_file: Path | None) -> None:
        self.password_file = password_file
        self._open: dict[str, UnlockedWallet] = {}
        self._password: str | None = None

    def _main_password(self) -> str:
        from . import secrets

        if self._password is None:
            self._password = secrets.password(self.password_file)
        return self._password

    def key(self, wallet, index: int, *, other: bool = False) -> bytes:
        """The key of account `index` of `wallet`; `other` = a second wallet of this command
        (its password: HONGBAO_SUBMITTER_PASSWORD, a prompt, else the same password)."""
        if wallet.name not in self._open and not other:
            from .wallet_cmd import unlock_wallet

            self._open[wallet.name] = unlock_wallet(wallet, self.password_file)
        if wallet.name not in self._open:
            from . import secrets

            if other and (SUBMITTER_PASSWORD_ENV in os.environ or secrets.interactive()):
                password = secrets.obtain(
                    what="submitter password",
                    env=SUBMITTER_PASSWORD_ENV,
                    file=None,
                    label=f"Password of wallet {wallet.name}",
                )
            else:
                password = self._main_password()
            self._open[wallet.name] = wallet.unlock(password)
        return self._open[wallet.name].private_key(index)


def _messenger(key: bytes):
    from messaging.chat import Messenger
    from wallet.home import home

    return Messenger.open(home(), key)


def _script_check(as_json: bool, yes: bool) -> None:
    if as_json and not yes:
        raise WalletError("--json needs --yes (a script cannot answer the confirmation)")


def _grid(rows: list[tuple[str, str]]) -> None:
    from rich.table import Table
    from rich.text import Text

    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    for name, value in rows:
        grid.add_row(name, Text(inert(value)))
    console(stderr=True).print(grid)


tx_options = [
    speed_option,
    max_fee_option,
    tip_option,
    yes_option,
    timeout_option,
    password_file_option,
    network_option,
    json_option,
]


def with_tx_options(function):
    for option in reversed(tx_options):
        function = option(function)
    return function


@click.group()
def packet() -> None:
    """Red packets (红包): create, list, claim, submit, info, refund, resend."""


# -- create --------------------------------------------------------------------------------


@packet.command()
@click.option(
    "--to",
    "to",
    help="A contact, group name, group:<id> or address: each recipient gets their own authorization in the chat.",
)
@click.option("--amount", required=True, help='The whole packet: "1 ETH", "250 TKN" (or a number with --token).')
@click.option("--token", help="Token symbol or address (default: ETH, or the amount's unit).")
@click.option("--shares", type=click.IntRange(min=1, max=500), help="Number of shares (default: one per recipient).")
@click.option(
    "--random/--fixed", "random", default=False, show_default=True, help="Random (lucky draw) or equal shares."
)
@click.option(
    "--expires", default="24h", show_default=True, help="Time until the creator can take the rest back: 24h, 30m, 7d."
)
@click.option(
    "--greeting",
    default="恭喜发财",
    show_default=True,
    help="Shown with the packet (on chain if <= 32 bytes, else its hash).",
)
@click.option(
    "--theme",
    default="classic",
    show_default=True,
    help="classic, spring-festival, birthday, wedding, mid-autumn, thanks.",
)
@click.option(
    "--open",
    "open_packet",
    is_flag=True,
    help="Anyone with the printed claim code can claim (one share per address); sent to the chat if --to is given.",
)
@click.option(
    "--deposit",
    help='ETH set aside to reimburse whoever submits each claim (e.g. "0.01 ETH"), so recipients without ETH claim for free.',
)
@wallet_option
@index_option
@with_tx_options
def create(
    to,
    amount,
    token,
    shares,
    random,
    expires,
    greeting,
    theme,
    open_packet,
    deposit,
    wallet_name,
    index,
    speed,
    max_fee,
    tip,
    yes,
    timeout,
    password_file,
    network_name,
    as_json,
):
    """Create a red packet on chain and hand it out in a chat (or print an open claim code).

    ERC-20 packets approve the exact total first (a second transaction, previewed too).
    """
    from .services import packet_create as service
    from .services.signing import Fees

    _script_check(as_json, yes)
    order = service.Order(amount, to, token, shares, random, expires, greeting, theme, open_packet, deposit)
    created = service.create(
        order,
        ClickFrontend(password_file, yes=yes, quiet=as_json),
        wallet_name=wallet_name,
        index=index,
        network_name=network_name,
        fees=Fees(speed, max_fee, tip, timeout),
    )
    data = created.data

    def human() -> None:
        click.echo(data["packet_id"])
        if created.code is not None:
            click.echo(created.code)
            note("anyone holding this code can claim a share: share it like cash")
        if created.sent is not None:
            note(f"sent to {markup(created.to_name)}: {len(created.sent['recipients'])} recipient(s)")
        note(f"created in block {data['block']}; follow it with `hongbao packet info {data['packet_id'][:10]}`")

    emit(as_json, data, human)
    if created.delivery_error is not None:
        raise WalletError(
            f"the packet is on chain ({data['packet_id']}) but the chat messages were not sent ({created.delivery_error}); send them with `hongbao packet resend {data['packet_id'][:10]}`"
        )


# -- finding packets -----------------------------------------------------------------------


def _packet_ref(text: str, chain):
    """(contract, packet id, kept record or None) from a full id or an id prefix
    of a packet this home created."""
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


# -- list ---------------------------------------------------------------------------------


@packet.command(name="list")
@click.option("--no-fetch", is_flag=True, help="Only what is stored; do not ask the relay for new mail.")
@wallet_option
@index_option
@password_file_option
@network_option
@json_option
def list_(no_fetch, wallet_name, index, password_file, network_name, as_json):
    """Red packets received in chats, each with its state on chain: open, claimed by me
    (how much), exhausted, expired, refunded."""
    from contracts import flows

    from .services import packets as service

    wallet, account = sending_account(wallet_name, index)
    chain = connect(network_name)
    chain.verify()
    key = Unlocker(password_file).key(wallet, index)
    with _messenger(key) as m:
        if not no_fetch:
            m.receive()
            _serve_requests(key, network_name, m)
        checked = service.received(chain, received_messages(m), account.address)
        record_received(chain, account.address, checked)
        names = {c.address: c.name for c in m.store.contacts() if c.name}
        groups = {f"group:{g.id}": g.name for g in m.store.groups()}
    tokens: dict[str | None, object] = {}
    rows = []
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
                else _amount(mine.amount, coin),
                "expiry": mine.state.expiry if mine.state else None,
                "received_ms": message.timestamp_ms,
            }
        )

    def human() -> None:
        if not rows:
            note("No red packets received yet (`hongbao chat inbox` fetches new mail)")
            return
        table(
            f"red packets received by {account.address}",
            ["id", "from", "greeting", "status"],
            [
                [
                    r["packet_id"][:10],
                    r["from_name"] or r["from"],
                    r["greeting"],
                    f"claimed by me ({r['formatted'] or r['amount']})"
                    if r["status"] == "claimed"
                    else f"invalid: {r['reason']}"
                    if r["status"] == "invalid"
                    else r["status"],
                ]
                for r in rows
            ],
        )

    emit(as_json, rows, human)


# -- claim / submit -------------------------------------------------------------------------


def _read_code(source) -> str:
    text = source.read(4096).strip()
    if not text:
        raise WalletError("no claim code on the input: pass it on stdin (`--code -`) or in a file (`--code FILE`)")
    return text


@packet.command()
@click.argument("packet_ref", metavar="ID", required=False)
@click.option(
    "--code",
    "code_source",
    type=click.File("r", encoding="utf-8"),
    metavar="FILE",
    help="Read an open packet's claim code from FILE ('-': stdin). A code is a bearer key: never an argument.",
)
@click.option(
    "--submit-from",
    "submit_from",
    metavar="WALLET[:INDEX]",
    help="Another local account pays the gas and submits the claim (the share still goes to you).",
)
@click.option(
    "--export",
    "export",
    is_flag=True,
    help="Print the signed claim ticket instead of sending it: anyone can submit it (`hongbao packet submit TICKET`).",
)
@wallet_option
@index_option
@with_tx_options
def claim(
    packet_ref,
    code_source,
    submit_from,
    export,
    wallet_name,
    index,
    speed,
    max_fee,
    tip,
    yes,
    timeout,
    password_file,
    network_name,
    as_json,
):
    """Claim your share: ID is a packet received in a chat (or an id prefix); an open
    packet's claim code is read with --code FILE or --code - (stdin).

    The claim is a signature anyone may submit, paying the share to you. With ETH for gas
    your account sends it. Without, it is sent over the encrypted chat to the packet's
    creator, whose `chat watch` (or next receiving command) submits it, reimbursed from the
    packet's gas deposit; or --submit-from another local account, or --export the ticket.
    """
    from .services import packet_claim as service
    from .services.packets import CLAIM_SENT
    from .services.signing import Fees

    service.check_source(packet_ref, code_source is not None)
    if not export:
        _script_check(as_json, yes)
    claimed = service.claim(
        ClickFrontend(password_file, yes=yes, quiet=as_json),
        packet=packet_ref,
        code=None if code_source is None else _read_code(code_source),
        submit_from=submit_from,
        export=export,
        wallet_name=wallet_name,
        index=index,
        network_name=network_name,
        fees=Fees(speed, max_fee, tip, timeout),
        keys=Unlocker(password_file),
    )
    data = claimed.data
    if claimed.how == "exported":

        def exported() -> None:
            click.echo(data["ticket"])
            note(f"anyone can submit this (`hongbao packet submit TICKET`); the share goes only to {data['recipient']}")

        emit(as_json, data, exported)
        return
    if claimed.how == "requested":
        emit(as_json, data, lambda: click.echo(CLAIM_SENT))
        return

    def human() -> None:
        click.echo(f"claimed {data['formatted']} (tx {data['tx']})")
        if data["submitter"] != data["recipient"]:
            back = int(data["reimbursed"])
            note(
                f"submitted by {data['submitter']}"
                + (f", reimbursed {format_units(back, ETH_DECIMALS)} ETH from the packet's deposit" if back else "")
            )

    emit(as_json, data, human)


def _serve_requests(key: bytes, network_name, m) -> None:
    """Claims recipients without ETH sent me for my packets, submitted now (as `chat watch` does)."""
    from rich.markup import escape

    from .services import packets as service

    for event in service.serve_pending(m, key, network_name, {}):
        note(escape(event["text"]))


@packet.command()
@click.argument("ticket_text", metavar="TICKET")
@wallet_option
@index_option
@with_tx_options
def submit(ticket_text, wallet_name, index, speed, max_fee, tip, yes, timeout, password_file, network_name, as_json):
    """Submit someone's claim ticket (from `packet claim --export`) from your account: you
    pay the gas (reimbursed from the packet's deposit, if it has one); the share goes to
    the ticket's recipient, never to you."""
    from contracts import flows

    ticket = flows.Ticket.parse(ticket_text)
    wallet, _account = sending_account(wallet_name, index)
    chain = connect(network_name)
    chain.verify()
    report = flows.check_claim(chain, ticket)
    from .services.packet_claim import submit as submit_claim

    _script_check(as_json, yes)
    data = submit_claim(
        chain,
        ticket,
        report,
        ClickFrontend(password_file, yes=yes, quiet=as_json),
        lambda: Unlocker(password_file).key(wallet, index),
        Fees(speed, max_fee, tip, timeout),
        wallet.account(index).address,
    )
    emit(as_json, data, lambda: click.echo(f"claimed {data['formatted']} for {data['recipient']} (tx {data['tx']})"))


# -- info / refund / resend ---------------------------------------------------------------


def _report_json(report, coin) -> dict:
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
                "formatted": _amount(c.amount, coin),
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


@packet.command()
@click.argument("packet_ref", metavar="ID")
@network_option
@json_option
def info(packet_ref, network_name, as_json):
    """Who claimed how much (from the contract's events), what is left, the expiry. ID: a
    full packet id, or a prefix of a packet created here (never a claim code: it is a key)."""
    from contracts import flows

    chain = connect(network_name)
    chain.verify()
    contract, packet_id, kept = _packet_ref(packet_ref, chain)
    report = flows.read(chain, contract, packet_id, from_block=(kept.block or 0) if kept else 0)
    coin = flows.token_of(chain, report.state.token)
    data = _report_json(report, coin)
    s = report.state

    def human() -> None:
        when = (
            f"expires {flows.utc(s.expiry)} (in {flows.describe_wait(s.expiry - report.now)})"
            if not report.expired
            else f"expired {flows.utc(s.expiry)}"
        )
        _grid_out(
            [
                ("packet", data["packet_id"]),
                ("creator", s.creator),
                (
                    "total",
                    f"{_amount(report.total, coin)} in {s.shares} {'random' if s.random else 'equal'} share(s), {'open (claim code)' if s.open else 'authorized (chat)'}",
                ),
                (
                    "claimed",
                    f"{_amount(report.claimed, coin)} in {len(report.claims)} claim(s), {s.shares_left} share(s) left",
                ),
                (
                    "left",
                    _amount(s.remaining, coin)
                    + (f" + {format_units(s.deposit, ETH_DECIMALS)} ETH gas deposit" if s.deposit else ""),
                ),
                ("status", f"{report.status}; {when}"),
            ]
            + ([("greeting", data["greeting"])] if data["greeting"] else [])
            + (
                [("手气最佳 (best luck)", f"{report.best_luck.recipient} ({_amount(report.best_luck.amount, coin)})")]
                if report.best_luck
                else []
            )
            + (
                [
                    (
                        "refunded",
                        f"{_amount(report.refund.amount, coin)} + {format_units(report.refund.deposit, ETH_DECIMALS)} ETH deposit (tx {report.refund_tx})",
                    )
                ]
                if report.refund
                else []
            )
        )
        if report.claims:
            table(
                None,
                ["recipient", "amount", "block", "submitted by"],
                [
                    [
                        c.recipient,
                        _amount(c.amount, coin),
                        c.block,
                        (
                            f"{c.submitter} (reimbursed {format_units(c.reimbursed, ETH_DECIMALS)} ETH)"
                            if c.submitter
                            else ""
                        ),
                    ]
                    for c in report.claims
                ],
            )

    emit(as_json, data, human)


def _grid_out(rows: list[tuple[str, str]]) -> None:
    from rich.table import Table
    from rich.text import Text

    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    for name, value in rows:
        grid.add_row(name, Text(inert(value)))
    console().print(grid)


@packet.command()
@click.argument("packet_ref", metavar="ID")
@wallet_option
@click.option(
    "--index",
    "-i",
    type=click.IntRange(min=0),
    help="The creator's account (default: the one that created it here, else 0).",
)
@with_tx_options
def refund(packet_ref, wallet_name, index, speed, max_fee, tip, yes, timeout, password_file, network_name, as_json):
    """After expiry, take back what is left and the unused gas deposit (creator only)."""
    from contracts import flows

    chain = connect(network_name)
    chain.verify()
    contract, packet_id, kept = _packet_ref(packet_ref, chain)
    wallet = open_wallet(wallet_name)
    if index is None:
        index = next((a.index for a in wallet.accounts if kept and a.address == kept.creator), 0)
    wallet, account = sending_account(wallet.name, index)
    report = flows.check_refund(chain, contract, packet_id, account.address)
    coin = flows.token_of(chain, report.state.token)
    details = [
        (
            "you receive",
            f"packet {flows.id_hex(packet_id)[:18]}...: {_amount(report.state.remaining, coin)} left"
            + (
                f" + {format_units(report.state.deposit, ETH_DECIMALS)} ETH gas deposit" if report.state.deposit else ""
            ),
        ),
        ("expired", flows.utc(report.state.expiry)),
    ]
    tx, receipt = send_tx(
        chain,
        flows.refund_draft(contract, packet_id, account.address),
        ClickFrontend(password_file, yes=yes, quiet=as_json),
        lambda: Unlocker(password_file).key(wallet, index),
        Fees(speed, max_fee, tip, timeout),
        question="Refund?",
        details=details,
    )
    event = flows.refunded_in(receipt, contract, packet_id)
    record(chain, account.address, contract, packet_id)
    data = {
        "packet_id": flows.id_hex(packet_id),
        "creator": account.address,
        "amount": str(event.amount),
        "deposit": str(event.deposit),
        "formatted": _amount(event.amount, coin),
        "token": token_json(coin),
        "tx": tx.hash,
        "fee": str(fee_paid(receipt)),
    }
    emit(
        as_json,
        data,
        lambda: click.echo(
            f"refunded {data['formatted']}"
            + (f" + {format_units(event.deposit, ETH_DECIMALS)} ETH deposit" if event.deposit else "")
            + f" (tx {tx.hash})"
        ),
    )


@packet.command()
@click.argument("packet_ref", metavar="ID")
@click.option("--to", "to", help="Where to send it (default: the chat it was created for).")
@wallet_option
@password_file_option
@network_option
@json_option
def resend(packet_ref, to, wallet_name, password_file, network_name, as_json):
    """Send a packet you created to its chat again: each recipient's authorization (an open
    packet: its claim code). For when the relay was down at `create`."""
    from contracts import flows, packet_keeper
    from wallet.home import home

    chain = connect(network_name)
    chain.verify()
    contract, packet_id, kept = _packet_ref(packet_ref, chain)
    if kept is None:
        raise WalletError("only packets created from this home can be re-sent (their claim key is kept here)")
    destination = to or kept.to
    if not destination:
        raise WalletError("this packet was created without a chat: give --to")
    wallet = open_wallet(wallet_name)
    account = next((a for a in wallet.accounts if a.address == kept.creator), None)
    if account is None:
        raise WalletError(
            f"the packet's creator {kept.creator} is not an account of wallet {wallet.name!r}: pick it with --wallet"
        )
    key = Unlocker(password_file).key(wallet, account.index)
    coin = flows.token_of(chain, kept.token) if kept.token else None
    plan = packet_keeper.Keeper(home()).plan(kept, key, coin)
    report = flows.read(chain, contract, packet_id, from_block=kept.block or 0)
    with _messenger(key) as m:
        sent = m.send_each(destination, lambda recipient, _index: payload(plan, recipient, report.total))
    data = {"packet_id": kept.packet_id, "conversation": sent.conversation, "recipients": list(sent.envelope_ids)}
    emit(
        as_json, data, lambda: click.echo(f"sent packet {kept.packet_id[:10]} to {len(sent.envelope_ids)} recipient(s)")
    )
