"""Where the CLI gets secrets: files, environment variables, or a hidden prompt.

Never argv (it shows up in `ps` and shell history). Nothing here prints a secret.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import click

from wallet.errors import WalletError, WrongPassword

T = TypeVar("T")

PASSWORD_ENV = "HONGBAO_PASSWORD"  # noqa: S105  the names of environment variables
NEW_PASSWORD_ENV = "HONGBAO_NEW_PASSWORD"  # noqa: S105
KEYSTORE_PASSWORD_ENV = "HONGBAO_KEYSTORE_PASSWORD"  # noqa: S105
PASSPHRASE_ENV = "HONGBAO_BIP39_PASSPHRASE"  # noqa: S105
MIN_PASSWORD = 8


def interactive() -> bool:
    return sys.stdin.isatty()


def read_secret_file(path: Path, what: str) -> str:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise WalletError(f"cannot read the {what} file {path}: {error.strerror}") from None
    except UnicodeDecodeError:
        raise WalletError(f"the {what} file {path} is not UTF-8 text") from None
    lines = text.splitlines()
    return lines[0] if lines else ""


TRIES = 3  # at a prompt, a mistyped password is asked again this many times in all


def _prompt(label: str, confirm: bool, check: Callable[[str], None] | None = None) -> str:
    from . import agent

    if agent.in_session():  # a command run by the unlock session has no terminal of its own to hide input on
        raise WalletError(f"{label}: the unlock session cannot ask for it; run `hongbao lock` first, or use a file")
    first = click.prompt(label, hide_input=True, default="", show_default=False)
    if check is not None:
        check(first)  # before the second prompt: nobody types a refused password twice
    if confirm and click.prompt(f"{label} (again)", hide_input=True, default="", show_default=False) != first:
        raise WalletError("the two entries differ; run the command again")
    return first


def obtain(
    *,
    what: str,
    env: str,
    file: Path | None,
    label: str,
    confirm: bool = False,
    fallback: str | None = None,
    check: Callable[[str], None] | None = None,
) -> str:
    """A secret from --*-file, then `env`, then a prompt (terminal only), then `fallback`."""
    if file is not None:
        return read_secret_file(file, what)
    if env in os.environ:
        return os.environ[env]
    if interactive():
        return _prompt(label, confirm, check)
    if fallback is not None:
        return fallback
    flag = what.replace(" ", "-")
    raise WalletError(f"no {what} given: set {env}, pass --{flag}-file, or run in a terminal")


def password(file: Path | None) -> str:
    value = obtain(what="password", env=PASSWORD_ENV, file=file, label="Wallet password")
    if not value:
        raise WalletError("the password is empty")
    return value


def with_password(file: Path | None, use: Callable[[str], T]) -> T:
    """`use(password)`; a wrong password typed at a prompt is asked again (TRIES in all).
    A wrong password from a file or the environment fails at once: asking again would not
    change it."""
    prompted = file is None and PASSWORD_ENV not in os.environ and interactive()
    for attempt in range(1, TRIES + 1):
        try:
            return use(password(file))
        except WrongPassword:
            if not prompted or attempt == TRIES:
                raise
            click.echo(f"wrong password; try again ({TRIES - attempt} left)", err=True)
    raise AssertionError("unreachable")


def _check_new(value: str) -> None:
    if len(value) < MIN_PASSWORD:
        raise WalletError(f"the new password is too short: use at least {MIN_PASSWORD} characters")


def new_password(
    file: Path | None, *, env: str = PASSWORD_ENV, what: str = "password", label: str = "New wallet password"
) -> str:
    value = obtain(what=what, env=env, file=file, label=label, confirm=True, check=_check_new)
    _check_new(value)
    return value


def bip39_passphrase(wanted: bool, file: Path | None) -> str:
    """The optional BIP39 passphrase ("25th word"): only when asked for."""
    if not wanted and file is None:
        return ""
    return obtain(what="passphrase", env=PASSPHRASE_ENV, file=file, label="BIP39 passphrase", confirm=True)


def mnemonic_input() -> str:
    """The recovery phrase: stdin when piped, else a hidden prompt."""
    if not interactive():
        text = sys.stdin.read()
    else:
        text = click.prompt("Recovery phrase (hidden)", hide_input=True, default="", show_default=False)
    if not text.strip():
        raise WalletError("no recovery phrase given: type it at the prompt or pipe it on stdin")
    return text
