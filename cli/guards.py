"""The checks every transaction this command signs goes through (wallet.transfers.GUARDS):
the unlock session's spend limit (cli/agent.py) and the second factor past the daily
limit (cli/security.py). Armed when a command obtains an unlocked wallet."""

from __future__ import annotations


def install() -> None:
    from wallet import transfers

    from . import agent

    for guard in (agent.spend,):
        if guard not in transfers.GUARDS:
            transfers.GUARDS.append(guard)
