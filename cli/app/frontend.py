"""The app's `Frontend` (cli/services/frontend.py): a workflow running on the live thread
asks the screen, and waits for the answer. Previews are the services' own (the same rows,
transaction and warnings as the CLI's), drawn in a modal; the password in a masked one
(unless the unlock session or HONGBAO_PASSWORD gives it); progress as notifications."""

from __future__ import annotations

import concurrent.futures
import os
from typing import TYPE_CHECKING, Any

from wallet.errors import WalletError

from ..inert import inert
from ..services.frontend import Preview, unlock_with

if TYPE_CHECKING:
    from wallet.keyring import UnlockedWallet, Wallet


def with_tx(preview: Preview) -> Preview:
    """The preview with its transaction as rows (cli/txview.py's preview_json: what the CLI
    draws below the rows), so the modal shows what will be signed."""
    if preview.tx is None:
        return preview
    from wallet import amounts

    from ..txview import preview_json

    tx = preview_json(preview.tx)
    rows = [*preview.rows, ("network", f"{preview.network or ''} (chain id {preview.tx.chain_id})")]
    rows += [("from", tx["from"]), ("to", str(tx["to"]))]
    if "call" in tx:
        args = ", ".join(f"{k}={v}" for k, v in tx["call"]["args"].items())
        rows.append(("call", f"{tx['call']['function']}({args})"))
    rows.append(("value", amounts.eth(int(tx["value"]))))
    if "token" in tx:
        rows.append(("token", f"{tx['token']['amount']} base units of {tx['token']['symbol']}"))
    rows.append(("fee", f"~{amounts.eth(int(tx['expected_fee']))} (at most {amounts.eth(int(tx['max_fee']))})"))
    rows.append(("balance", amounts.eth(int(tx["balance"]))))
    findings = [f"{f.rule}: {f.message}" for f in preview.findings]
    warnings = list(dict.fromkeys([*preview.warnings, *tx["warnings"], *findings]))
    return Preview(preview.title, rows, warnings, preview.tx, preview.network, preview.findings, preview.recipient)


class AppFrontend:
    def __init__(self, app: Any) -> None:
        self.app = app

    def _ask(self, screen: Any) -> Any:
        """Push `screen` from this (non-screen) thread and wait for its answer."""
        answer: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self.app.call_from_thread(self.app.push_screen, screen, answer.set_result)
        return answer.result()

    def confirm(self, preview: Preview) -> None:
        from .modals import AskScreen, ConfirmScreen

        if not self._ask(ConfirmScreen(with_tx(preview), buttons=True)):
            raise WalletError("not confirmed; nothing was sent")
        if any(f.confirm for f in preview.findings):  # as the CLI: a dangerous finding needs its own yes
            typed = self._ask(AskScreen("A security rule flags this send. Type risky to send anyway:"))
            if typed != "risky":
                raise WalletError("not confirmed (the security warning was not accepted); nothing was sent")

    def password(self, label: str) -> str:
        from ..secrets import PASSWORD_ENV
        from .modals import AskScreen

        if PASSWORD_ENV in os.environ:
            return os.environ[PASSWORD_ENV]
        value = self._ask(AskScreen(label, password=True))
        if not value:
            raise WalletError("no password given; nothing was sent")
        return str(value)

    def progress(self, text: str) -> None:
        self.app.call_from_thread(self.app.notify, inert(text), markup=False)

    def unlock(self, wallet: Wallet) -> UnlockedWallet:
        return unlock_with(wallet, lambda: self.password("Wallet password"))
