"""`hongbao request ...` (payment requests and split bills) and `hongbao pay REQUEST_ID`.

The work is in cli/services/requests.py; paying goes through `send` (cli/money_cmd.py).
"""

from __future__ import annotations

import contextlib
import time
from datetime import datetime

import click

from wallet.errors import WalletError

from .chat_cmd import _amount, account_options
from .context import network, network_option
from .inert import markup
from .output import console, emit, table
from .services.requests import amount_units, chain_verifier, view_json


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


@contextlib.contextmanager
def _unlocked(wallet_name, index, password_file):
    """(key, Messenger) of the account, unlocked once: from the unlock session, else with the
    password; either way with the signing guards armed (`pay` signs with this key)."""
    from .click_frontend import ClickFrontend
    from .context import sending_account
    from .services import chat

    sending_account(wallet_name, index)  # a watch-only account cannot send
    frontend = ClickFrontend(password_file)
    key = chat.account_key(wallet_name, index, frontend)
    with chat.open_messenger(wallet_name, index, frontend, key) as messenger:
        yield key, messenger


def _labels(messenger) -> dict[str, str]:
    """address or group:<id> -> how to show it (a contact's or group's name, with the
    address or id for a name anyone may choose)."""
    from messaging.store import GROUP_PREFIX

    from .chat_cmd import names_of

    labels = {a: f"{name} ({a})" if a != messenger.address else name for a, name in names_of(messenger).items()}
    for group in messenger.store.groups():
        labels[GROUP_PREFIX + group.id] = f"{group.name} ({GROUP_PREFIX}{group.id})"
    return labels


def _service(messenger):
    from .services.requests import Requests

    return Requests(messenger, _now_ms)


def _when(ms: int | None) -> str:
    return "never" if ms is None else datetime.fromtimestamp(ms / 1000).strftime("%Y-%m-%d %H:%M")


