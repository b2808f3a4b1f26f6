"""What chain commands share: the config, the network, the history, the sending account."""

from __future__ import annotations

from pathlib import Path

import click

from wallet import config as config_mod
from wallet.errors import WalletError
from wallet.home import home

network_option = click.option(
    "--network",
    "network_name",
    envvar="HONGBAO_NETWORK",
    help="Network from config.toml (default: the one `hongbao network use` chose).",
)


def load_config() -> config_mod.Config:
    return config_mod.load(home())


def network(name: str | None) -> config_mod.Network:
    return load_config().current(name)


def chain(name: str | None):
    from wallet.chain import Chain

    return Chain.connect(network(name))


def history():
    from wallet.history import FILE, History

    return History(home() / FILE)


def nonce_lock_path() -> Path:
    return home() / "nonce.lock"


def sending_account(wallet_name: str | None, index: int):
    """The account that will sign, checked before any network or password work."""
    from .wallets import open_wallet

    wallet = open_wallet(wallet_name)
    account = wallet.account(index)
    if account.kind == "watch":
        raise WalletError(f"account {index} ({account.address}) is watch-only: it cannot send")
    return wallet, account


def confirm(yes: bool, question: str = "Sign and send?") -> None:
    from . import secrets

    if yes:
        return
    if not secrets.interactive():
        raise WalletError("this needs a confirmation: pass --yes (after checking the preview above)")
    if not click.confirm(question, default=False, err=True):
        raise WalletError("not confirmed; nothing was sent")
