"""Which wallet a command means, and unlocking it: what commands, services and the app
share (the `--wallet` and `--password-file` options themselves are in wallet_cmd)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from wallet import keyring
from wallet.errors import WalletError
from wallet.home import home

from . import secrets


def store() -> keyring.WalletStore:
    return keyring.WalletStore(home())


def pick_name(name: str | None, *, creating: bool = False) -> str:
    if name:
        return keyring.check_name(name)
    if not creating:
        names = store().names()
        if keyring.DEFAULT_WALLET not in names and len(names) == 1:
            return names[0]
    return keyring.DEFAULT_WALLET


def open_wallet(name: str | None) -> keyring.Wallet:
    return store().open(pick_name(name))


def unlock(name: str | None, password_file: Path | None) -> keyring.UnlockedWallet:
    return unlock_wallet(open_wallet(name), password_file)


def unlock_wallet(wallet: keyring.Wallet, password_file: Path | None) -> keyring.UnlockedWallet:
    """The one way commands get an unlocked wallet: from the unlock session when this
    command runs in it (cli/agent.py), else with the password (three tries at a prompt,
    or the file's)."""
    return unlock_armed(
        wallet, lambda: secrets.with_password(password_file, wallet.unlock), asked=password_file is None
    )


def unlock_armed(
    wallet: keyring.Wallet, with_password: Callable[[], keyring.UnlockedWallet], *, asked: bool = True
) -> keyring.UnlockedWallet:
    """`wallet` unlocked for every front end: the unlock session's copy when it holds this
    wallet, else `with_password()` (asked only then). Refused while a session holds another
    wallet and the password would be `asked` for (not from a file), or when the wallet gained
    accounts since the session began. Armed with the checks every signature goes through (the
    session's spend limit, the daily limit's second factor: cli/guards.py)."""
    from . import agent, guards

    held = agent.held(wallet.name)
    if held is None and asked and agent.SESSION is not None and agent.in_session():
        raise WalletError(
            f"the unlock session holds wallet {agent.SESSION.wallet.wallet.name!r}, not {wallet.name!r}: "
            f"run `hongbao lock`, or `hongbao unlock --wallet {wallet.name}`"
        )
    if held is not None and [a.address for a in held.accounts] != [a.address for a in wallet.accounts]:
        raise WalletError(
            f"wallet {wallet.name!r} changed since `hongbao unlock` (accounts added?): run `hongbao lock`, then unlock again"
        )
    unlocked = held if held is not None else with_password()
    guards.install(unlocked)
    return unlocked


def addresses(wallet_name: str | None = None, *, required: bool = True) -> list[str]:
    """The addresses of wallet `wallet_name`'s accounts (every wallet's by default, watch-only
    ones too), sorted: whose history, transfers and NFTs the listings look at. None at all is
    a WalletError when `required`."""
    wallets = (
        [store().open(keyring.check_name(wallet_name))] if wallet_name else [store().open(n) for n in store().names()]
    )
    found = sorted({a.address for w in wallets for a in w.accounts})
    if not found and required:
        raise WalletError(
            "no accounts: create a wallet (`hongbao wallet create`) or watch an address (`hongbao wallet import --watch ADDRESS`)"
        )
    return found
