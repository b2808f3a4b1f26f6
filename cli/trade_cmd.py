"""`hongbao trade`: peer-to-peer offers settled on Seaport (trade_offer_cmd) and shared
trades a group can follow (trade_follow_cmd). One click group, two modules of subcommands."""

from __future__ import annotations

import click

from cli import trade_follow_cmd, trade_offer_cmd


@click.group()
def trade() -> None:
    """Trade in chats: offers settled atomically on chain, shared trades to follow."""


for _module in (trade_offer_cmd, trade_follow_cmd):
    for _command in _module.COMMANDS:
        trade.add_command(_command)
