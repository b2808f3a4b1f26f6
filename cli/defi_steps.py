"""Running a DeFi workflow's steps (cli/services/defi.py) through `Session`'s preview-simulate-confirm pipeline."""

from __future__ import annotations

from .defi_cmd import Sent, Session, _approval_json, _approve


def run_steps(session: Session, steps, approval, warnings: list[str] | None = None) -> tuple[list[Sent], dict | None]:
    """The exact approval first (if one is needed), then each step; each waits for the one before."""
    approved = None
    if approval is not None:
        sent = _approve(session, approval.asset.token, approval.spender, approval.amount, must_wait=True)
        approved = _approval_json(approval.asset.token, approval.spender, approval.amount, sent)
    done: list[Sent] = []
    for i, step in enumerate(steps):
        last = i == len(steps) - 1
        done.append(
            session.run(
                step.to,
                step.data,
                value=step.value,
                call=(step.function, step.args),
                warnings=warnings if last else None,
                summary=step.summary,
                must_wait=True,
            )
        )
    return done, approved


def session_hint(session: Session) -> str:
    return session.command_hint()
