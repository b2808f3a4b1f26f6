"""`hongbao tx speed-up|cancel|list|show`: our transactions after they are sent."""

from __future__ import annotations

import click

from .context import network_option
from .money_cmd import allow_risky_option, no_wait_option, timeout_option, yes_option
from .output import json_option
from .txview import report_sent
from .wallet_cmd import password_file_option


@click.group()
def tx() -> None:
    """Transactions: list, show, speed-up, cancel."""


def _replacement_command(name: str, cancel: bool, help_text: str) -> None:
    @tx.command(name, help=help_text)
    @click.argument("tx_hash", metavar="HASH")
    @network_option
    @no_wait_option
    @yes_option
    @timeout_option
    @allow_risky_option
    @password_file_option
    @json_option
    def command(tx_hash, network_name, no_wait, yes, timeout, allow_risky, password_file, as_json):
        from .click_frontend import ClickFrontend
        from .services.replacements import replace

        sent = replace(
            tx_hash,
            ClickFrontend(password_file, yes=yes, quiet=as_json, allow_risky=allow_risky),
            cancel=cancel,
            network_name=network_name,
            timeout=timeout,
            wait=not no_wait,
        )
        report_sent(as_json, sent.record, sent.receipt, sent.link)


_replacement_command(
    "speed-up",
    False,
    "Resend a pending transaction with the same nonce and higher fees (previewed and reviewed like a send).",
)
_replacement_command(
    "cancel", True, "Cancel a pending transaction: a 0 ETH transfer to yourself with its nonce and higher fees."
)


def _attach_history_commands() -> None:
    from .history_cmd import tx_list, tx_show

    tx.add_command(tx_list, "list")
    tx.add_command(tx_show, "show")


_attach_history_commands()
