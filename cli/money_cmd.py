"""`hongbao balance`, `hongbao send`, `hongbao faucet`."""

from __future__ import annotations

import click

from . import names
from .context import network_option
from .output import emit, json_option, table
from .txview import report_sent
from .wallet_cmd import index_option, password_file_option, wallet_option
from .wallets import open_wallet

speed_option = click.option(
    "--speed",
    type=click.Choice(["slow", "normal", "fast"]),
    default="normal",
    show_default=True,
    help="Fee level from recent blocks (eth_feeHistory).",
)
max_fee_option = click.option("--max-fee", "max_fee", help="Max fee per gas, in gwei (overrides --speed).")
tip_option = click.option("--tip", help="Priority fee per gas, in gwei.")
gas_option = click.option("--gas", type=click.IntRange(min=21000), help="Gas limit (default: estimated + 20%).")
no_wait_option = click.option("--no-wait", is_flag=True, help="Print the hash at once; don't wait for the receipt.")
yes_option = click.option("--yes", "-y", is_flag=True, help="Don't ask for confirmation.")
allow_risky_option = click.option(
    "--allow-risky",
    is_flag=True,
    help="With --yes: send even to a lookalike address or a token contract (see the security rules).",
)
timeout_option = click.option(
    "--timeout", type=click.FloatRange(min=1), default=120, show_default=True, help="Seconds to wait for the receipt."
)


@click.command()
@click.argument("address", required=False)
@wallet_option
@index_option
@network_option
@json_option
def balance(address, wallet_name, index, network_name, as_json):
    """ETH and token balances of ADDRESS (default: the wallet's account --index)."""
    from .services.balances import balances

    who = names.address(address) if address else open_wallet(wallet_name).account(index).address
    data = balances(who, network_name)
    rows = data["balances"]
    emit(
        as_json,
        data,
        lambda: table(
            f"{who} on {data['network']}", ["asset", "balance"], [[r["symbol"], r["formatted"]] for r in rows]
        ),
    )


@click.command()
@click.argument("to")
@click.argument("amount")
@click.argument("token", required=False)
@wallet_option
@index_option
@network_option
@speed_option
@max_fee_option
@tip_option
@gas_option
@no_wait_option
@yes_option
@timeout_option
@click.option("--notify", is_flag=True, help="After the receipt, tell the recipient in the chat (a payment notice).")
@click.option("--note", default="", help="A short note for the payment notice.")
@allow_risky_option
@password_file_option
@json_option
def send(
    to,
    amount,
    token,
    wallet_name,
    index,
    network_name,
    speed,
    max_fee,
    tip,
    gas,
    no_wait,
    yes,
    timeout,
    notify,
    note,
    allow_risky,
    password_file,
    as_json,
):
    """Send ETH or a token to TO (an address or a contact name): `send bob 1.5` (ETH),
    `send 0xTO "250 TKN"`, `send bob max`.

    The transaction is simulated and shown (decoded call, balance change, fee) before you
    confirm; only then is the wallet unlocked and the transaction signed.
    """
    from .click_frontend import ClickFrontend
    from .services import payments
    from .services.signing import Fees

    paid = payments.pay(
        payments.Payment(to, amount, token, notify, note, wait=not no_wait, gas=gas),
        ClickFrontend(password_file, yes=yes, quiet=as_json, allow_risky=allow_risky),
        wallet_name=wallet_name,
        index=index,
        network_name=network_name,
        fees=Fees(speed, max_fee, tip, timeout),
    )
    report_paid(paid, as_json)


def report_paid(paid, as_json: bool) -> None:
    """The transaction, and what became of its payment notice (a problem on stderr)."""
    _say_notice(paid.notice, paid.notice_problem)
    report_sent(as_json, paid.record, paid.receipt, paid.explorer_link, extra=paid.notice)


def _say_notice(notice: dict | None, problem: str | None) -> None:
    from .inert import markup
    from .output import note

    if notice is not None and problem is not None:
        note(markup(problem) if notice.get("notice") == "pending" else f"[yellow]{markup(problem)}[/]")


def _notify(key: bytes, recipient: str, record, receipt: dict, chain_id: int, note_text: str) -> dict:
    """A payment notice through the chat (`swap --notify`: cli/swap_cmd.py); the money has
    moved, so a problem is said on stderr and in the result, never raised."""
    from .services import payments

    notice, problem = payments.notify(key, recipient, record, receipt, chain_id, note_text, None)
    _say_notice(notice, problem)
    return notice


@click.command()
@click.argument("address")
@click.argument("amount")
@network_option
@no_wait_option
@json_option
def faucet(address, amount, network_name, no_wait, as_json):
    """Fund ADDRESS (or a contact) on the local network: `faucet bob 10` sends 10 ETH from
    anvil's first dev account; `faucet bob "100 TKN"` mints 100 of a test token
    (`hongbao token deploy-test`), whose mint is open to anyone."""
    from .click_frontend import ClickFrontend
    from .services.faucet import fund

    sent = fund(address, amount, ClickFrontend(quiet=as_json), network_name=network_name, wait=not no_wait)
    report_sent(as_json, sent.record, sent.receipt, sent.link)