class _RequestGroup(click.Group):
    """`request bob "0.5 ETH"` (no subcommand) means `request ask bob "0.5 ETH"`."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["ask", *args]
        return super().parse_args(ctx, args)


@click.group(cls=_RequestGroup)
def request() -> None:
    """Payment requests and split bills.

    \b
    hongbao request bob "0.5 ETH" --note dinner [--expires 7d]
    hongbao request --split family "120 TKN" [--exclude-me] [--shares alice=2,bob=1]
    hongbao request --uri 0xYOURADDRESS "0.5 ETH"   (a link and QR code for anyone)
    hongbao request list | status ID | decline ID;  hongbao pay ID
    """


@request.command("ask")
@click.argument("words", nargs=-1, required=True)
@click.option("--note", default="", help="What it is for (shown to them).")
@click.option("--expires", default="7d", show_default=True, help="How long it can be paid: 30m, 12h, 7d, 2w.")
@click.option("--split", "split_group", metavar="GROUP", help="Ask each member of GROUP for their share.")
@click.option("--exclude-me", is_flag=True, help="With --split: I take no share of the bill.")
@click.option("--shares", help="With --split: weights, e.g. alice=2,bob=1 (members not named owe nothing).")
@click.option("--uri", "uri_address", metavar="ADDRESS", help="Print an EIP-681 link and QR code paying ADDRESS.")
@network_option
@account_options
def ask(
    words,
    note,
    expires,
    split_group,
    exclude_me,
    shares,
    uri_address,
    network_name,
    wallet_name,
    index,
    password_file,
    as_json,
):
    """Ask WHO for AMOUNT: `request bob "0.5 ETH"`; or `--split GROUP AMOUNT`; or `--uri ADDRESS AMOUNT`."""
    from .services import requests as service

    alone = split_group is not None or uri_address is not None
    if split_group is not None and uri_address is not None:
        raise WalletError("choose --split or --uri, not both")
    if len(words) != (1 if alone else 2):
        raise WalletError(
            'give the amount only, e.g. `request --split family "120 TKN"`'
            if alone
            else 'give who and how much, e.g. `hongbao request bob "0.5 ETH"`'
        )
    if (exclude_me or shares) and split_group is None:
        raise WalletError("--exclude-me and --shares go with --split GROUP")
    units, token, chain_id = amount_units(words[-1], network_name)
    if uri_address is not None:
        return _uri(uri_address, units, token, chain_id, as_json)
    lifetime = service.parse_duration(expires)
    weights = service.parse_shares(shares) if shares else ()
    with _unlocked(wallet_name, index, password_file) as (_key, messenger):
        requests = _service(messenger)
        if split_group is not None:
            sent_request, sent = requests.split_bill(
                split_group, units, token, chain_id, note, lifetime, exclude_me=exclude_me, weights=weights
            )
        else:
            sent_request, sent = requests.ask(words[0], units, token, chain_id, note, lifetime)
    data = service.asked_json(sent_request, sent, units, token, chain_id)
    emit(as_json, data, lambda: _asked(data, split_group or words[0], bool(split_group)))


def _asked(data: dict, who: str, split: bool) -> None:
    what = _amount(data["amount"], data["token"], data["chain_id"])
    click.echo(data["id"])
    out = console(stderr=True)
    if split:
        out.print(f"asked {len(data['shares'])} members of {markup(who)} for their share of {what}")
        for share in data["shares"]:
            out.print(f"  {share['address']}: {_amount(share['owed'], data['token'], data['chain_id'])}")
        for member, why in data["skipped"].items():
            out.print(f"[yellow]not reached: {member} ({markup(why)})[/]")
    else:
        out.print(f"asked {markup(who)} for {what} (expires {_when(data['expires_ms'])})")
    out.print(f"follow it with `hongbao request status {data['id']}`")


def _uri(address: str, units: int, token: str | None, chain_id: int, as_json: bool) -> None:
    from wallet import address as addr

    from .services.requests import eip681

    link = eip681(addr.parse(address), chain_id, units, token)
    if as_json:
        emit(True, {"uri": link, "address": addr.parse(address), "amount": str(units), "token": token})
        return
    import segno

    click.echo(link)
    segno.make(link, error="m").terminal(compact=True, border=2)


@request.command("list")
@network_option
@account_options
def list_requests(network_name, wallet_name, index, password_file, as_json):
    """Requests sent and received, with their state (open, paid, expired, declined)."""
    with _unlocked(wallet_name, index, password_file) as (_key, messenger):
        views = _service(messenger).views(chain_verifier(messenger.address))
        labels = _labels(messenger)
    emit(
        as_json,
        [view_json(v) for v in views],
        lambda: table(
            "payment requests",
            ["id", "", "with", "amount", "note", "state", "expires"],
            [
                [
                    v.request_id,
                    "→ sent" if v.direction == "sent" else "← received",
                    labels.get(v.conversation, v.conversation),
                    _amount(
                        str(v.owed) if v.owed is not None else v.request.amount, v.request.token, v.request.chain_id
                    ),
                    v.request.note,
                    v.state
                    + (
                        f" ({sum(m.state == 'paid' for m in v.members)} of {len(v.members)} paid)"
                        if len(v.members) > 1
                        else ""
                    ),
                    _when(v.request.expires_ms),
                ]
                for v in views
            ],
        ),
    )


@request.command("status")
@click.argument("request_id")
@network_option
@account_options
def status(request_id, network_name, wallet_name, index, password_file, as_json):
    """Who has paid request REQUEST_ID (each payment checked against the chain)."""
    with _unlocked(wallet_name, index, password_file) as (_key, messenger):
        view = _service(messenger).find(request_id, chain_verifier(messenger.address))
        labels = _labels(messenger)

    def human() -> None:
        request_ = view.request
        total = _amount(request_.amount, request_.token, request_.chain_id)
        console().print(f"request {view.request_id} ({view.direction}): {total}, {view.state}")
        if view.members:
            table(
                None,
                ["member", "share", "state", "tx / why not"],
                [
                    [
                        labels.get(m.address, m.address),
                        _amount(str(m.owed), request_.token, request_.chain_id),
                        m.state,
                        m.tx_hash or m.reason,
                    ]
                    for m in view.members
                ],
            )
            owing = [labels.get(m.address, m.address) for m in view.members if m.state != "paid"]
            console().print("still owes: " + (markup(", ".join(owing)) if owing else "nobody"))

    emit(as_json, view_json(view), human)


@request.command("decline")
@click.argument("request_id")
@click.option("--from", "requester", metavar="ADDRESS", help="Whose request, if a copy carries the same id.")
@account_options
def decline(request_id, requester, wallet_name, index, password_file, as_json):
    """Tell the requester you will not pay REQUEST_ID."""
    with _unlocked(wallet_name, index, password_file) as (_key, messenger):
        view = _service(messenger).decline(request_id, requester)
    emit(as_json, {"id": view.request_id, "state": "declined"}, lambda: click.echo(f"declined {view.request_id}"))


@click.command()
@click.argument("request_id")
@click.option("--from", "requester", metavar="ADDRESS", help="Whose request, if a copy carries the same id.")
@network_option
@click.option("--yes", "-y", is_flag=True, help="Don't ask for confirmation.")
@click.option("--timeout", type=click.FloatRange(min=1), default=120, show_default=True)
@account_options
def pay(request_id, requester, network_name, yes, timeout, wallet_name, index, password_file, as_json):
    """Pay REQUEST_ID (see `hongbao request list`) as `send` does: simulated, shown and
    confirmed first, then a payment notice naming the request. Refused if it is paid,
    declined or expired already."""
    from .click_frontend import ClickFrontend
    from .money_cmd import report_paid
    from .services import payments
    from .services.requests import payment_for
    from .services.signing import Fees

    with _unlocked(wallet_name, index, password_file) as (key, messenger):
        view = _service(messenger).payable(request_id, requester)
    payment = payment_for(view, network(network_name))
    if not as_json:
        console(stderr=True).print(
            f"paying request {view.request_id} from {markup(view.requester)}: {payment.amount}"
            + (f" “{markup(payment.note)}”" if payment.note else "")
        )
    paid = payments.pay(
        payment,
        ClickFrontend(password_file, yes=yes, quiet=as_json),
        wallet_name=wallet_name,
        index=index,
        network_name=network_name,
        fees=Fees(timeout=timeout),
        key=key,
    )
    report_paid(paid, as_json)
