"""The local security rules before signing (wallet/security_rules.py): the facts come
from cli/services/security.py; this shows the findings and asks for the extra
confirmation a dangerous one needs. Nothing is sent to a third party."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from wallet.errors import WalletError

if TYPE_CHECKING:
    from wallet.security_rules import Finding


def show(finding: Finding, recipient: str | None) -> None:
    from rich.text import Text

    from .output import console

    out = console(stderr=True)
    style = "bold red" if finding.confirm else "yellow"
    out.print(
        Text.assemble(
            (" CHECK " if not finding.confirm else " DANGER ", f"{style} reverse"), " ", (finding.message, style)
        ),
        soft_wrap=True,
    )
    if finding.imitates and recipient:
        from wallet.lookalike import differences

        for label, shown, other in (
            ("you typed", recipient, finding.imitates),
            ("you know", finding.imitates, recipient),
        ):
            line = Text(f"  {label:9} ")
            for run, differs in differences(shown, other):
                line.append(run, style="bold white on red" if differs else "dim")
            out.print(line, soft_wrap=True)


def confirm_findings(
    findings: list[Finding], recipient: str | None, *, yes: bool, allow: bool = False, quiet: bool = False
) -> None:
    """Show the findings (`quiet`: only those that stop or ask); a dangerous one needs its
    own confirmation: typing 'risky' (under --yes: `allow`, else refused)."""
    from . import secrets

    for finding in findings:
        if finding.confirm or not quiet:
            show(finding, recipient)
    for finding in findings:
        if not finding.confirm:
            continue
        if yes:
            if allow:
                continue
            raise WalletError(
                f"refused: {finding.message.split(':')[0]}; check the address, then pass --allow-risky to send anyway"
            )
        if not secrets.interactive():
            raise WalletError("this needs a confirmation: check the warning above")
        if click.prompt("Type 'risky' to go on anyway", default="", show_default=False, err=True).strip() != "risky":
            raise WalletError("not confirmed; nothing was sent")
