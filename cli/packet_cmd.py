"""`hongbao packet ...`: red packets in chats: create, list, claim, submit, info, refund, resend.

The work is in contracts/flows.py (plans, reads, tickets, checks) and messaging/chat.py
(recipients, delivery, the message store); this file parses, previews, asks, renders.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import click

from wallet.amounts import ETH_DECIMALS, format_units
from wallet.errors import WalletError

from .click_frontend import ClickFrontend, grid
from .context import chain as connect
from .context import network_option, sending_account
from .inert import markup
from .money_cmd import max_fee_option, speed_option, timeout_option, tip_option, yes_option
from .output import emit, json_option, note, table
from .services.packet_claim import parse_account
from .services.packet_create import parse_duration, payload
from .services.packet_views import mine
from .services.signing import Fees
from .wallet_cmd import index_option, password_file_option, wallet_option
from .wallets import open_wallet

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
            from .wallets import unlock_wallet

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


def _frontend(tx: dict) -> ClickFrontend:
    """The CLI's front end from the transaction options (--json needs --yes)."""
    if tx["as_json"] and not tx["yes"]:
        raise WalletError("--json needs --yes (a script cannot answer the confirmation)")
    return ClickFrontend(tx["password_file"], yes=tx["yes"], quiet=tx["as_json"])


def _fees(tx: dict) -> Fees:
    return Fees(tx["speed"], tx["max_fee"], tx["tip"], tx["timeout"])


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
def create(to, amount, token, shares, random, expires, greeting, theme, open_packet, deposit, wallet_name, index, **tx):
    """Create a red packet on chain and hand it out in a chat (or print an open claim code).

    ERC-20 packets approve the exact total first (a second transaction, previewed too).
    """
    from .services import packet_create as service

    order = service.Order(amount, to, token, shares, random, expires, greeting, theme, open_packet, deposit)
    net = {"wallet_name": wallet_name, "index": index, "network_name": tx["network_name"]}
    created = service.create(order, _frontend(tx), **net, fees=_fees(tx))
    data = created.data
    emit(tx["as_json"], data, lambda: _show_created(created))
    if created.delivery_error is not None:
        raise WalletError(
            f"the packet is on chain ({data['packet_id']}) but the chat messages were not sent ({created.delivery_error}); send them with `hongbao packet resend {data['packet_id'][:10]}`"
        )


def _show_created(created) -> None:
    data = created.data
    click.echo(data["packet_id"])
    if created.code is not None:
        click.echo(created.code)
        note("anyone holding this code can claim a share: share it like cash")
    if created.sent is not None:
        note(f"sent to {markup(created.to_name)}: {len(created.sent['recipients'])} recipient(s)")
    note(f"created in block {data['block']}; follow it with `hongbao packet info {data['packet_id'][:10]}`")


# -- finding packets -----------------------------------------------------------------------


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
    from .services.packet_views import received

    wallet, account = sending_account(wallet_name, index)
    rows, served = received(
        lambda: Unlocker(password_file).key(wallet, index),
        fetch=not no_fetch,
        wallet_name=wallet_name,
        index=index,
        network_name=network_name,
    )
    for event in served:
        note(markup(event["text"]))

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
def claim(packet_ref, code_source, submit_from, export, wallet_name, index, **tx):
    """Claim your share: ID is a packet received in a chat (or an id prefix); an open
    packet's claim code is read with --code FILE or --code - (stdin).

    The claim is a signature anyone may submit, paying the share to you. With ETH for gas
    your account sends it. Without, it is sent over the encrypted chat to the packet's
    creator, whose `chat watch` (or next receiving command) submits it, reimbursed from the
    packet's gas deposit; or --submit-from another local account, or --export the ticket.
    """
    from .services import packet_claim as service

    service.check_source(packet_ref, code_source is not None)
    frontend = ClickFrontend(tx["password_file"], yes=tx["yes"], quiet=tx["as_json"]) if export else _frontend(tx)
    claimed = service.claim(
        frontend,
        packet=packet_ref,
        code=None if code_source is None else _read_code(code_source),
        submit_from=submit_from,
        export=export,
        wallet_name=wallet_name,
        index=index,
        network_name=tx["network_name"],
        fees=_fees(tx),
        keys=Unlocker(tx["password_file"]),
    )
    emit(tx["as_json"], claimed.data, lambda: _show_claimed(claimed))


def _show_claimed(claimed) -> None:
    from .services.packets import CLAIM_SENT

    data = claimed.data
    if claimed.how == "exported":
        click.echo(data["ticket"])
        note(f"anyone can submit this (`hongbao packet submit TICKET`); the share goes only to {data['recipient']}")
    elif claimed.how == "requested":
        click.echo(CLAIM_SENT)
    else:
        click.echo(f"claimed {data['formatted']} (tx {data['tx']})")
        if data["submitter"] != data["recipient"]:
            back = int(data["reimbursed"])
            note(
                f"submitted by {data['submitter']}"
                + (f", reimbursed {format_units(back, ETH_DECIMALS)} ETH from the packet's deposit" if back else "")
            )


@packet.command()
@click.argument("ticket_text", metavar="TICKET")
@wallet_option
@index_option
@with_tx_options
def submit(ticket_text, wallet_name, index, **tx):
    """Submit someone's claim ticket (from `packet claim --export`) from your account: you
    pay the gas (reimbursed from the packet's deposit, if it has one); the share goes to
    the ticket's recipient, never to you."""
    from .services.packet_claim import submit_ticket

    keys = Unlocker(tx["password_file"])
    where = {"wallet_name": wallet_name, "index": index, "network_name": tx["network_name"]}
    data = submit_ticket(ticket_text, _frontend(tx), keys, _fees(tx), **where)
    emit(
        tx["as_json"],
        data,
        lambda: click.echo(f"claimed {data['formatted']} for {data['recipient']} (tx {data['tx']})"),
    )


# -- info / refund / resend ---------------------------------------------------------------


@packet.command()
@click.argument("packet_ref", metavar="ID")
@network_option
@json_option
def info(packet_ref, network_name, as_json):
    """Who claimed how much (from the contract's events), what is left, the expiry. ID: a
    full packet id, or a prefix of a packet created here (never a claim code: it is a key)."""
    from .services.packet_views import info as read_info

    shown = read_info(packet_ref, network_name)

    def human() -> None:
        grid(shown.rows(), stderr=False)
        if shown.report.claims:
            table(None, ["recipient", "amount", "block", "submitted by"], shown.claim_rows())

    emit(as_json, shown.data, human)


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
def refund(packet_ref, wallet_name, index, **tx):
    """After expiry, take back what is left and the unused gas deposit (creator only)."""
    from .services.packet_refund import refund as take_back

    where = {"wallet_name": wallet_name, "index": index, "network_name": tx["network_name"]}
    data = take_back(packet_ref, _frontend(tx), **where, fees=_fees(tx), keys=Unlocker(tx["password_file"]))
    deposit = int(data["deposit"])
    back = f" + {format_units(deposit, ETH_DECIMALS)} ETH deposit" if deposit else ""
    emit(tx["as_json"], data, lambda: click.echo(f"refunded {data['formatted']}{back} (tx {data['tx']})"))


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
    contract, packet_id, kept = mine(packet_ref, chain)
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
