"""The checks every transaction this command signs goes through (wallet.transfers.GUARDS):
the unlock session's spend limit (cli/agent.py) and the second factor past the daily
limit (cli/second_factor.py). Armed when a command obtains an unlocked wallet."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from wallet.keyring import UnlockedWallet


def install(unlocked: UnlockedWallet) -> None:
    from wallet import transfers

    from . import agent, second_factor

    second_factor.CURRENT.append(unlocked)
    for guard in (second_factor.guard, agent.spend):
        if guard not in transfers.GUARDS:
            transfers.GUARDS.append(guard)
