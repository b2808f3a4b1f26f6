"""The CLI's `Frontend` (cli/services/frontend.py): prompts on the terminal, passwords from
--password-file / $HONGBAO_PASSWORD / a hidden prompt, previews and notes on stderr."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .inert import markup
from .output import note

if TYPE_CHECKING:
    from wallet.keyring import UnlockedWallet, Wallet

    from .services.frontend import Preview


@dataclass
class ClickFrontend:
    password_file: Path | None = None
    yes: bool = False  # --yes: the preview is shown, the question is not asked
    quiet: bool = False  # --json: no progress notes

    def confirm(self, preview: Preview) -> None:
        from rich.table import Table
        from rich.text import Text

        from .context import confirm
        from .output import console

        out = console(stderr=True)
        out.print(Text(preview.title, style="bold"))
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold")
        grid.add_column()
        for label, value in preview.rows:
            grid.add_row(Text(label), Text(value))  # values often hold others' strings: never markup
        out.print(grid)
        for warning in preview.warnings:
            out.print(Text.assemble((" WARNING ", "bold red on white"), " ", (warning, "bold red")))
        confirm(self.yes)

    def password(self, label: str) -> str:
        from . import secrets

        return secrets.obtain(what="password", env=secrets.PASSWORD_ENV, file=self.password_file, label=label)

    def progress(self, text: str) -> None:
        if not self.quiet:
            note(markup(text))

    def unlock(self, wallet: Wallet) -> UnlockedWallet:
        from .wallet_cmd import unlock_wallet

        return unlock_wallet(wallet, self.password_file)
