"""The second factor at signing time (a wallet.transfers guard): when a transaction would
push today's outflow from the sending account past a daily limit (`hongbao security
limit`), it needs a TOTP code (`hongbao security totp enable`); without the second factor
set up, such a transaction is refused. A wrong code is refused and counted."""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any

import click

from wallet import second_factor
from wallet.errors import WalletError
from wallet.home import home

from .services.security import spent_today

if TYPE_CHECKING:
    from wallet.keyring import UnlockedWallet

CODE_ENV = "HONGBAO_TOTP_CODE"
CURRENT: list[UnlockedWallet] = []  # the wallet this command signs with (set by unlock_wallet)


def ask_code(question: str) -> str:
    from . import secrets

    if CODE_ENV in os.environ:
        return os.environ[CODE_ENV]
    if not secrets.interactive():
        raise WalletError(f"this needs a code from your authenticator app: run in a terminal or set {CODE_ENV}")
    return str(click.prompt(question, default="", show_default=False, err=True))


def verify(wallet: UnlockedWallet, settings: second_factor.Settings, why: str) -> None:
    """Ask for a code and check it (once per step: a code is never accepted twice)."""
    name = wallet.wallet.name
    secret = wallet.sealed_extra(second_factor.EXTRA)
    if secret is None:
        raise WalletError(
            "the second factor was turned on after this unlock session started: run `hongbao lock`, then try again"
        )
    code = ask_code(f"{why}. Code from your authenticator app")
    step = second_factor.accept(secret, code, time.time(), settings.last_step.get(name))
    fresh = second_factor.load(home())  # another command may have written meanwhile
    if step is None:
        fresh.wrong_codes += 1
        fresh.last_wrong_at = int(time.time())
        second_factor.save(home(), fresh)
        raise WalletError(f"wrong code; nothing was signed ({fresh.wrong_codes} wrong codes so far)")
    fresh.last_step[name] = step
    second_factor.save(home(), fresh)


def guard(chain_id: int, sender: str, tx: dict[str, Any]) -> None:
    from wallet import outflow

    from .context import history

    settings = second_factor.load(home())
    limits = settings.limits.get(str(chain_id))
    if not limits:
        return
    more = outflow.outflow(tx.get("to"), int(tx.get("value", 0)), bytes(tx.get("data", b"")))
    if not more:
        return
    now = time.time()
    over = outflow.Tally(outflow.day_of(now), spent_today(history(), chain_id, sender, now)).exceeded(limits, more)
    if not over:
        return
    shown = ", ".join(limit.shown for limit in over)
    wallet = next((w for w in reversed(CURRENT) if any(a.address == sender for a in w.accounts)), None)
    if wallet is None or wallet.wallet.name not in settings.totp_wallets:
        raise WalletError(
            f"this passes your daily limit ({shown}); nothing was signed: turn on the second factor "
            "(`hongbao security totp enable`) to allow it with a code, or wait until tomorrow (UTC)"
        )
    verify(wallet, settings, f"This passes your daily limit ({shown})")
