"""`hongbao tx speed-up|cancel|list|show`: our transactions after they are sent."""

from __future__ import annotations

import click

from .context import chain as connect
from .context import confirm, history, network, network_option, nonce_lock_path
from .money_cmd import no_wait_option, timeout_option, yes_option
from .output import json_option
from .txview import report_sent, show_preview, wait_with_progress
from .wallet_cmd import password_file_option
from .wallets import store, unlock_wallet


@click.group()
def tx() -> None:
    """Transactions: list, show, speed-up, cancel."""


def _replace(tx_hash: str, cancel: bool, network_name, no_wait, yes, timeout, password_file, as_json) -> None:
    from wallet import transfers
    from wallet.errors import WalletError

    net = network(network_name)
    chain = connect(network_name)
    log = history()
    prepared, nonce, original = transfers.replacement(chain, log, tx_hash, cancel=cancel)
    sender = prepared.draft.sender
    owner = next(
        (
            (w, a)
            for w in (store().open(n) for n in store().names())
            for a in w.accounts
            if a.address == sender and a.kind != "watch"
        ),
        None,
    )
    if owner is None:
        raise WalletError(f"no wallet here holds the key of {sender}")
    wallet, account = owner
    if not as_json:
        show_preview(prepared, net.name)
        click.echo(
            f"replaces {original} (nonce {nonce}) with higher fees"
            + (" by a 0 ETH transfer to yourself" if cancel else ""),
            err=True,
        )
    if as_json and not yes:
        raise WalletError("--json needs --yes (a script cannot answer the confirmation)")
    confirm(yes, "Sign and send the replacement?")
    key = unlock_wallet(wallet, password_file).private_key(account.index)
    record = transfers.send(chain, prepared, key, log, lock_path=nonce_lock_path(), nonce=nonce, replaces=original)
    receipt = None if no_wait else wait_with_progress(chain, record.hash, log, timeout, as_json)
    report_sent(as_json, record, receipt, net.explorer_link(record.hash))


def _replacement_command(name: str, cancel: bool, help_text: str) -> None:
    @tx.command(name, help=help_text)
    @click.argument("tx_hash", metavar="HASH")
    @network_option
    @no_wait_option
    @yes_option
    @timeout_option
    @password_file_option
    @json_option
    def command(tx_hash, network_name, no_wait, yes, timeout, password_file, as_json):
        _replace(tx_hash, cancel, network_name, no_wait, yes, timeout, password_file, as_json)


_replacement_command("speed-up", False, "Resend a pending transaction with the same nonce and higher fees.")
_replacement_command(
    "cancel", True, "Cancel a pending transaction: a 0 ETH transfer to yourself with its nonce and higher fees."
)


def _attach_history_commands() -> None:
    from .history_cmd import tx_list, tx_show

    tx.add_command(tx_list, "list")
    tx.add_command(tx_show, "show")


_attach_history_commands()
