"""The few things only a front end can do for a workflow: confirm, unlock, report progress."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from wallet.keyring import UnlockedWallet, Wallet


@dataclass(frozen=True)
class Preview:
    """What a person is asked to approve: a title (the question, e.g. "Create the packet?"),
    labelled rows, and warnings that need a second look. A transaction's preview also has
    `tx`, the wallet.transfers.Prepared transaction (decoded call, value, fees, simulation:
    see cli/txview.py's preview_json), and its `network`'s name; its warnings are in
    `warnings` too. `findings`: the local security rules' (wallet.security_rules.Finding,
    about `recipient`): one with `confirm` set needs its own explicit consent."""

    title: str
    rows: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    tx: Any = None
    network: str | None = None
    findings: list[Any] = field(default_factory=list)
    recipient: str | None = None


class Frontend(Protocol):
    def confirm(self, preview: Preview) -> None:
        """Show the preview and return if the person approves; raise WalletError("not confirmed ...") if not."""

    def password(self, label: str) -> str:
        """A secret from the person (prompt, environment or file, as the front end allows)."""

    def progress(self, text: str) -> None:
        """A step of a long wait, for the person to see."""

    def unlock(self, wallet: Wallet) -> UnlockedWallet:
        """`wallet` unlocked: the unlock session's copy when one holds it, else with the
        person's password (the CLI: cli/click_frontend.py; see `unlock_with` for others)."""

    # Optional: wait_for_receipt(chain, tx_hash, history, timeout) -> receipt, to draw the
    # wait its own way (signing.wait falls back on progress reports).


def unlock_with(wallet: Wallet, password: Callable[[], str]) -> UnlockedWallet:
    """For a front end's `unlock`: cli.wallets.unlock_armed with `password()` (asked only
    when the unlock session does not hold `wallet`): the same session rules as the CLI's."""
    from ..wallets import unlock_armed

    return unlock_armed(wallet, lambda: wallet.unlock(password()))
