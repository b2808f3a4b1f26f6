"""Running a DeFi workflow's steps (cli/services/defi.py) through `Session`'s preview-simulate-confirm pipeline."""

from __future__ import annotations

from .defi_cmd import Sent, Session, _approval_json, _approve


def run_steps(session: Session, steps, approvals, warnings: list[str] | None = None) -> tuple[list[Sent], dict | None]:
    """The exact approvals first (one, a list, or None), then each step; each waits for the one
    before. Returns what was sent and the (last) approval as JSON."""
    approved = None
    if approvals is not None and not isinstance(approvals, list):
        approvals = [approvals]
    for approval in approvals or []:
        sent = _approve(session, approval.asset.token, approval.spender, approval.amount, must_wait=True)
        approved = _approval_json(approval.asset.token, approval.spender, approval.amount, sent)
    done: list[Sent] = []
    for i, step in enumerate(steps):
        last = i == len(steps) - 1
        chosen = session.opts["gas"]
        if chosen is None and step.headroom:
            session.opts["gas"] = _gas_with_headroom(session, step)
        try:
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
        finally:
            session.opts["gas"] = chosen
    return done, approved


def _gas_with_headroom(session: Session, step) -> int | None:
    """The estimate x 1.2 (as `send` allows) plus the step's headroom; None if it cannot be
    estimated (the pipeline's own simulation then says why)."""
    from .services.signing import gas_with_headroom

    return gas_with_headroom(session.chain.rpc, session.owner, step.to, step.data, step.value, step.headroom)


def reader(address: str | None, wallet_name: str | None, index: int, network_name: str | None):
    """(owner, network, protocols) for a read-only DeFi command: ADDRESS or the wallet's account."""
    from wallet import address as addr

    from .context import chain as connect
    from .context import network
    from .services import defi
    from .wallet_cmd import open_wallet

    owner = addr.parse(address) if address else open_wallet(wallet_name).account(index).address
    net = network(network_name)
    chain = connect(network_name)
    chain.verify()
    return owner, net, defi.protocols(net, chain.rpc)
