"""`hongbao app [--web [--port N]]`: parse, then run the screen (ui.py) or serve it (web.py)."""

from __future__ import annotations

from pathlib import Path

import click

from ..context import network_option
from ..wallet_cmd import index_option, password_file_option, wallet_option


@click.command()
@click.option("--web", is_flag=True, help="Serve the app to a browser on 127.0.0.1 (a token in the URL guards it).")
@click.option(
    "--port", type=click.IntRange(min=0, max=65535), default=0, help="With --web: the port (default: a free one)."
)
@wallet_option
@index_option
@password_file_option
@network_option
def app(web, port, wallet_name, index, password_file, network_name):
    """The live chat wallet, full screen: conversations, red packets, payments and alerts
    as they arrive (press ? for the keys)."""
    if web:
        from .web import serve

        serve(port, wallet_name, index, password_file, network_name)
        return
    run(wallet_name, index, password_file, network_name)


def run(wallet_name: str | None, index: int, password_file: Path | None, network_name: str | None) -> None:
    from wallet.home import home

    from . import account
    from .ui import HongbaoApp

    def connect(key: bytes):
        from messaging.chat import Messenger

        return Messenger.open(home(), key)

    screen = HongbaoApp(
        connect,
        account.key_without_prompt(wallet_name, index, password_file),
        lambda password: account.key_with_password(wallet_name, index, password),
        wallet=(wallet_name, index, network_name),
    )
    screen.run()
