"""The CLI's `Frontend` (cli/services/frontend.py): prompts on the terminal, passwords from
--password-file / $HONGBAO_PASSWORD / a hidden prompt, previews and notes on stderr."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import click

from wallet.errors import WalletError

from .inert import inert, markup
from .output import note

if TYPE_CHECKING:
    from wallet.chain import Chain
    from wallet.history import History
    from wallet.keyring import UnlockedWallet, Wallet

    from .services.frontend import Preview


@dataclass
class ClickFrontend:
    password_file: Path | None = None
    yes: bool = False  # --yes: the preview is shown, the question is not asked
    quiet: bool = False  # --json: no progress notes
    allow_risky: bool = False  # --allow-risky: under --yes, a dangerous finding does not stop it
    # each transaction once sent (the DeFi commands): "hash" on stdout and the outcome on
    # stderr, or only the "outcome" (stdout keeps a JSON result); None: the command reports
    report: Literal["hash", "outcome"] | None = None

    def confirm(self, preview: Preview) -> None:
        """The rows, then the decoded transaction (cli/txview.py), on stderr; then the
        security findings (a dangerous one asks for 'risky'), then the question
        (`preview.title`), unless --yes. Under --json only the warnings are said (`WARNING:`
        lines), and --yes is needed."""
        from .context import confirm
        from .security import confirm_findings

        if self.quiet and not self.yes:
            raise WalletError("--json needs --yes (a script cannot answer the confirmation)")
        if self.quiet:
            for warning in preview.warnings:  # a script's log keeps them
                click.echo(f"WARNING: {inert(warning)}", err=True)
        else:
            if preview.rows:
                grid(preview.rows)
            if preview.tx is not None:
                from .txview import show_preview

                show_preview(preview.tx, preview.network or "")  # its warnings too
            else:
                warn(preview.warnings)
        if preview.findings:
            confirm_findings(
                preview.findings, preview.recipient, yes=self.yes, allow=self.allow_risky, quiet=self.quiet
            )
        confirm(self.yes, preview.title)

    def sent(self, record: Any, receipt: dict | None, link: str | None) -> None:
        """For people, with `report`: the hash on stdout and the outcome on stderr as soon as known."""
        from .txview import describe_receipt, report_sent

        if self.quiet or self.report is None:
            return
        if self.report == "hash":
            report_sent(False, record, receipt, link)
        elif receipt is not None:
            click.echo(describe_receipt(receipt), err=True)

    def password(self, label: str) -> str:
        from . import secrets

        return secrets.obtain(what="password", env=secrets.PASSWORD_ENV, file=self.password_file, label=label)

    def progress(self, text: str) -> None:
        if not self.quiet:
            note(markup(text))

    def unlock(self, wallet: Wallet) -> UnlockedWallet:
        from .wallets import unlock_wallet

        return unlock_wallet(wallet, self.password_file)

    def wait_for_receipt(self, chain: Chain, tx_hash: str, history: History, timeout: float) -> dict:
        from .txview import wait_with_progress

        return wait_with_progress(chain, tx_hash, history, timeout, self.quiet)


def grid(rows: list[tuple[str, str]], *, stderr: bool = True) -> None:
    """Labelled rows (on stderr: a preview); the values are shown inert (they often hold others' strings)."""
    from rich.table import Table
    from rich.text import Text

    from .output import console

    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    for name, value in rows:
        table.add_row(name, Text(inert(value)))
    console(stderr=stderr).print(table)


def warn(warnings: list[str]) -> None:
    from rich.text import Text

    from .output import console

    for warning in warnings:
        console(stderr=True).print(Text.assemble((" WARNING ", "bold red on white"), " ", (inert(warning), "bold red")))
